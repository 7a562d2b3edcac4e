"""Real charts installed by the real helm-controller: the catalog's messaging (Bitnami Kafka),
cache (Bitnami Redis), information mediator (the sandbox's X-Road chart) and digital registries
(Baserow, with its PostgreSQL, Redis and MinIO), from a rendered environment, each by its
namespace's helm-reconciler into a namespace that enforces its Pod Security level.

kube-controller-manager runs too, so Deployments, StatefulSets and Jobs make Pods, which Pod
Security admission must admit, and the PersistentVolume controller binds every claim to its
static volume at its predictable path. No scheduler or kubelet runs: pods stay Pending, so the
releases are installed without waiting for readiness or running hooks (a setting of this test
only, patched into its copy of the tree; the product never renders it). Two planted regressions
must show: a building block whose values break the restricted level gets no pods, and a volume
bound to a claim the chart never makes leaves the chart's own claim unbound."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from controlplane import ROOT, APIServer, ControllerManager, FluxControllers, flux_bootstrap, items, wait_for, wait_ready
from servers import GitServer, HelmRepository, publish

from govstack_gen.cli import main
from helpers import helm_binary

pytestmark = pytest.mark.e2e

CHARTS = ROOT.parent / "shared" / "charts"
READY_TIMEOUT = "240s"
SECURE_REDIS = ("master: {podSecurityContext: {enabled: true, fsGroup: 1001, seccompProfile: {type: RuntimeDefault}}, "
                "containerSecurityContext: {enabled: true, runAsUser: 1001, runAsGroup: 1001, runAsNonRoot: true, "
                "allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}")
SPEC = """\
apiVersion: govstack.dev/v1alpha2
kind: Environment
metadata:
  name: e2e
platform:
  type: k3s
storage:
  backends:
    - {{name: main, type: local, root: /srv/k8s-data, node: {{labels: {{storage-id: main-01}}}}}}
ingress: {{certResolvers: [letsencrypt], certResolver: letsencrypt}}
gitops:
  url: {git}/env.git
  branch: main
  interval: 1m
stages:
  - name: dev
    domain: dev.example.org
buildingBlocks:
  # The catalog's entries, their charts served here (the entries name the public repositories).
  - id: messaging
    catalog: {{name: messaging}}
    chart: {{repo: "{helm}", name: kafka, version: "26.2.0"}}
  - id: cache
    catalog: {{name: cache}}
    chart: {{repo: "{helm}", name: redis, version: "17.11.6"}}
    secrets: [{{name: cache-redis, source: external}}]
  - id: information-mediator
    catalog: {{name: information-mediator}}
    chart: {{git: "{git}/sandbox.git", path: blocks/information-mediator, version: "{commit}"}}
  - id: digital-registries
    catalog: {{name: digital-registries}}
    chart: {{git: "{git}/sandbox.git", path: blocks/baserow, version: "{commit}"}}
  # Planted regressions. Redis without the entry's security contexts, under the restricted level:
  - id: insecure
    catalog: {{name: cache}}
    chart: {{repo: "{helm}", name: redis, version: "17.11.6"}}
    values: {{master: {{podSecurityContext: {{enabled: false}}, containerSecurityContext: {{enabled: false}}}}}}
    secrets: [{{name: cache-redis, source: external}}]
  # A volume bound to a claim the chart never makes (ordinal 1 of a one-replica StatefulSet):
  - id: misbound
    catalog: {{name: cache}}
    chart: {{repo: "{helm}", name: redis, version: "17.11.6"}}
    values: {{{secure}}}
    secrets: [{{name: cache-redis, source: external}}]
    volumes:
      - {{name: data, $patch: delete}}
      - {{name: other, size: 2Gi, chartClaim: redis-data-misbound-redis-master-1, storageClassKey: master.persistence.storageClass}}
"""
INSTALLED = ("messaging", "cache", "information-mediator", "digital-registries")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[GitServer, HelmRepository]]:
    packaged = (CHARTS / "kafka-26.2.0" / "kafka", CHARTS / "redis-17.11.6" / "redis",
                CHARTS / "sandbox" / "baserow" / "charts" / "caddy-ingress-controller")
    git, helm = GitServer(tmp_path / "git"), HelmRepository(tmp_path / "helm", {}, packaged, helm_binary())
    yield git, helm
    git.stop()
    helm.stop()


def sandbox_repository(tmp_path: Path, helm: HelmRepository) -> tuple[Path, str]:
    """A git repository holding the sandbox charts at the paths of sandbox-deployment, and its
    commit. source-controller fetches Baserow's aliased Caddy dependency from its repository
    whatever charts/ holds: with no internet here, that repository is the loopback one."""
    work = tmp_path / "sandbox"
    for name in ("information-mediator", "baserow"):
        shutil.copytree(CHARTS / "sandbox" / name, work / "blocks" / name)
    chart = work / "blocks" / "baserow" / "Chart.yaml"
    text = chart.read_text()
    assert "https://caddyserver.github.io/ingress" in text
    chart.write_text(text.replace("https://caddyserver.github.io/ingress", helm.url))
    publish(work, tmp_path / "git" / "sandbox.git")
    commit = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    return work, commit.stdout.strip()


def install_without_waiting(tree: Path) -> None:
    """This test's own setting: no pod can become ready here, and Baserow's migrate hook never completes."""
    for path in sorted(tree.glob("building-blocks/base/*/helmrelease-*.yaml")):
        release = yaml.safe_load(path.read_text())
        release["spec"]["install"] |= {"disableWait": True, "disableHooks": True}
        path.write_text(yaml.safe_dump(release, sort_keys=False))


def namespace_of(block: str) -> str:
    return {"information-mediator": "im-xroad"}.get(block, block)


def test_the_real_charts_install_under_their_namespaces_rules(cluster: APIServer, flux_bin: Path,
                                                             controller_manager: ControllerManager,
                                                             servers: tuple[GitServer, HelmRepository], tmp_path: Path) -> None:
    git, helm = servers
    _, commit = sandbox_repository(tmp_path, helm)
    repo = tmp_path / "env"
    repo.mkdir()
    (repo / "environment.yaml").write_text(SPEC.format(git=git.url, helm=helm.url, commit=commit, secure=SECURE_REDIS))
    assert main(["render", str(repo / "environment.yaml")]) == 0
    install_without_waiting(repo)
    publish(repo, tmp_path / "git" / "env.git")

    from helpers import kustomize_build

    flux_bootstrap(cluster, kustomize_build(repo / "clusters" / "dev"))
    controllers = FluxControllers(flux_bin, cluster, tmp_path / "controllers")
    try:
        controllers.check_running()
        wait_ready(cluster, controllers, [("kustomization", "flux-system", "platform")] + [
            step for block in (*INSTALLED, "insecure", "misbound")
            for step in (("kustomization", "flux-system", block), ("helmrelease", namespace_of(block), block))], READY_TIMEOUT)
        # Installed as the namespace's helm-reconciler: Helm's release record is in the namespace.
        for block in INSTALLED:
            records = cluster.kubectl("get", "secret", "-n", namespace_of(block), "-l", "owner=helm", "-o", "name").stdout
            assert records.strip().startswith(f"secret/sh.helm.release.v1.{block}."), block

        # Every workload gets all its pods: Pod Security admitted each one, under its namespace's level.
        workloads = {block: items(cluster, "deployments,statefulsets", namespace_of(block)) for block in INSTALLED}
        assert all(workloads.values()) and sum(len(w) for w in workloads.values()) >= 15
        for block, found in workloads.items():
            labels = json.loads(cluster.kubectl("get", "namespace", namespace_of(block), "-o", "json").stdout)["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == ("baseline" if block in ("information-mediator",
                                                                                              "digital-registries")
                                                                   else "restricted"), block
            for workload in found:
                name, wanted = workload["metadata"]["name"], workload["spec"].get("replicas", 1)
                selector = ",".join(f"{k}={v}" for k, v in workload["spec"]["selector"]["matchLabels"].items())

                def pods(ns: str = namespace_of(block), sel: str = selector) -> int:
                    return len(json.loads(cluster.kubectl("get", "pods", "-n", ns, "-l", sel, "-o", "json").stdout)["items"])
                wait_for(f"{wanted} pods of {workload['kind']}/{name} in {block}", lambda p=pods, w=wanted: p() >= w)

        # Every claim is Bound to its static volume, at the predictable path.
        volumes = {pv["metadata"]["name"]: pv for pv in json.loads(cluster.kubectl("get", "pv", "-o", "json").stdout)["items"]}
        for block in INSTALLED:
            namespace = namespace_of(block)

            def bound(ns: str = namespace) -> bool:
                claims = items(cluster, "pvc", ns)
                return bool(claims) and all(c.get("status", {}).get("phase") == "Bound" for c in claims)
            wait_for(f"the claims of {block} to bind", bound)
            for claim in items(cluster, "pvc", namespace):
                volume = volumes[claim["spec"]["volumeName"]]
                assert volume["metadata"]["name"].startswith(f"e2e.{namespace}."), claim["metadata"]["name"]
                assert volume["spec"]["claimRef"]["name"] == claim["metadata"]["name"]
                volume_name = volume["metadata"]["name"].rsplit(".", 1)[1]
                assert volume["spec"]["local"]["path"] == f"/srv/k8s-data/e2e/{namespace}/{volume_name}"
                assert claim["spec"]["storageClassName"] == "e2e.main"  # the class that never provisions
        # The information mediator's nine claims are the chart's own, bound by their volumes' claimRef.
        assert len([c for c in items(cluster, "pvc", "im-xroad") if c["metadata"]["name"].startswith("pvc-sandbox-xroad-")]) == 9

        # The planted regressions: no pod passes the restricted level without the security contexts...
        def refused() -> bool:
            events = items(cluster, "events", "insecure")
            return any(e.get("reason") == "FailedCreate" and "violates PodSecurity" in e.get("message", "") for e in events)
        wait_for("the insecure Redis to be refused by Pod Security", refused)
        assert not items(cluster, "pods", "insecure")
        # ...and a volume pre-bound to a claim the chart never makes leaves the chart's claim unbound.
        wait_for("the misbound chart's claim", lambda: bool(items(cluster, "pvc", "misbound")))
        time.sleep(5)
        (claim,) = items(cluster, "pvc", "misbound")
        assert claim["metadata"]["name"] == "redis-data-misbound-redis-master-0"
        assert claim["status"]["phase"] == "Pending" and not claim["spec"].get("volumeName")
        other = json.loads(cluster.kubectl("get", "pv", "e2e.misbound.other", "-o", "json").stdout)
        assert other["status"]["phase"] == "Available"
    finally:
        controllers.stop()
        print(controller_manager.log_tail())
