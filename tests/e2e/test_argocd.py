"""Reconciliation by the real Argo CD: its application controller and repo-server (built from
the Go module by scripts/e2e-assets argocd) run as local processes against the test's API
server, with sync impersonation on as the README tells users. The rendered environment
repository is served by a git server on loopback, the charts by a Helm repository on loopback.

The stage's platform AppProject and root Application are applied once, as the README says;
then every Application must become Synced and Healthy in wave order (the platform before the
building blocks, a dependency before its dependant), each building block's objects written as
its namespace's helm-reconciler (the API server's audit log says who wrote what), the spec's
values in the cluster.

And what Argo CD must refuse or keep: a building block removed from the spec leaves its
namespace, volume and claim in place (Prune=false,Delete=false), a chart rendering a kind its
project forbids fails its sync with Argo CD's own message, and a chart version the repository
lacks fails visibly (an unpinned one never reaches the tree: render refuses it, E206) and holds
back its dependant's wave. Last, the tree's Application health check, which those waves rely
on, run by Argo CD's own Lua VM on the states an Application goes through."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
# Planted: a chart that also renders a ClusterRole (its project allows nothing cluster-wide), a
# version the Helm repository does not have, and a building block that requires the latter.
REFUSED = """\
  - id: intruder
    resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}
    chart: {{repo: "{helm}", name: greedy, version: "0.1.0"}}
  - id: stale
    labels: {{provides-stale: "true"}}
    resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}
    chart: {{repo: "{helm}", name: greeting, version: "9.9.9"}}
  - id: late
    requires:
      strong:
        - {{matchLabels: {{provides-stale: "true"}}}}
    resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}
    chart: {{repo: "{helm}", name: greeting, version: "0.1.0"}}
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


@pytest.fixture
def workspace(servers: tuple[GitServer, HelmRepository], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The environment repository's folder, and the servers' URLs the spec texts take."""
    git, helm = servers
    repo = tmp_path / "env"
    repo.mkdir()
    return repo, {"git": git.url, "helm": helm.url}


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


@contextmanager
def argo_cd(cluster: APIServer, argocd_bin: Path, repo: Path, workdir: Path) -> Iterator[ArgoCD]:
    """The README's bootstrap (`kubectl apply -n argocd -f <the project> -f <the root>`, once),
    then Argo CD's controller and repo-server running until the block ends."""
    argocd_bootstrap(cluster, [yaml.safe_load((repo / "clusters" / "dev" / name).read_text())
                               for name in ("appproject-platform.yaml", "application-root.yaml")])
    tools = [Path(helm_binary()).parent, Path(kustomize_command()[0]).parent]
    argo = ArgoCD(argocd_bin, cluster, workdir, tools)
    try:
        argo.check_running()
        yield argo
    finally:
        argo.stop()


def conditions(app: dict[str, Any]) -> str:
    """Everything Argo CD says went wrong with an Application: its conditions, its last
    operation's message and each resource's sync result."""
    status = app.get("status") or {}
    operation = status.get("operationState") or {}
    said = [c.get("message", "") for c in status.get("conditions") or []]
    said.append(operation.get("message", ""))
    said += [r.get("message", "") for r in (operation.get("syncResult") or {}).get("resources") or []]
    return "\n".join(said)


def absent(cluster: APIServer, kind: str, name: str, namespace: str = "") -> bool:
    where = ["-n", namespace] if namespace else []
    return "NotFound" in cluster.kubectl("get", kind, name, *where, check=False).stderr


def kept(cluster: APIServer, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
    where = ["-n", namespace] if namespace else []
    live: dict[str, Any] = json.loads(cluster.kubectl("get", kind, name, *where, "-o", "json").stdout)
    return live


def test_argocd_reconciles_the_rendered_tree_and_keeps_a_removed_blocks_data(
        cluster: APIServer, controller_manager: ControllerManager, argocd_bin: Path,
        workspace: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, fill = workspace
    render(repo, (HEAD + CONSENT).format(**fill))
    publish(repo, tmp_path / "git" / "env.git")
    wave = waves(repo)
    assert wave == {"platform": -1, "registry": 0, "consent": 1}  # the graph: consent requires the registry

    with argo_cd(cluster, argocd_bin, repo, tmp_path / "argocd") as argo:
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
        claim = kept(cluster, "pvc", "consent-data", "consent")
        assert claim["status"]["phase"] == "Bound"  # the platform's static volume, bound before the building blocks synced
        volume = claim["spec"]["volumeName"]

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

        # Remove consent from the spec (the data move acknowledged, as render demands) and push:
        # its Application goes, its namespace, claim and volume stay, the claim still bound.
        render(repo, HEAD.format(**fill), "--allow-data-move")
        publish(repo, tmp_path / "git" / "env.git")
        watch(cluster, argo, lambda apps: "consent" not in apps and done(apps["registry"]), "consent's Application removed")
        time.sleep(15)  # a resync (10 s here) after the removal: nothing deletes the data later either
        assert "consent" not in applications(cluster)
        for kind, name, namespace, phase in (("namespace", "consent", "", "Active"), ("pvc", "consent-data", "consent", "Bound"),
                                             ("pv", volume, "", "Bound")):
            live = kept(cluster, kind, name, namespace)
            assert "deletionTimestamp" not in live["metadata"], (kind, name)  # a Terminating PV still says Bound
            assert live["status"]["phase"] == phase, (kind, name)
        # The platform says what it keeps: the cluster-wide objects it would prune but may not
        # (the claim, in a namespace its project no longer reaches, is not its own any more).
        platform_app = applications(cluster)["platform"]
        pending = {(r["kind"], r["name"]) for r in platform_app["status"]["resources"] if r.get("requiresPruning")}
        assert pending == {("Namespace", "consent"), ("PersistentVolume", volume)}
        assert state(platform_app) == ("OutOfSync", "Healthy")


def test_argocd_refuses_a_forbidden_kind_and_a_missing_version(
        cluster: APIServer, controller_manager: ControllerManager, argocd_bin: Path,
        workspace: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, fill = workspace
    # A range never reaches the tree: Argo CD would resolve it to the newest chart on every
    # sync, so render refuses it and writes nothing.
    (repo / "environment.yaml").write_text((HEAD + REFUSED).format(**fill).replace('"9.9.9"', '">=0.1.0"'))
    assert main(["render", str(repo / "environment.yaml")]) == 1
    assert [p.name for p in repo.iterdir()] == ["environment.yaml"]

    render(repo, (HEAD + REFUSED).format(**fill))
    publish(repo, tmp_path / "git" / "env.git")
    with argo_cd(cluster, argocd_bin, repo, tmp_path / "argocd") as argo:
        def refused(apps: dict[str, dict[str, Any]]) -> bool:
            return ({"intruder", "stale", "registry"} <= apps.keys() and "is not permitted in project" in conditions(apps["intruder"])
                    and "9.9.9" in conditions(apps["stale"]) and done(apps["registry"]))
        apps = watch(cluster, argo, refused, "both refusals")[-1]

        # The forbidden kind: Argo CD refuses the whole sync, so nothing of the chart is written.
        assert "resource rbac.authorization.k8s.io:ClusterRole is not permitted in project intruder" in conditions(apps["intruder"])
        assert state(apps["intruder"])[0] == "OutOfSync"
        assert absent(cluster, "clusterrole", "intruder-everything")
        assert absent(cluster, "configmap", "intruder-greeting", "intruder")

        # The missing version: the comparison fails with Helm's own words, sync status Unknown
        # (health stays Healthy: an Application with nothing rendered has nothing unhealthy).
        assert 'Error: chart "greeting" version "9.9.9" not found in' in conditions(apps["stale"])
        comparison = [c["type"] for c in apps["stale"]["status"].get("conditions") or []]
        assert comparison == ["ComparisonError"]
        assert state(apps["stale"])[0] == "Unknown"
        # The refusals stay with their building blocks: the registry synced beside them. And
        # the dependant of the missing version waits: the root, assessing Applications' health
        # with the tree's check, finds its dependency Degraded and never reaches its wave.
        assert done(apps["registry"])
        assert waves(repo)["late"] == waves(repo)["stale"] + 1
        def assessed(apps: dict[str, dict[str, Any]]) -> bool:
            return any(r["kind"] == "Application" and r["name"] == "stale" and (r.get("health") or {}).get("status") == "Degraded"
                       for r in (apps["root"].get("status") or {}).get("resources") or [])
        apps = watch(cluster, argo, assessed, "the root assessing stale Degraded")[-1]
        time.sleep(15)
        apps = applications(cluster)
        assert "late" not in apps
        assert absent(cluster, "configmap", "late-greeting", "late")


# The tree's Application health check, run by Argo CD's own Lua VM offline (`argocd admin settings
# resource-overrides health`) on the argocd-cm a render writes: each case an Application status
# as Argo CD leaves it, and the health its parent's sync wave sees.
HEALTH_CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "new, no status yet": ({}, "Progressing", ""),
    "synced and healthy": ({"health": {"status": "Healthy"}, "sync": {"status": "Synced"},
                            "operationState": {"phase": "Succeeded", "message": "successfully synced"}}, "Healthy", ""),
    "kept objects pending pruning": ({"health": {"status": "Healthy"}, "sync": {"status": "OutOfSync"},
                                      "operationState": {"phase": "Succeeded"}}, "Healthy", ""),
    "its resources progressing": ({"health": {"status": "Progressing", "message": "Waiting for rollout"}},
                                  "Progressing", "Waiting for rollout"),
    "its resources degraded": ({"health": {"status": "Degraded", "message": "Back-off pulling image"}},
                               "Degraded", "Back-off pulling image"),
    # Not held against it: the root is among the Applications its own sync waits for.
    "still syncing": ({"health": {"status": "Healthy"}, "operationState": {"phase": "Running", "message": "Retrying attempt #1"}},
                      "Healthy", ""),
    "sync failed": ({"health": {"status": "Healthy"}, "operationState": {"phase": "Failed", "message": "one or more objects failed"}},
                    "Degraded", "one or more objects failed"),
    "chart version missing": ({"health": {"status": "Healthy"}, "sync": {"status": "Unknown"},
                               "conditions": [{"type": "ComparisonError", "message": 'chart "x" version "9.9.9" not found'}]}, "Degraded",
                              'chart "x" version "9.9.9" not found'),
    "a warning only": ({"health": {"status": "Healthy"}, "conditions": [{"type": "OrphanedResourceWarning", "message": "1 orphan"}]},
                       "Healthy", ""),
}


@pytest.mark.parametrize("case", HEALTH_CASES)
def test_application_health_check_as_argo_cd_runs_it(case: str, argocd_bin: Path, tmp_path: Path) -> None:
    status, expected, message = HEALTH_CASES[case]
    repo = tmp_path / "env"
    repo.mkdir()
    render(repo, (HEAD + CONSENT).format(git="https://git.example.org", helm="https://charts.example.org"))
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "x", "namespace": ARGO_NAMESPACE},
           "spec": {}, "status": status}
    (tmp_path / "app.yaml").write_text(json.dumps(app))
    assessed = subprocess.run([str(argocd_bin / "argocd"), "admin", "settings", "resource-overrides", "health", "app.yaml",
                               "--argocd-cm-path", str(repo / "clusters" / "dev" / "configmap-argocd-cm.yaml")],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True)
    assert assessed.stdout.splitlines()[:2] == [f"STATUS: {expected}", f"MESSAGE: {message}"], assessed.stdout
