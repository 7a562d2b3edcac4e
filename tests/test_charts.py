"""`validate --charts` on the real charts of ../shared/charts: every check fires where it must and
stays quiet where it must not, on what helm really renders from the catalog's entries (varied
through the spec, as a user would), and a missing chart or helm is a coded error, never a skip."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from govstack_gen.cli import main
from helpers import CRDS, SANDBOX_COMMIT, SHARED, helm_binary

CHARTS = SHARED / "charts"

BASE = """\
apiVersion: govstack.dev/v1alpha2
kind: Environment
metadata: {name: probe}
platform: {type: k3s}
storage:
  backends:
    - {name: main, type: local, root: /srv/k8s-data, node: {labels: {storage-id: main-01}}}
ingress: {certResolvers: [letsencrypt], certResolver: letsencrypt}
gitops: {url: "https://git.example.org/gov/probe.git", engine: ENGINE}
stages: [{name: dev, domain: dev.example.org, sops: {age: [age1y432xsy8kt340n8ecm722ayg98vglrz0llkwd8nkpdgy0mz9395saxptqr]}}]
buildingBlocks:
"""


pytestmark = pytest.mark.usefixtures("chart_tools")


def spec(tmp_path: Path, blocks: str, engine: str = "flux") -> Path:
    path = tmp_path / "environment.yaml"
    path.write_text(BASE.replace("ENGINE", engine) + textwrap.indent(textwrap.dedent(blocks), "  "))
    return path


def validate(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["validate", str(path), "--crds", str(CRDS), "--charts", "--chart-dir", str(CHARTS), "--offline", "--format",
                 "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def codes(report: dict[str, Any]) -> list[str]:
    return sorted(d["code"] for d in report["errors"] + report["warnings"])


def messages(report: dict[str, Any], code: str) -> list[str]:
    return [d["message"] for d in report["errors"] + report["warnings"] if d["code"] == code]


MONITORING = "- {id: monitoring, catalog: {name: monitoring}}\n"
MESSAGING = "- {id: messaging, catalog: {name: messaging}}\n"
CACHE = "- {id: cache, catalog: {name: cache}}\n"


JMX = "docker.io/bitnami/jmx-exporter:0.19.0-debian-11-r95"
LEGACY_JMX = "docker.io/bitnamilegacy/jmx-exporter:0.19.0-debian-11-r95"  # where the messaging entry takes it from


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_monitoring_and_messaging_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str) -> None:
    """Their charts, with the catalog's values and messaging's influence on monitoring (a scrape
    job the chart writes into prometheus.yml), break no rule; the JMX exporter's image taken back
    from where Bitnami no longer serves it does."""
    code, report = validate(spec(tmp_path, MONITORING + MESSAGING, engine), capsys)
    assert (code, codes(report), report["chartReleases"]) == (0, [], 3)  # and k3s's Traefik, configured by the add-ons
    withdrawn = MESSAGING.replace("}}", "}, values: {metrics: {jmx: {image: {repository: bitnami/jmx-exporter}}}}}")
    code, report = validate(spec(tmp_path, MONITORING + withdrawn, engine), capsys)
    assert code == 1
    assert messages(report, "E729") == [f"messaging: StatefulSet/messaging-kafka-controller runs image '{JMX}', which Bitnami "
                                        "no longer serves there"]


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_kinds_the_reconciler_may_not_create(tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str) -> None:
    blocks = """\
    - id: monitoring
      catalog: {name: monitoring}
      values: {rbac: {create: true}, networkPolicy: {enabled: true}}
    """
    code, report = validate(spec(tmp_path, blocks, engine), capsys)
    found = messages(report, "E723")
    assert code == 1
    assert any("ClusterRole/monitoring-prometheus-server (rbac.authorization.k8s.io/v1), a cluster-wide kind" in m for m in found)
    assert any("ClusterRoleBinding/monitoring-prometheus-server" in m for m in found)
    refused = "the namespace's helm-reconciler Role may not create"
    if engine == "argocd":  # the AppProject's blacklist says so too
        refused += " and AppProject monitoring does not permit"
    assert f"monitoring: the chart renders NetworkPolicy/monitoring-prometheus-server (networking.k8s.io/v1), which {refused}" in found
    located = [d for d in report["errors"] if d["code"] == "E723"]
    assert {d["file"] for d in located} == {str(tmp_path / "environment.yaml")} and {d["line"] for d in located} == {13}


def test_pod_security(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The catalog's security contexts meet the restricted level; without them the chart's don't.
    code, report = validate(spec(tmp_path, CACHE), capsys)
    assert (code, codes(report)) == (0, [])
    plain = """\
    - id: cache
      catalog: {name: cache}
      values: {master: {podSecurityContext: {enabled: false}, containerSecurityContext: {enabled: false}}}
    """
    code, report = validate(spec(tmp_path, plain), capsys)
    assert code == 1 and codes(report) == ["E724"]
    (message,) = messages(report, "E724")
    assert message.startswith('cache: StatefulSet/cache-redis-master violates PodSecurity "restricted:v1.33": '
                              'allowPrivilegeEscalation != false (container "redis" must set')
    assert "seccompProfile" in message and "unrestricted capabilities" in message
    # The same pods meet baseline, which the spec can declare with its reason.
    baseline = plain + "  podSecurity: {level: baseline, reason: the chart's Redis container keeps its default capabilities}\n"
    code, report = validate(spec(tmp_path, baseline), capsys)
    assert (code, codes(report)) == (0, [])


def test_claims(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = """\
    - id: monitoring
      catalog: {name: monitoring}
      volumes: [{name: data, claimKey: server.persistentVolume.claimName}]
    """
    code, report = validate(spec(tmp_path, blocks), capsys)
    assert code == 1
    assert messages(report, "E725") == [
        "monitoring: the chart creates PersistentVolumeClaim/monitoring-prometheus-server: no static volume of the spec is bound "
        "to it, so its data lands on whatever the default storage class provisions",
        "monitoring: volume 'data' (claim 'monitoring-data') is mounted by no pod of the chart: its data would go elsewhere",
    ]
    assert messages(report, "E728") == [
        "monitoring: values key 'server.persistentVolume.claimName' (the claim of volume data) changes nothing the chart renders: "
        "the chart does not read it"]
    e728 = next(d for d in report["errors"] if d["code"] == "E728")
    assert (e728["path"], e728["line"]) == ("buildingBlocks[0].volumes[0].claimKey", 14)


def test_volume_claim_templates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A StatefulSet's claims are predictable but bound to nothing the spec declares."""
    blocks = """\
    - id: cache
      catalog: {name: cache}
      podSecurity: {level: baseline, reason: test}
      volumes: [{name: data, $patch: delete}]
      resources: {storage: 20Gi}
    """
    code, report = validate(spec(tmp_path, blocks), capsys)
    assert code == 1
    assert messages(report, "E725") == [
        "cache: StatefulSet/cache-redis-master creates claim 'redis-data-cache-redis-master-0' from its volumeClaimTemplate "
        "'redis-data': no static volume of the spec is bound to it, so its data lands on whatever the default storage class "
        "provisions"]


def chart_claim(volume: str, values: str = "") -> str:
    """The cache entry with its volume given to the claim the Redis StatefulSet creates."""
    return f"""\
    - id: cache
      catalog: {{name: cache}}
      values: {{master: {{persistence: {{size: 2Gi{values}}}}}}}
      volumes: [{{name: data, $patch: delete}}, {volume}]
    """


def test_chart_claims_bind_the_claims_the_chart_creates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """chartClaim pre-binds a static volume to the claim a StatefulSet's volumeClaimTemplate
    makes; storageClassKey gives that claim the volume's class."""
    good = '{name: redis, size: 2Gi, chartClaim: "redis-data-${block.id}-redis-master-0", storageClassKey: master.persistence.storageClass}'
    code, report = validate(spec(tmp_path, chart_claim(good)), capsys)
    assert (code, codes(report)) == (0, [])
    # Another ordinal: the chart's claim is bound to nothing, the volume waits for a claim no pod uses.
    other = good.replace("master-0", "master-1")
    code, report = validate(spec(tmp_path, chart_claim(other)), capsys)
    assert code == 1
    assert messages(report, "E725") == [
        "cache: StatefulSet/cache-redis-master creates claim 'redis-data-cache-redis-master-0' from its volumeClaimTemplate "
        "'redis-data': no static volume of the spec is bound to it, so its data lands on whatever the default storage class "
        "provisions",
        "cache: volume 'redis' (claim 'redis-data-cache-redis-master-1') is mounted by no pod of the chart: its data would go "
        "elsewhere"]
    # A class key the chart does not read: the claim keeps the cluster's default class.
    wrong_key = good.replace("master.persistence.storageClass", "persistence.storageClass")
    code, report = validate(spec(tmp_path, chart_claim(wrong_key)), capsys)
    assert code == 1 and codes(report) == ["E725", "E728"]
    assert messages(report, "E725") == [
        "cache: StatefulSet/cache-redis-master creates claim 'redis-data-cache-redis-master-0' from its volumeClaimTemplate "
        "'redis-data' without a storage class (the cluster's default), not 'probe.main' of volume 'redis': if the volume were "
        "missing, another would be provisioned"]
    assert messages(report, "E728") == ["cache: values key 'persistence.storageClass' (the storage class of volume redis) "
                                        "changes nothing the chart renders: the chart does not read it"]
    # The chart asks for more than the volume holds: the claim would never bind.
    code, report = validate(spec(tmp_path, chart_claim(good.replace("size: 2Gi", "size: 1Gi"))), capsys)
    assert code == 1
    assert messages(report, "E725") == [
        "cache: StatefulSet/cache-redis-master creates claim 'redis-data-cache-redis-master-0' from its volumeClaimTemplate "
        "'redis-data' requesting 2Gi, more than volume 'redis' holds (1Gi): it would not bind"]


def test_fixed_chart_claims_get_their_class_from_flux(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The information mediator's chart makes nine claims under fixed names and has no value for
    their class: Flux's post-renderer sets the volume's class on each; Argo CD has none, so the
    claims bind by the volumes' claimRef alone, which validate says."""
    blocks = "- {id: information-mediator, catalog: {name: information-mediator}}\n"
    code, report = validate(spec(tmp_path, blocks), capsys)
    assert (code, codes(report), report["chartReleases"]) == (0, [], 2)  # and k3s's Traefik
    code, report = validate(spec(tmp_path, blocks, "argocd"), capsys)
    assert code == 0 and codes(report) == ["E725"] * 9
    assert all(d["severity"] == "warning" for d in report["warnings"]) and not report["errors"]
    assert messages(report, "E725")[0] == (
        "information-mediator: the chart creates PersistentVolumeClaim/pvc-sandbox-xroad-cs-config without a storage class (the "
        "cluster's default): it binds to volume 'cs-config' by the volume's claimRef, but if the volume were missing its class "
        "would provision another")


def test_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = """\
    - id: monitoring
      catalog: {name: monitoring}
      resources: {requests: {cpu: 150m, memory: 2Gi}, limits: {cpu: "2", memory: 4Gi}}
    """
    code, report = validate(spec(tmp_path, blocks), capsys)
    assert code == 1 and codes(report) == ["E726"]
    assert messages(report, "E726") == [
        "monitoring: the chart's pods need requests.cpu 200m in all, above the namespace's quota of 150m "
        "(Deployment/monitoring-prometheus-server 200m)"]
    e726 = report["errors"][0]
    assert (e726["path"], e726["line"]) == ("buildingBlocks[0].resources", 14)


def test_routes_and_policy_ports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = """\
    - id: monitoring
      catalog: {name: monitoring}
      routes:
        - {name: ui, service: monitoring-prometheus-server, port: 80}
        - {name: api, service: prometheus, port: 80}
        - {name: push, service: monitoring-prometheus-server, port: 9091}
    """
    code, report = validate(spec(tmp_path, blocks), capsys)
    assert code == 1 and set(codes(report)) == {"E727"}
    found = sorted((d["path"], d["message"], d["hint"]) for d in report["errors"])
    assert found == [
        ("buildingBlocks[0].routes[0].port", "monitoring: the Service sends the route's port 80 to 9090, which no network policy "
         "of the namespace opens: the route's traffic is dropped",
         "set the route's targetPort: 9090 (network policies name the pods' ports, not the Service's)"),
        ("buildingBlocks[0].routes[1].service", "monitoring: IngressRoute/api routes to Service 'prometheus', which the chart does "
         "not create", "did you mean 'monitoring-prometheus-server'? the chart's Services: monitoring-prometheus-server"),
        ("buildingBlocks[0].routes[2].port", "monitoring: IngressRoute/push routes to port 9091 of Service "
         "'monitoring-prometheus-server', which has ports 80", "use one of the Service's ports"),
        ("buildingBlocks[0].routes[2].port", "monitoring: NetworkPolicy/allow-ingress-controller opens port 9091, on which no pod "
         "of the chart listens", "network policies name the pods' ports: route to a port the chart's pods listen on"),
    ]
    # The route names the pods' port behind the Service's: allowed.
    behind = """\
    - id: monitoring
      catalog: {name: monitoring}
      routes: [{name: ui, service: monitoring-prometheus-server, port: 80, targetPort: 9090}]
    """
    code, report = validate(spec(tmp_path, behind), capsys)
    assert (code, codes(report)) == (0, [])
    # The Service on the pods' own port: routed and allowed.
    fine = """\
    - id: monitoring
      catalog: {name: monitoring}
      values: {server: {service: {servicePort: 9090}}}
      routes: [{name: ui, service: monitoring-prometheus-server, port: 9090}]
    """
    code, report = validate(spec(tmp_path, fine), capsys)
    assert (code, codes(report)) == (0, [])


def test_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = """\
    - id: cache
      catalog: {name: cache}
      podSecurity: {level: baseline, reason: test}
      values: {image: {tag: latest}}
    """
    code, report = validate(spec(tmp_path, blocks), capsys)
    assert code == 1 and codes(report) == ["E729"]
    assert messages(report, "E729") == ["cache: StatefulSet/cache-redis-master runs image 'docker.io/bitnamilegacy/redis:latest', "
                                        "which is not pinned to a tag or digest"]
    withdrawn = blocks.replace("{tag: latest}", "{repository: bitnami/redis}")
    code, report = validate(spec(tmp_path, withdrawn), capsys)
    assert messages(report, "E729") == ["cache: StatefulSet/cache-redis-master runs image 'docker.io/bitnami/redis:7.0.11', which "
                                        "Bitnami no longer serves there"]


def test_references(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = """\
    - id: cache
      catalog: {name: cache}
      podSecurity: {level: baseline, reason: test}
      secrets: [{name: cache-redis, $patch: delete}]
    """
    code, report = validate(spec(tmp_path, blocks), capsys)
    assert code == 0 and report["errors"] == []  # a warning: the Secret may come from outside the tree
    assert [(d["code"], d["message"]) for d in report["warnings"]] == [
        ("E730", "cache: StatefulSet/cache-redis-master needs Secret 'cache-redis', which neither the chart nor the tree creates")]


def test_missing_chart_helm_and_unrenderable_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = """\
    - id: podinfo
      resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}
      chart: {repo: "https://stefanprodan.github.io/podinfo/", name: podinfo, version: "6.7.1"}
    - id: payments  # the sandbox's payment hub, whose fin-engine dependency the chart folder lacks
      resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}
      chart: {git: "https://github.com/GovStackWorkingGroup/sandbox-deployment.git", path: blocks/mifos-payment-hub,
              version: SANDBOX_COMMIT}
    """.replace("SANDBOX_COMMIT", SANDBOX_COMMIT)
    path = spec(tmp_path, blocks)
    code, report = validate(path, capsys)
    assert code == 1
    (missing,) = messages(report, "E720")
    assert missing.startswith("podinfo: chart podinfo 6.7.1 (https://stefanprodan.github.io/podinfo) not found: looked in "
                              f"{CHARTS} and the cache ") and missing.endswith("; fetching is off (--offline)")
    (broken,) = messages(report, "E722")
    assert "payments: helm cannot render chart https://github.com/GovStackWorkingGroup/sandbox-deployment.git//blocks/" \
           f"mifos-payment-hub@{SANDBOX_COMMIT}: Error: An error occurred while checking for chart dependencies" in broken
    assert "fin-engine" in broken
    capsys.readouterr()
    assert main(["validate", str(path), "--charts", "--helm", str(tmp_path / "no-helm"), "--offline"]) == 1
    out = capsys.readouterr().out
    assert f"error[E721]: {path}: cannot render the charts: helm '{tmp_path / 'no-helm'}' is not an executable" in out
    assert "hint: install helm (scripts/install-tools helm builds the pinned one), or name it with --helm" in out


def test_renders_are_cached(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = spec(tmp_path, CACHE)
    first = validate(path, capsys)
    renders = sorted((tmp_path / "cache" / "govstack-gen" / "renders").glob("*.json"))
    assert renders  # the release, and the probe of its values
    for entry in renders:  # a broken cache entry costs a render, never a wrong answer
        entry.write_text("{not json")
    assert validate(path, capsys) == first
    assert validate(path, capsys) == first


# -- fetching into the cache ------------------------------------------------------------------------
# Only loopback is reachable here: a Helm repository served on 127.0.0.1 and a git repository on
# disk stand in for the public ones; the code paths (helm pull, git fetch of a ref) are the same.


def _serve(folder: Path) -> tuple[str, Any]:
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def test_fetch_from_a_helm_repository(tmp_path: Path) -> None:
    import subprocess

    from govstack_gen.validation.charts import ChartRef, ChartStore

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run([helm_binary(), "package", str(CHARTS / "redis-17.11.6" / "redis"), "-d", str(repo)], check=True, capture_output=True)
    url, server = _serve(repo)
    try:
        subprocess.run([helm_binary(), "repo", "index", str(repo), "--url", url], check=True, capture_output=True)
        cache = tmp_path / "cache"
        offline = ChartStore([], cache, fetch=False, helm=helm_binary())
        tried = offline.find(ChartRef(url, "redis", "17.11.6"))
        assert tried == f"looked in no --chart-dir and the cache {cache}; fetching is off (--offline)"
        store = ChartStore([], cache, fetch=True, helm=helm_binary())
        assert store.find(ChartRef(url, "redis", "17.11.6")) == cache / "redis-17.11.6.tgz"
        missing = store.find(ChartRef(url, "redis", "99.0.0"))
        assert isinstance(missing, str) and "fetching failed:" in missing and "99.0.0" in missing
    finally:
        server.shutdown()
        server.server_close()
    # Once fetched, found in the cache without a network.
    assert ChartStore([], cache, fetch=False).find(ChartRef(url, "redis", "17.11.6")) == cache / "redis-17.11.6.tgz"


def test_fetch_from_a_git_repository_at_its_ref(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from govstack_gen.validation.charts import ChartRef, ChartStore

    work = tmp_path / "work"
    shutil.copytree(CHARTS / "sandbox" / "joget", work / "blocks" / "joget")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "joget"], check=True)
    subprocess.run([*git, "tag", "v1.0.1"], check=True)
    store = ChartStore([], tmp_path / "cache", fetch=True)
    found = store.find(ChartRef(str(work), "joget", "v1.0.1", "blocks/joget"))
    assert isinstance(found, Path) and (found / "Chart.yaml").read_text() == (CHARTS / "sandbox" / "joget" / "Chart.yaml").read_text()
    wrong = ChartStore([], tmp_path / "cache2", fetch=True).find(ChartRef(str(work), "joget", "v9.9.9", "blocks/joget"))
    assert isinstance(wrong, str) and "fetching failed:" in wrong and "v9.9.9" in wrong



@pytest.mark.parametrize(("revision", "version"), [
    ("v1.4.2", "1.4.2"), ("1.4.2-rc.1", "1.4.2-rc.1"),
    ("prometheus-25.27.0", "25.27.0"),  # chart-releaser's tags: <chart>-<version>
    ("kafka/26.2.0", "26.2.0"),  # Bitnami's: <chart>/<version>
    ("argo-cd-v7.7.0", "7.7.0"),
    (SANDBOX_COMMIT, None),
])
def test_a_git_chart_pins_a_release_tag_as_chart_repositories_write_them(revision: str, version: str | None) -> None:
    from govstack_gen.mirror import chart_target
    from govstack_gen.spec.model import GitChart
    from govstack_gen.spec.types import tag_version

    chart = GitChart.model_validate({"git": "https://github.com/example/charts.git", "path": "charts/x", "version": revision})
    assert tag_version(chart.version) == version
    packaged = chart_target("mirror.example.org", "charts/x", revision, git=True)[2]
    assert packaged == (version or f"0.0.0-git.{SANDBOX_COMMIT[:12]}")


@pytest.mark.parametrize("revision", ["main", "release/2026", "kafka/26.1", "26.1.0/kafka", "-1.0.0", "Kafka/1.0.0", "v1.2", "15bc760"])
def test_a_git_chart_refuses_what_moves_or_names_no_version(revision: str) -> None:
    from pydantic import ValidationError

    from govstack_gen.spec.model import GitChart

    with pytest.raises(ValidationError, match="E206"):
        GitChart.model_validate({"git": "https://github.com/example/charts.git", "path": "charts/x", "version": revision})


def test_of_two_folders_of_a_git_chart_the_one_its_tag_names_is_rendered() -> None:
    """../shared/charts holds Bitnami Kafka 26.1.0 and 26.2.0, both in a folder named kafka: a
    git release of bitnami/charts at kafka/26.2.0 is checked against 26.2.0's Chart.yaml."""
    from govstack_gen.validation.charts import ChartRef, ChartStore

    store = ChartStore([CHARTS], None, fetch=False)
    for version in ("26.1.0", "26.2.0"):
        found = store.find(ChartRef("https://github.com/bitnami/charts.git", "kafka", f"kafka/{version}", "bitnami/kafka"))
        assert isinstance(found, Path) and f"\nversion: {version}\n" in (found / "Chart.yaml").read_text()


# -- images: bom and the mirror ---------------------------------------------------------------------


def test_bom_lists_the_images_the_charts_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = spec(tmp_path, MONITORING + MESSAGING)
    capsys.readouterr()
    assert main(["bom", str(path), "--charts", "--chart-dir", str(CHARTS), "--offline", "--format", "json"]) == 0
    images = {(i["buildingBlock"], i["image"], i["valuesPath"]) for i in json.loads(capsys.readouterr().out)["images"]}
    assert images == {
        ("messaging", "docker.io/bitnamilegacy/kafka:3.6.0", "image"),
        ("messaging", LEGACY_JMX, "metrics.jmx.image"),
        ("monitoring", "quay.io/prometheus/prometheus:v2.54.1", "(chart)"),
        ("monitoring", "quay.io/prometheus-operator/prometheus-config-reloader:v0.76.0", "(chart)"),
    }
    # Without --charts, only what values name.
    assert main(["bom", str(path), "--format", "json"]) == 0
    assert [i["image"] for i in json.loads(capsys.readouterr().out)["images"]] == ["docker.io/bitnamilegacy/kafka:3.6.0",
                                                                                     LEGACY_JMX]


def test_bom_fails_when_a_chart_cannot_be_rendered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = MESSAGING + textwrap.dedent("""\
    - id: podinfo
      resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}
      chart: {repo: "https://stefanprodan.github.io/podinfo/", name: podinfo, version: "6.7.1"}
    """)
    capsys.readouterr()
    assert main(["bom", str(spec(tmp_path, blocks)), "--charts", "--chart-dir", str(CHARTS), "--offline"]) == 1
    captured = capsys.readouterr()
    assert "quay.io" not in captured.out and LEGACY_JMX in captured.out  # what could be rendered is listed
    assert "govstack-gen: error: --charts: podinfo (dev): looked in" in captured.err
    assert "its images are missing from the list" in captured.err


def test_the_mirror_must_reach_every_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = validate(spec(tmp_path, MESSAGING + CACHE + MONITORING), capsys, "--mirror", "registry.internal:5000/govstack")
    # Kafka's, its exporter's and Redis's images are rewritten (and read); Prometheus's come from its chart.
    assert code == 1 and codes(report) == ["E729", "E729"]
    mirror = "not one of the mirror registry.internal:5000/govstack: render --mirror rewrites only the images values name"
    assert messages(report, "E729") == [
        f"monitoring: Deployment/monitoring-prometheus-server runs image 'quay.io/prometheus-operator/prometheus-config-reloader:"
        f"v0.76.0', {mirror}",
        f"monitoring: Deployment/monitoring-prometheus-server runs image 'quay.io/prometheus/prometheus:v2.54.1', {mirror}"]


def test_a_mirror_rewrite_the_chart_never_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = """\
    - id: cache
      catalog: {name: cache}
      podSecurity: {level: baseline, reason: test}
      values: {sidecar: {image: {registry: docker.io, repository: example/agent, tag: "1.0"}}}
    """
    code, report = validate(spec(tmp_path, blocks), capsys)
    assert (code, codes(report)) == (0, [])  # the spec's own value: the chart may ignore it
    code, report = validate(spec(tmp_path, blocks), capsys, "--mirror", "registry.internal:5000/govstack")
    assert code == 1 and codes(report) == ["E728"]
    assert messages(report, "E728") == [
        "cache: values key 'sidecar.image.registry' (the mirror's image registry.internal:5000/govstack/example/agent:1.0) changes "
        "nothing the chart renders: the chart does not read it"]


HEADROOM = 0.9  # every entry's budget still fits its chart's pods with a tenth of it taken away


@pytest.mark.parametrize("entry", ["messaging", "cache", "monitoring", "information-mediator", "digital-registries"])
def test_each_entry_budget_fits_its_chart_with_headroom(entry: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The minimum each chart needs comes from its own output (E726 adds up requests and limits
    times replicas, LimitRange defaults included): the entry's budget cut by a tenth must still
    cover it, so an entry never sits at the edge of its quota."""
    from decimal import Decimal

    from govstack_gen.catalog import load_catalog
    from govstack_gen.spec.model import ExternalSpec
    from govstack_gen.spec.types import parse_quantity

    found = load_catalog().find(entry, None)
    assert not isinstance(found, str) and not isinstance(found.spec, ExternalSpec)
    resources = found.spec.resources

    def cut(quantity: str, unit: str) -> str:
        value = parse_quantity(quantity) * Decimal(str(HEADROOM))
        return f"{int(value * 1000)}m" if unit == "cpu" else f"{int(value) // 1024}Ki"

    cutback = {part: {r: cut(getattr(getattr(resources, part), r), r) for r in ("cpu", "memory")} for part in ("requests", "limits")}
    blocks = f"- {{id: {entry}, catalog: {{name: {entry}}}, resources: {json.dumps(cutback)}}}\n"
    if entry == "digital-registries":  # it requires the information mediator
        blocks = "- {id: information-mediator, catalog: {name: information-mediator}}\n" + blocks
    code, report = validate(spec(tmp_path, blocks), capsys)
    assert report["chartReleases"] >= 1
    assert not [m for m in messages(report, "E726") if m.startswith(f"{entry}:")], messages(report, "E726")
    assert (code, codes(report)) == (0, [])
    # And the check bites: at a third of the budget the same chart does not fit.
    third = {part: {r: cut(str(parse_quantity(getattr(getattr(resources, part), r)) / 3), r) for r in ("cpu", "memory")}
             for part in ("requests", "limits")}
    code, report = validate(spec(tmp_path, blocks.replace(json.dumps(cutback), json.dumps(third))), capsys)
    assert code == 1 and any(m.startswith(f"{entry}:") for m in messages(report, "E726"))


def test_endpoints_name_a_service_of_the_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The address a provider hands to who requires it is a Service the chart creates, on its port."""
    code, report = validate(spec(tmp_path, CACHE + MESSAGING), capsys)
    assert (code, codes(report)) == (0, [])  # the entries' endpoints: cache-redis-master:6379, messaging-kafka:9092
    wrong = CACHE.replace("}}", "}, endpoint: \"${block.id}-redis.${block.namespace}.svc.cluster.local:6379\"}")
    wrong += MESSAGING.replace("}}", "}, endpoint: \"${block.id}-kafka.${block.namespace}.svc:9093\"}")
    code, report = validate(spec(tmp_path, wrong), capsys)
    assert code == 1
    assert sorted((d["path"], d["message"]) for d in report["errors"]) == [
        ("buildingBlocks[0].endpoint", "cache: endpoint 'cache-redis.cache.svc.cluster.local:6379' names Service 'cache-redis', "
         "which the chart does not create"),
        ("buildingBlocks[1].endpoint", "messaging: endpoint 'messaging-kafka.messaging.svc:9093' names port 9093 of Service "
         "'messaging-kafka', which has ports 9092"),
    ]



TWICE = """\
apiVersion: v1
kind: ClusterRole
kind: ConfigMap
metadata: {name: "{{ .Release.Name }}-settings"}
data: {mode: one}
"""


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_a_key_written_twice_is_read_as_each_engine_reads_it(engine: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """helm-controller reads every chart's output with kustomize (its origin labels are a
    post-renderer of every HelmRelease), which refuses a key written twice; Argo CD reads it as
    Kubernetes does (sigs.k8s.io/yaml, not strict): the last value counts, so this is a
    ConfigMap, not the ClusterRole a reconciler may not create."""
    chart = tmp_path / "charts" / "twice"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: twice\nversion: 0.1.0\n")
    (chart / "templates" / "settings.yaml").write_text(TWICE)
    block = """\
    - id: twice
      resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}
      chart: {repo: "https://charts.example.org", name: twice, version: "0.1.0"}
    """
    code, report = validate(spec(tmp_path, block, engine), capsys, "--chart-dir", str(tmp_path / "charts"))
    if engine == "argocd":
        assert (code, codes(report)) == (0, [])
        # The other way round it is the ClusterRole.
        swapped = TWICE.replace("kind: ClusterRole\nkind: ConfigMap", "kind: ConfigMap\nkind: ClusterRole")
        (chart / "templates" / "settings.yaml").write_text(swapped)
        code, report = validate(spec(tmp_path, block, engine), capsys, "--chart-dir", str(tmp_path / "charts"))
        assert code == 1 and "ClusterRole" in " ".join(d["message"] for d in report["errors"])
    else:
        assert code == 1
        (refused,) = messages(report, "E722")
        assert refused.startswith("twice: helm cannot render chart twice 0.1.0 (https://charts.example.org): post-renderer: ")
        assert 'mapping key "kind" already defined' in refused
