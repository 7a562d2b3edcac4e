"""The add-ons layer against the real Traefik charts of ../shared/charts/platform: what the tree
writes for Traefik (k3s's HelmChartConfig, the HelmRelease elsewhere) is rendered with `helm
template`, and the chart's own objects show every entry point the routes use exposed on the
Service, the redirect to HTTPS, each cert resolver, acme.json on the claim of the tree's static
volume, and the core pool's placement. Each assertion reads what helm rendered, never our values."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from govstack_gen.cli import main
from helpers import ROOT, SHARED, helm_binary, read_tree

PLATFORM_CHARTS = SHARED / "charts/platform"
K3S_CHART = PLATFORM_CHARTS / "traefik-39.0.701+up39.0.7/traefik"  # what k3s bundles (its packaging)
UPSTREAM_CHART = PLATFORM_CHARTS / "traefik-41.3.0/traefik"  # the default chart where Traefik is ours to install
KUBE_VERSION = "1.35.0"


def render(spec: Path, out: Path) -> dict[str, Any]:
    assert main(["render", str(spec), "--output", str(out)]) == 0
    return {rel: list(yaml.safe_load_all(content)) for rel, content in read_tree(out).items() if rel.endswith(".yaml")}


def helm_template(chart: Path, namespace: str, values: dict[str, Any], tmp_path: Path,
                  name: str = "traefik") -> list[dict[str, Any]]:
    """The chart as helm-controller would install it: release `name` in `namespace`."""
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    result = subprocess.run([helm_binary(), "template", name, str(chart), "--namespace", namespace, "--values", str(values_file),
                             "--kube-version", KUBE_VERSION], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return [o for o in yaml.safe_load_all(result.stdout) if o]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, [o["metadata"]["name"] for o in found]
    return found[0]


def routes_entry_points(tree: dict[str, Any]) -> set[str]:
    """Every entry point a rendered TCP route names (the oracle: the tree's own routes)."""
    found = {point for docs in tree.values() for o in docs if o and o.get("kind") == "IngressRouteTCP"
             for point in o["spec"]["entryPoints"]}
    assert found  # the example has TCP routes: the check below cannot pass empty
    return found


def test_k3s_bundled_traefik_carries_every_route_entry_point_resolver_and_volume(tmp_path: Path) -> None:
    tree = render(ROOT / "examples/sandbox-k3s/environment.yaml", tmp_path / "out")
    [config] = tree["addons/base/helmchartconfig-traefik.yaml"]
    assert (config["apiVersion"], config["kind"]) == ("helm.cattle.io/v1", "HelmChartConfig")
    assert config["metadata"]["namespace"] == "kube-system"
    objects = helm_template(K3S_CHART, "kube-system", yaml.safe_load(config["spec"]["valuesContent"]), tmp_path)
    service, deployment = one(objects, "Service"), one(objects, "Deployment")
    exposed = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    entry_points = {o["metadata"]["name"]: o for docs in tree.values() for o in docs
                    if o and o.get("kind") == "IngressRouteTCP"}
    for name in routes_entry_points(tree):
        route_port = next(o["spec"]["routes"][0]["services"][0]["port"] for o in entry_points.values() if name in o["spec"]["entryPoints"])
        assert exposed.get(name) == route_port, (name, exposed)
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    args = container["args"]
    # Plain HTTP is sent to websecure's exposed port (the chart turns the entry point into its port).
    assert {"--entryPoints.web.http.redirections.entryPoint.to=:443", "--entryPoints.web.http.redirections.entryPoint.scheme=https",
            "--entryPoints.web.http.redirections.entryPoint.permanent=true"} <= set(args), args
    # Every resolver a route names, with its storage on the mounted volume.
    resolvers = {o["spec"]["tls"]["certResolver"] for docs in tree.values() for o in docs
                 if o and o.get("kind") == "IngressRoute" and "certResolver" in o["spec"].get("tls", {})}
    assert resolvers == {"letsencrypt"}
    for name in resolvers:
        assert f"--certificatesresolvers.{name}.acme.storage=/data/acme.json" in args
        assert f"--certificatesresolvers.{name}.acme.tlsChallenge=true" in args  # Traefik's flags ignore case
    # The account contact the example's spec gives its resolver.
    assert "--certificatesresolvers.letsencrypt.acme.email=platform-team@example.org" in args
    assert "email: platform-team@example.org" in (ROOT / "examples/sandbox-k3s/environment.yaml").read_text()
    [claim] = tree["addons/base/persistentvolumeclaim-traefik-acme.yaml"]
    [volume] = tree["addons/base/persistentvolume-sandbox.kube-system.acme.yaml"]
    data = next(v for v in pod["volumes"] if v["name"] == "data")
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    assert volume["spec"]["claimRef"] == {"namespace": "kube-system", "name": claim["metadata"]["name"]}
    assert volume["spec"]["local"]["path"] == "/srv/k8s-data/sandbox/kube-system/acme"
    assert volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "storage-id", "operator": "In", "values": ["main-01"]}]
    # The volume is writable for the user Traefik runs as.
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"] == 65532
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert pod["nodeSelector"] == {"node-type": "core"}


def test_traefik_installed_elsewhere_runs_restricted_on_the_core_pool(tmp_path: Path) -> None:
    tree = render(ROOT / "examples/sandbox-eks/environment.yaml", tmp_path / "out")
    [release] = tree["addons/base/helmrelease-traefik.yaml"]
    [namespace] = tree["addons/base/namespace-traefik.yaml"]
    assert release["spec"]["chart"]["spec"]["version"] == "41.3.0"
    objects = helm_template(UPSTREAM_CHART, "traefik", release["spec"]["values"], tmp_path)
    service, deployment = one(objects, "Service"), one(objects, "Deployment")
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]}["xroad-messaging"] == 5500
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"node-type": "core"}
    assert {"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # The chart's pod as Pod Security admission sees it: restricted needs all of these.
    [container] = pod["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"} or \
        container["securityContext"].get("seccompProfile") == {"type": "RuntimeDefault"}


@pytest.mark.parametrize("chart", [K3S_CHART, UPSTREAM_CHART], ids=["k3s", "upstream"])
def test_every_value_we_write_changes_what_the_chart_renders(chart: Path, tmp_path: Path) -> None:
    """Each top-level value of ours, dropped, changes the chart's output: none is ignored."""
    tree = render(ROOT / "examples/sandbox-k3s/environment.yaml", tmp_path / "out")
    values = yaml.safe_load(tree["addons/base/helmchartconfig-traefik.yaml"][0]["spec"]["valuesContent"])
    baseline = helm_template(chart, "kube-system", values, tmp_path)
    assert len(values) >= 6
    for key in values:
        without = {k: v for k, v in values.items() if k != key}
        assert helm_template(chart, "kube-system", without, tmp_path) != baseline, f"{key} changes nothing"


# -- validate --charts on the add-ons layer ------------------------------------------------------

GENERIC = """\
apiVersion: govstack.dev/v1alpha2
kind: Environment
metadata: {name: probe}
platform: {type: generic}
storage:
  backends:
    - {name: main, type: local, root: /srv/k8s-data, node: {labels: {storage-id: main-01}}}
ingress:
  certResolvers: [letsencrypt]
  certResolver: letsencrypt
  entryPoints: [{name: xroad-messaging, port: 5500}]
gitops: {url: "https://git.example.org/gov/probe.git", engine: ENGINE}
stages: [{name: dev, domain: dev.example.org}]
buildingBlocks:
  - id: registry
    resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}
    chart: {repo: "https://charts.example.org", name: registry, version: "0.4.0"}
    tcpRoutes: [{name: xroad, entryPoint: xroad-messaging, service: registry, port: 5500}]
"""
# What a Traefik chart that no longer reads the tree's values would do, planted in a copy of the
# real chart: TCP entry points kept off the Service, the persistence claim ignored, the node
# selector ignored, and a container allowed to escalate (the restricted level refuses it).
PLANTS = [
    ("templates/_service.tpl", '{{- if (index (default dict $config.expose) $.serviceName) }}',
     '{{- if and (index (default dict $config.expose) $.serviceName) (has $name (list "web" "websecure")) }}'),
    ("templates/_podtemplate.tpl", 'claimName: {{ default (include "traefik.fullname" .) .Values.persistence.existingClaim }}',
     'claimName: {{ include "traefik.fullname" . }}'),
    ("templates/_podtemplate.tpl", "{{- with .Values.nodeSelector }}", "{{- with .Values.ignoredNodeSelector }}"),
    ("values.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"),
]


def validate_charts(spec: Path, chart_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    import json

    capsys.readouterr()
    code = main(["validate", str(spec), "--charts", "--chart-dir", str(chart_dir), "--offline", "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.usefixtures("chart_tools")
@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_validate_charts_checks_traefik_against_the_routes(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    spec = tmp_path / "environment.yaml"
    spec.write_text(GENERIC.replace("ENGINE", engine))
    charts = tmp_path / "charts"
    shutil.copytree(UPSTREAM_CHART, charts / "traefik")
    code, report = validate_charts(spec, charts, capsys)
    # The real chart: Traefik rendered and checked (the registry's chart is not here: E720 for it alone).
    assert [(d["code"], d["message"].split(":")[0]) for d in report["errors"]] == [("E720", "registry")], report["errors"]
    assert report["chartReleases"] == 1
    # The planted chart: each check fires, at the spec line that feeds it.
    for rel, old, new in PLANTS:
        path = charts / "traefik" / rel
        assert path.read_text().count(old) == 1, (rel, old)
        path.write_text(path.read_text().replace(old, new))
    code, report = validate_charts(spec, charts, capsys)
    assert code == 1
    found = sorted((d["code"], d["message"]) for d in report["errors"] if not d["message"].startswith("registry"))
    assert found == [
        ("E724", 'traefik: Deployment/traefik violates PodSecurity "restricted:v1.33": allowPrivilegeEscalation != false '
                 '(container "traefik" must set securityContext.allowPrivilegeEscalation=false)'),
        ("E728", "traefik: values key 'nodeSelector' changes nothing the chart renders"),
        ("E731", "traefik: Traefik's pods do not mount the claim 'traefik-acme' of acme.json"),
        ("E731", "traefik: a route uses entry point 'xroad-messaging', which Traefik's Service does not expose"),
        ("E732", "traefik: Deployment/traefik does not select the core pool (node-type=core missing from its nodeSelector)"),
    ], found
