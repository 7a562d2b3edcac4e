"""Security properties every rendered tree has (CHECKLIST §2), checked on what kustomize builds
for every stage of every example and valid case."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from govstack_gen.pipeline import load_and_resolve
from govstack_gen.render.targets import render_files
from govstack_gen.resolve import Resolved
from govstack_gen.spec.tenancy import RESERVED_NAMESPACES
from helpers import CASES, EXAMPLES, kustomize_build, write_tree

SPECS = sorted(EXAMPLES.glob("*/environment.yaml")) + sorted((CASES / "valid").glob("*/environment.yaml"))
FORBIDDEN_VERBS = {"*", "escalate", "bind", "impersonate"}
PLATFORM_KINDS_IN_FLUX_SYSTEM = {"Kustomization", "GitRepository", "ServiceAccount"}
ARGO_KINDS_IN_ARGOCD = {"Application", "AppProject", "ConfigMap"}


@functools.cache
def built(spec: Path, root: Path) -> tuple[Resolved, tuple[dict[str, Any], ...]]:
    env = load_and_resolve(spec)
    write_tree(root, render_files(env))
    objects: list[dict[str, Any]] = []
    for stage in env.stages:
        for folder in [f"clusters/{stage.name}", f"platform/{stage.name}",
                       *(f"building-blocks/{stage.name}/{b.id}" for b in env.blocks)]:
            objects += kustomize_build(root / folder)
    return env, tuple(objects)


@pytest.fixture(scope="module", params=SPECS, ids=lambda p: p.parent.name)
def tree(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Resolved, list[dict[str, Any]]]:
    env, objects = built(request.param, tmp_path_factory.mktemp(request.param.parent.name))
    return env, list(objects)


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_namespaces_have_pod_security_quota_limits_and_default_deny(tree: tuple[Resolved, list[dict[str, Any]]]) -> None:
    env, objects = tree
    for block in env.blocks:
        [namespace] = [o for o in of_kind(objects, "Namespace") if o["metadata"]["name"] == block.namespace][:1]
        labels = namespace["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] in ("restricted", "baseline")
        assert labels["pod-security.kubernetes.io/audit"] == labels["pod-security.kubernetes.io/warn"] == "restricted"
        assert all(labels[f"pod-security.kubernetes.io/{m}-version"].startswith("v1.") for m in ("enforce", "audit", "warn"))
        in_ns = [o for o in objects if o["metadata"].get("namespace") == block.namespace]
        assert of_kind(in_ns, "ResourceQuota") and of_kind(in_ns, "LimitRange")
        deny = [p for p in of_kind(in_ns, "NetworkPolicy") if p["metadata"]["name"] == "default-deny"]
        assert deny and deny[0]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_rbac_has_no_wildcards_no_escalation_and_no_default_account(tree: tuple[Resolved, list[dict[str, Any]]]) -> None:
    _, objects = tree
    for role in of_kind(objects, "Role") + of_kind(objects, "ClusterRole"):
        for rule in role["rules"]:
            assert "*" not in rule.get("apiGroups", []) and "*" not in rule["resources"]
            assert not FORBIDDEN_VERBS & set(rule["verbs"]), role["metadata"]["name"]
    assert not of_kind(objects, "ClusterRole")  # tenants never get cluster roles of their own
    for binding in of_kind(objects, "RoleBinding") + of_kind(objects, "ClusterRoleBinding"):
        assert all(s["name"] != "default" for s in binding["subjects"])
        if binding["kind"] == "ClusterRoleBinding":
            assert binding["metadata"]["name"] == "govstack-platform-admins"
            assert all(s["kind"] == "Group" for s in binding["subjects"])
    for account in of_kind(objects, "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_public_routes_have_tls_and_http_only_redirects(tree: tuple[Resolved, list[dict[str, Any]]]) -> None:
    _, objects = tree
    for route in of_kind(objects, "IngressRoute"):
        spec = route["spec"]
        if "websecure" in spec["entryPoints"]:
            assert spec["tls"].get("certResolver") or spec["tls"].get("secretName")
            assert spec["routes"][0]["middlewares"][0] == {"name": "security-headers"}
        else:
            assert spec["entryPoints"] == ["web"]
            assert spec["routes"][0]["middlewares"] == [{"name": "https-redirect"}]
        for rule in spec["routes"]:
            for ref in rule["services"] + rule.get("middlewares", []):
                assert "@" not in ref["name"] and "namespace" not in ref  # same namespace, no providers


def test_flux_lockdown_and_reserved_namespaces(tree: tuple[Resolved, list[dict[str, Any]]]) -> None:
    env, objects = tree
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        if namespace == "flux-system":
            assert obj["kind"] in PLATFORM_KINDS_IN_FLUX_SYSTEM, obj["metadata"]["name"]
        elif namespace == "argocd":
            assert env.gitops.engine == "argocd" and obj["kind"] in ARGO_KINDS_IN_ARGOCD, obj["metadata"]["name"]
        elif namespace is not None:
            assert namespace not in RESERVED_NAMESPACES and not namespace.startswith("kube-"), obj["metadata"]["name"]
    block_ids = {b.id for b in env.blocks}
    for kustomization in of_kind(objects, "Kustomization"):
        if kustomization["metadata"]["name"].removesuffix("-secrets") in block_ids:  # a block, or its SOPS secrets
            assert kustomization["spec"]["serviceAccountName"].startswith("bb-")
            assert kustomization["spec"]["targetNamespace"]
        else:  # the platform layer, under Flux's lockdown: the account flux install binds to cluster-admin
            assert kustomization["spec"]["serviceAccountName"] == "kustomize-controller"
    for release in of_kind(objects, "HelmRelease"):
        assert release["spec"]["serviceAccountName"] == "helm-reconciler"
        ref = release["spec"].get("chartRef") or release["spec"]["chart"]["spec"]["sourceRef"]
        assert "namespace" not in ref  # the source sits in the release's own namespace


def test_argo_projects_fence_every_building_block(tree: tuple[Resolved, list[dict[str, Any]]]) -> None:
    env, objects = tree
    if env.gitops.engine != "argocd":
        assert not of_kind(objects, "Application") and not of_kind(objects, "AppProject")
        return
    projects = {p["metadata"]["name"]: p["spec"] for p in of_kind(objects, "AppProject")}
    for block in env.blocks:
        fence = projects[block.id]
        assert fence["destinations"] == [{"server": "https://kubernetes.default.svc", "namespace": block.namespace}]
        assert fence["clusterResourceWhitelist"] == [] and "sourceNamespaces" not in fence
        assert fence["destinationServiceAccounts"][0]["defaultServiceAccount"] == "helm-reconciler"
        assert {k["kind"] for k in fence["namespaceResourceBlacklist"]} >= {"Role", "RoleBinding", "NetworkPolicy"}
    for app in of_kind(objects, "Application"):
        assert app["spec"]["project"] in projects and app["spec"]["project"] != "default"
        assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
        assert "finalizers" not in app["metadata"]  # deleting an Application never cascades to data
    assert "*" not in str(projects["platform"]["destinations"]) + str(projects["platform"]["clusterResourceWhitelist"])


def test_static_volumes_and_namespaces_are_never_pruned(tree: tuple[Resolved, list[dict[str, Any]]]) -> None:
    env, objects = tree
    key, value = (("argocd.argoproj.io/sync-options", "Prune=false,Delete=false") if env.gitops.engine == "argocd"
                  else ("kustomize.toolkit.fluxcd.io/prune", "disabled"))
    for obj in of_kind(objects, "Namespace") + of_kind(objects, "PersistentVolume") + of_kind(objects, "PersistentVolumeClaim"):
        assert obj["metadata"]["annotations"][key] == value
    for pv in of_kind(objects, "PersistentVolume"):
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"


def test_only_the_secrets_layers_decrypt() -> None:
    """CHECKLIST B36: SOPS files only through a decrypting Kustomization, and no other one holds the key."""
    from govstack_gen.validation.policy import check_policy

    def layer(name: str, path: str, decryption: dict[str, Any] | None) -> dict[str, Any]:
        spec: dict[str, Any] = {"path": path, "serviceAccountName": f"bb-{name}"}
        if decryption:
            spec["decryption"] = decryption
        return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": name, "namespace": "flux-system"}, "spec": spec}

    sops = {"provider": "sops", "secretRef": {"name": "sops-age"}}
    good = [layer("cache-secrets", "./secrets/dev/cache", sops), layer("cache", "./building-blocks/dev/cache", None)]
    assert check_policy(good) == []
    bad = [layer("cache-secrets", "./env/secrets/dev/cache", None), layer("cache", "./building-blocks/dev/cache", sops)]
    assert [(v[0]["metadata"]["name"], v[2]) for v in check_policy(bad)] == [
        ("cache-secrets", "a Kustomization applying SOPS files must decrypt them (decryption.provider: sops)"),
        ("cache", "only the Kustomizations of secrets/ may decrypt"),
    ]


def test_rds_instances_keep_their_data_and_stay_private() -> None:
    from govstack_gen.validation.policy import check_policy

    instance = {"apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBInstance",
                "metadata": {"name": "db", "namespace": "registry", "annotations": {
                    "kustomize.toolkit.fluxcd.io/prune": "disabled", "services.k8s.aws/deletion-policy": "retain"}},
                "spec": {"deletionProtection": True, "publiclyAccessible": False, "storageEncrypted": True}}
    assert check_policy([instance]) == []
    loose = {**instance, "metadata": {"name": "db", "namespace": "registry"},
             "spec": {"deletionProtection": False, "publiclyAccessible": True}}
    assert sorted(v[2] for v in check_policy([loose])) == [
        "DBInstance must carry kustomize.toolkit.fluxcd.io/prune: disabled (Flux) or argocd.argoproj.io/sync-options: "
        "Prune=false,Delete=false (Argo CD)",
        "an RDS instance must carry services.k8s.aws/deletion-policy: retain",
        "an RDS instance must set deletionProtection: true",
        "an RDS instance must set publiclyAccessible: false",
        "an RDS instance must set storageEncrypted: true",
    ]
