"""The security properties every rendered tree has (../CHECKLIST §2), checked on the objects
kustomize builds for one stage: what the cluster would receive, after every overlay.

Each rule returns violations as (object, path in the object, message); the checker turns them
into located diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from govstack_gen.render.layout import SECRETS_DIR
from govstack_gen.spec.tenancy import RESERVED_NAMESPACES

__all__ = ["RULES", "Violation", "check_policy"]

Obj = dict[str, Any]
Path = tuple[str | int, ...]
Violation = tuple[Obj, Path, str]

FORBIDDEN_VERBS = frozenset({"*", "escalate", "bind", "impersonate"})
# Subresources and kinds that let a namespace holder break out of it (rbac-good-practices).
FORBIDDEN_RESOURCES = frozenset({
    "*", "pods/exec", "pods/attach", "nodes/proxy", "serviceaccounts/token", "certificatesigningrequests/approval",
    "mutatingwebhookconfigurations", "validatingwebhookconfigurations",
    "namespaces", "roles", "rolebindings", "networkpolicies", "resourcequotas", "limitranges", "persistentvolumes",
    "storageclasses",
})
READ_VERBS = frozenset({"get", "list", "watch"})
PSS_LEVELS = ("restricted", "baseline")
# The engines' own namespaces hold only the engine's objects for the environment.
ENGINE_NAMESPACES = {
    "flux-system": frozenset({"Kustomization", "GitRepository", "ServiceAccount"}),
    "argocd": frozenset({"Application", "AppProject", "ConfigMap"}),
}
PROTECTED_KINDS = ("Namespace", "PersistentVolume", "PersistentVolumeClaim", "DBInstance")
# What keeps an RDS database and its data: never deleted with its object, private, encrypted.
RDS_SAFE = {"deletionProtection": True, "publiclyAccessible": False, "storageEncrypted": True}
ACK_DELETION_POLICY = "services.k8s.aws/deletion-policy"
PRUNE = "kustomize.toolkit.fluxcd.io/prune"
ARGO_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
# The projects of the platform's own layers, which create cluster-wide objects (the add-ons':
# Traefik's CRDs, IngressClass and cluster roles); every other project is a building block's.
ARGO_PLATFORM_PROJECTS = frozenset({"platform", "addons"})
PLATFORM_ADMINS = "govstack-platform-admins"


def _kind(objects: list[Obj], kind: str) -> Iterator[Obj]:
    return (o for o in objects if o.get("kind") == kind)


def _meta(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def namespaces_are_isolated(objects: list[Obj]) -> Iterator[Violation]:
    """Pod security pinned, a quota, a limit range and default-deny in every namespace we create."""
    for ns in _kind(objects, "Namespace"):
        yield from _pod_security(ns)
        name = _meta(ns).get("name")
        inside = [o for o in objects if _meta(o).get("namespace") == name]
        for kind in ("ResourceQuota", "LimitRange"):
            if not any(True for _ in _kind(inside, kind)):
                yield ns, (), f"namespace {name} has no {kind}"
        deny = [p for p in _kind(inside, "NetworkPolicy")
                if p.get("spec") == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}]
        if not deny:
            yield ns, (), f"namespace {name} has no default-deny NetworkPolicy (podSelector {{}}, Ingress and Egress)"


def add_on_namespaces_are_pinned(objects: list[Obj]) -> Iterator[Violation]:
    """An add-on's namespace (Traefik's) is the platform's: pod security pinned like any other,
    without a tenant's quota and default-deny (Traefik takes traffic from anywhere)."""
    for ns in _kind(objects, "Namespace"):
        yield from _pod_security(ns)


def _pod_security(ns: Obj) -> Iterator[Violation]:
    labels, pss = _meta(ns).get("labels") or {}, "pod-security.kubernetes.io/"
    if labels.get(f"{pss}enforce") not in PSS_LEVELS:
        yield ns, ("metadata", "labels", f"{pss}enforce"), "pod security must enforce restricted (baseline at least)"
    for mode in ("audit", "warn"):
        if labels.get(f"{pss}{mode}") != "restricted":
            yield ns, ("metadata", "labels", f"{pss}{mode}"), f"pod security {mode} must be restricted"
    for mode in ("enforce", "audit", "warn"):
        if not str(labels.get(f"{pss}{mode}-version", "")).startswith("v1."):
            yield ns, ("metadata", "labels", f"{pss}{mode}-version"), f"pod security {mode} must be pinned to a Kubernetes version"


def rbac_is_least_privilege(objects: list[Obj]) -> Iterator[Violation]:
    for role in _kind(objects, "ClusterRole"):
        yield role, (), "tenants never get ClusterRoles; bind a built-in role or a namespaced Role"
    for role in _kind(objects, "Role"):
        for i, rule in enumerate(role.get("rules") or []):
            if "*" in (rule.get("apiGroups") or []):
                yield role, ("rules", i, "apiGroups"), "wildcard API group"
            if bad := FORBIDDEN_VERBS & set(rule.get("verbs") or []):
                yield role, ("rules", i, "verbs"), f"forbidden verbs {sorted(bad)}"
            writes = set(rule.get("verbs") or []) - READ_VERBS
            for resource in rule.get("resources") or []:
                if resource in FORBIDDEN_RESOURCES and (writes or "/" in resource or resource == "*"):
                    yield role, ("rules", i, "resources"), f"{resource!r} lets a tenant escape its namespace"
    for binding in [*_kind(objects, "RoleBinding"), *_kind(objects, "ClusterRoleBinding")]:
        for i, subject in enumerate(binding.get("subjects") or []):
            if subject.get("kind") == "ServiceAccount" and subject.get("name") == "default":
                yield binding, ("subjects", i), "the default ServiceAccount must have no bindings"
        if binding.get("kind") == "ClusterRoleBinding" and (
            _meta(binding).get("name") != PLATFORM_ADMINS or any(s.get("kind") != "Group" for s in binding.get("subjects") or [])
        ):
            yield binding, (), f"the only ClusterRoleBinding is {PLATFORM_ADMINS}, to groups"
    for account in _kind(objects, "ServiceAccount"):
        if account.get("automountServiceAccountToken") is not False:
            yield account, ("automountServiceAccountToken",), "must be false (no token unless a workload needs one)"


def routes_are_tls_and_same_namespace(objects: list[Obj]) -> Iterator[Violation]:
    for route in _kind(objects, "IngressRoute"):
        spec = route.get("spec") or {}
        entry_points = spec.get("entryPoints") or []
        if "websecure" in entry_points:
            tls = spec.get("tls") or {}
            if not (tls.get("certResolver") or tls.get("secretName")):
                yield route, ("spec", "tls"), "public route without TLS (certResolver or secretName)"
        elif any(m != {"name": "https-redirect"} for rule in spec.get("routes") or [] for m in rule.get("middlewares") or [None]):
            yield route, ("spec", "routes"), "a plain-HTTP route may only redirect to HTTPS"
    for route in [*_kind(objects, "IngressRoute"), *_kind(objects, "IngressRouteTCP")]:
        for i, rule in enumerate((route.get("spec") or {}).get("routes") or []):
            for field in ("services", "middlewares"):
                for j, ref in enumerate(rule.get(field) or []):
                    if "@" in str(ref.get("name", "")) or "namespace" in ref:
                        yield route, ("spec", "routes", i, field, j), "references must stay in the route's namespace"


def flux_is_locked_down(objects: list[Obj]) -> Iterator[Violation]:
    for obj in objects:
        namespace = _meta(obj).get("namespace")
        if namespace in ENGINE_NAMESPACES:
            if obj.get("kind") not in ENGINE_NAMESPACES[namespace]:
                yield obj, ("metadata", "namespace"), f"only {sorted(ENGINE_NAMESPACES[namespace])} belong in {namespace}"
        elif namespace is not None and (namespace in RESERVED_NAMESPACES or namespace.startswith("kube-")):
            yield obj, ("metadata", "namespace"), f"{namespace} is reserved for the platform"
    for kustomization in _kind(objects, "Kustomization"):
        spec = kustomization.get("spec") or {}
        if kustomization.get("apiVersion", "").startswith("kustomize.toolkit.fluxcd.io/") and not spec.get("serviceAccountName"):
            yield kustomization, ("spec",), "every Kustomization must name the account it applies as (Flux's lockdown)"
    for release in _kind(objects, "HelmRelease"):
        spec = release.get("spec") or {}
        if not spec.get("serviceAccountName"):
            yield release, ("spec",), "a HelmRelease must impersonate a namespaced service account"
        ref = spec.get("chartRef") or ((spec.get("chart") or {}).get("spec") or {}).get("sourceRef") or {}
        if ref.get("namespace") not in (None, _meta(release).get("namespace")):
            yield release, ("spec",), "the chart source must be in the release's own namespace"


def argo_is_locked_down(objects: list[Obj]) -> Iterator[Violation]:
    """Argo CD's tenancy (CHECKLIST §6): never the default project, tenants fenced to their
    namespace with nothing cluster-wide, no Applications outside Argo CD's namespace."""
    for app in _kind(objects, "Application"):
        if (app.get("spec") or {}).get("project") in (None, "", "default"):
            yield app, ("spec", "project"), "an Application must use its own AppProject, never default"
    for project in _kind(objects, "AppProject"):
        spec = project.get("spec") or {}
        for i, dest in enumerate(spec.get("destinations") or []):
            if "*" in str(dest.get("namespace", "")) or "*" in str(dest.get("server", "")):
                yield project, ("spec", "destinations", i), "destinations must name namespaces, no wildcards"
        if "argocd" in (spec.get("sourceNamespaces") or []) or "*" in (spec.get("sourceNamespaces") or []):
            yield project, ("spec", "sourceNamespaces"), "Applications from Argo CD's own namespace only"
        if _meta(project).get("name") not in ARGO_PLATFORM_PROJECTS and spec.get("clusterResourceWhitelist"):
            yield project, ("spec", "clusterResourceWhitelist"), "a building block's project may create nothing cluster-wide"


def _keeps_data(obj: Obj) -> bool:
    annotations = _meta(obj).get("annotations") or {}
    argo = set(str(annotations.get(ARGO_SYNC_OPTIONS, "")).replace(" ", "").split(","))
    return annotations.get(PRUNE) == "disabled" or {"Prune=false", "Delete=false"} <= argo


def data_is_never_pruned(objects: list[Obj]) -> Iterator[Violation]:
    for kind in PROTECTED_KINDS:
        for obj in _kind(objects, kind):
            if not _keeps_data(obj):
                yield obj, ("metadata", "annotations"), (f"{kind} must carry {PRUNE}: disabled (Flux) or "
                                                         f"{ARGO_SYNC_OPTIONS}: Prune=false,Delete=false (Argo CD)")
    for pv in _kind(objects, "PersistentVolume"):
        if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") != "Retain":
            yield pv, ("spec", "persistentVolumeReclaimPolicy"), "static volumes must be Retain"
    for claim in _kind(objects, "PersistentVolumeClaim"):
        spec = claim.get("spec") or {}
        if spec.get("volumeName") and spec.get("storageClassName") is None:
            yield claim, ("spec",), "a claim bound to a static volume must name its StorageClass (no default class)"
    for instance in _kind(objects, "DBInstance"):
        spec = instance.get("spec") or {}
        if (_meta(instance).get("annotations") or {}).get(ACK_DELETION_POLICY) != "retain":
            yield instance, ("metadata", "annotations"), f"an RDS instance must carry {ACK_DELETION_POLICY}: retain"
        for field, value in RDS_SAFE.items():
            if spec.get(field) is not value:
                yield instance, ("spec", field), f"an RDS instance must set {field}: {str(value).lower()}"


def no_plaintext_secrets(objects: list[Obj]) -> Iterator[Violation]:
    for secret in _kind(objects, "Secret"):
        if "sops" not in secret:
            yield secret, (), "a Secret in git must be SOPS-encrypted (or come from an external store)"
    # CHECKLIST B36: SOPS files are applied only by a Kustomization that decrypts them, and only
    # those Kustomizations hold the decryption key (least privilege for every other layer).
    for kustomization in _kind(objects, "Kustomization"):
        spec = kustomization.get("spec") or {}
        secrets_path = f"/{SECRETS_DIR}/" in f"{spec.get('path', '')}/"
        if secrets_path and (spec.get("decryption") or {}).get("provider") != "sops":
            yield kustomization, ("spec",), "a Kustomization applying SOPS files must decrypt them (decryption.provider: sops)"
        if spec.get("decryption") and not secrets_path:
            yield kustomization, ("spec", "decryption"), f"only the Kustomizations of {SECRETS_DIR}/ may decrypt"


RULES: tuple[Callable[[list[Obj]], Iterator[Violation]], ...] = (
    namespaces_are_isolated, rbac_is_least_privilege, routes_are_tls_and_same_namespace, flux_is_locked_down,
    argo_is_locked_down, data_is_never_pruned, no_plaintext_secrets,
)


# The add-ons layer (addons/) is the platform's own: it lives in the reserved namespaces of what
# it configures (k3s's kube-system, Traefik's) and its chart installs cluster-wide objects, so
# the tenants' fences do not apply; its data and secrets rules do.
ADD_ON_RULES: tuple[Callable[[list[Obj]], Iterator[Violation]], ...] = (
    add_on_namespaces_are_pinned, data_is_never_pruned, no_plaintext_secrets,
)


def check_policy(objects: list[Obj], add_ons: list[Obj] | None = None) -> list[Violation]:
    """`objects`: what a stage's layers build but the add-ons layer; `add_ons`: what it builds."""
    return [violation for rule in RULES for violation in rule(objects)] + [
        violation for rule in ADD_ON_RULES for violation in rule(add_ons or [])]
