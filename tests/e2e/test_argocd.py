"""Reconciliation by the real Argo CD: its application controller and repo-server (built from
the Go module by scripts/e2e-assets argocd) run as local processes against the test's API
server, with sync impersonation on as the README tells users. The rendered environment
repository is served by a git server on loopback, the charts by a Helm repository on loopback.

The stage's platform AppProject and root Application are applied once, as the README says;
then every Application must become Synced and Healthy in wave order (the platform before the
building blocks, a dependency before its dependant), each building block's objects written as
its namespace's helm-reconciler (the API server's audit log says who wrote what), the spec's
values in the cluster. Issue 20's negative proofs (removal, a forbidden kind, a missing
version) are not in yet: after a removal the platform Application stayed Progressing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ARGO_NAMESPACE, APIServer, ArgoCD, ControllerManager, argocd_bootstrap
from servers import GitServer, HelmRepository, publish

from govstack_gen.cli import main
from helpers import helm_binary, kustomize_command

pytestmark = pytest.mark.e2e

TIMEOUT_S = 240
HEAD = """\
apiVersion: govstack.dev/v1alpha2
kind: Environment
metadata:
  name: e2e
platform:
  type: k3s
storage:
  backends:
    - {{name: main, type: local, root: /srv/k8s-data, node: {{labels: {{storage-id: main-01}}}}}}
gitops:
  engine: argocd
  url: {git}/env.git
  branch: main
  interval: 1m
stages:
  - name: dev
    domain: dev.example.org
buildingBlocks:
  - id: registry
    labels: {{provides-registry: "true"}}
    resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}
    chart: {{repo: "{helm}", name: greeting, version: "0.1.0"}}
    values: {{greeting: hello from govstack-gen}}
"""
CONSENT = """\
  - id: consent
    requires:
      strong:
        - {{matchLabels: {{provides-registry: "true"}}}}
    resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}
    chart: {{repo: "{helm}", name: greeting, version: "0.1.0"}}
    volumes:
      - {{name: data, size: 1Gi, backend: main}}
"""
# Planted: a chart that also renders a ClusterRole (its project allows nothing cluster-wide), and
# a version the Helm repository does not have.
REFUSED = """\
  - id: intruder
    resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}
    chart: {{repo: "{helm}", name: greedy, version: "0.1.0"}}
  - id: stale
    resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}
    chart: {{repo: "{helm}", name: greeting, version: "9.9.9"}}
"""
CLUSTER_ROLE = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .Release.Name }}-everything
rules:
  - apiGroups: ["*"]
    resources: ["*"]
    verbs: ["*"]
"""


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[GitServer, HelmRepository]]:
    git = GitServer(tmp_path / "git")
    helm = HelmRepository(tmp_path / "helm", {"greeting": "0.1.0", "greedy": "0.1.0"}, extra={"greedy": CLUSTER_ROLE})
    yield git, helm
    git.stop()
    helm.stop()


def applications(cluster: APIServer) -> dict[str, dict[str, Any]]:
    listed = cluster.kubectl("get", "applications", "-n", ARGO_NAMESPACE, "-o", "json")
    return {a["metadata"]["name"]: a for a in json.loads(listed.stdout)["items"]}


def state(app: dict[str, Any]) -> tuple[str, str]:
    status = app.get("status") or {}
    return (status.get("sync") or {}).get("status", ""), (status.get("health") or {}).get("status", "")


def done(app: dict[str, Any]) -> bool:
    return state(app) == ("Synced", "Healthy")


def watch(cluster: APIServer, argo: ArgoCD, until: Any, what: str) -> list[dict[str, dict[str, Any]]]:
    """Every poll of the Applications (twice a second) until `until(apps)` holds; else fail with
    their states, conditions and the controllers' logs."""
    polls = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        polls.append(applications(cluster))
        if until(polls[-1]):
            return polls
        time.sleep(0.5)
    last = {}
    for name, app in (polls[-1] if polls else {}).items():
        status = app.get("status") or {}
        last[name] = (state(app), status.get("conditions"), (status.get("operationState") or {}).get("message"))
    pytest.fail(f"{what} not reached in {TIMEOUT_S} s: {json.dumps(last, indent=1)}\n{argo.logs()}")


def waves(repo: Path) -> dict[str, int]:
    """Each Application's sync wave, as rendered."""
    out = {}
    for path in (repo / "building-blocks" / "base").glob("*/application-*.yaml"):
        app = yaml.safe_load(path.read_text())
        out[app["metadata"]["name"]] = int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    platform = yaml.safe_load((repo / "clusters" / "dev" / "application-platform.yaml").read_text())
    out["platform"] = int(platform["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    return out


def render(repo: Path, text: str, *flags: str) -> None:
    (repo / "environment.yaml").write_text(text)
    assert main(["render", str(repo / "environment.yaml"), *flags]) == 0


def test_argocd_reconciles_the_rendered_tree(cluster: APIServer, controller_manager: ControllerManager, argocd_bin: Path,
                                             servers: tuple[GitServer, HelmRepository], tmp_path: Path) -> None:
    git, helm = servers
    repo = tmp_path / "env"
    repo.mkdir()
    fill = {"git": git.url, "helm": helm.url}
    render(repo, (HEAD + CONSENT).format(**fill))
    publish(repo, tmp_path / "git" / "env.git")
    wave = waves(repo)
    assert wave == {"platform": -1, "registry": 0, "consent": 1}  # the graph: consent requires the registry

    # The README's bootstrap: `kubectl apply -n argocd -f <the project> -f <the root>`, once.
    argocd_bootstrap(cluster, [yaml.safe_load((repo / "clusters" / "dev" / name).read_text())
                               for name in ("appproject-platform.yaml", "application-root.yaml")])
    tools = [Path(helm_binary()).parent, Path(kustomize_command()[0]).parent]
    argo = ArgoCD(argocd_bin, cluster, tmp_path / "argocd", tools)
    try:
        argo.check_running()
        polls = watch(cluster, argo, lambda apps: len(apps) == 4 and all(map(done, apps.values())),
                      "every Application Synced and Healthy")

        # Wave order: when an Application first appears, every one of an earlier wave is already
        # Synced and Healthy (Argo CD waits for it, through the health check the tree renders).
        first: dict[str, int] = {}
        for index, poll in enumerate(polls):
            for name in poll:
                first.setdefault(name, index)
        assert sorted(wave, key=first.__getitem__) == sorted(wave, key=wave.__getitem__)
        for name, index in first.items():
            if name in wave:
                earlier = [other for other in wave if wave[other] < wave[name]]
                assert all(done(polls[index][other]) for other in earlier), (name, {o: state(polls[index][o]) for o in earlier})

        greeting = cluster.kubectl("get", "configmap", "registry-greeting", "-n", "registry", "-o", "jsonpath={.data.greeting}")
        assert greeting.stdout == "hello from govstack-gen"  # the spec's values reached the chart
        claim = cluster.kubectl("get", "pvc", "consent-data", "-n", "consent", "-o", "jsonpath={.status.phase}")
        assert claim.stdout == "Bound"  # the platform's static volume, bound before the building blocks synced

        # Impersonation in force: Argo CD wrote each chart's objects as the namespace's
        # helm-reconciler, and the platform as the controller's own account, never as itself.
        writers: dict[tuple[str, str, str], set[str]] = {}
        for event in cluster.audit_events():
            ref, user = event.get("objectRef") or {}, event.get("impersonatedUser") or {}
            if ref.get("resource") in ("configmaps", "namespaces", "persistentvolumeclaims", "resourcequotas"):
                key = (ref["resource"], ref.get("namespace", ""), ref.get("name", ""))
                writers.setdefault(key, set()).add(user.get("username", event["user"]["username"]))
        for block in ("registry", "consent"):
            assert writers[("configmaps", block, f"{block}-greeting")] == {f"system:serviceaccount:{block}:helm-reconciler"}
            platform = {"system:serviceaccount:argocd:argocd-application-controller"}
            assert writers[("namespaces", block, block)] == platform  # a Namespace's audit reference names it twice
            assert writers[("resourcequotas", block, block)] == platform

    finally:
        argo.stop()
