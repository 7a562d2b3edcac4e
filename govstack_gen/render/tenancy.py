"""What keeps a building block in its namespace: people's access (OIDC groups bound to roles),
the reconcilers' least-privilege rights, default-deny network policies with declared flows,
and node placement for its workloads.

The reconcilers follow Flux's multi-tenancy model: each building block's Flux Kustomization
impersonates its own service account, bound only in the building block's namespace, and its
HelmRelease impersonates another one there, so neither can write outside the namespace nor
touch the namespace's RBAC, quota, limits or network policies.
"""

from __future__ import annotations

from typing import Any

from govstack_gen.render import k8s
from govstack_gen.resolve import Block, Resolved
from govstack_gen.spec.model import NodePool
from govstack_gen.yaml_io import dumps

__all__ = [
    "HELM_RECONCILER",
    "cluster_role_bindings",
    "flux_reconciler_name",
    "network_policies",
    "placement_patches",
    "pool_placement",
    "rbac",
]

RBAC_API = "rbac.authorization.k8s.io/v1"
HELM_RECONCILER = "helm-reconciler"
FLUX_RECONCILER = "flux-reconciler"
WRITE = ["get", "list", "watch", "create", "update", "patch", "delete"]

# What charts create in their namespace. Deliberately absent: roles and role bindings,
# network policies, quotas, limit ranges (the platform's), and anything cluster-scoped.
HELM_RULES = [
    {"apiGroups": [""], "resources": ["configmaps", "secrets", "services", "serviceaccounts", "persistentvolumeclaims",
                                      "endpoints"], "verbs": WRITE},
    {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["get", "list", "watch", "delete"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"], "verbs": WRITE},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": WRITE},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": WRITE},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": WRITE},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": WRITE},
]
FLUX_RULES = [
    {"apiGroups": ["helm.toolkit.fluxcd.io"], "resources": ["helmreleases"], "verbs": WRITE},
    {"apiGroups": ["source.toolkit.fluxcd.io"], "resources": ["helmrepositories", "ocirepositories", "gitrepositories"],
     "verbs": WRITE},
]
# Applying the building block's decrypted SOPS files: Secrets by name, never listed or watched.
SECRET_RULES = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "update", "patch", "delete"]}]
# Its RDS database (ACK) and the ConfigMap the endpoint is exported to.
RDS_RULES = [
    {"apiGroups": ["rds.services.k8s.aws"], "resources": ["dbinstances", "dbsubnetgroups"], "verbs": WRITE},
    {"apiGroups": ["services.k8s.aws"], "resources": ["fieldexports"], "verbs": WRITE},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": WRITE},
]


def flux_reconciler_name(block: Block) -> str:
    return f"bb-{block.id}"


def _role(env: Resolved, block: Block, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": RBAC_API, "kind": "Role", "metadata": k8s.metadata(name, block.namespace, k8s.labels(env, block.id)),
            "rules": rules}


def _binding(env: Resolved, block: Block, name: str, role_kind: str, role: str, subjects: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_API,
        "kind": "RoleBinding",
        "metadata": k8s.metadata(name, block.namespace, k8s.labels(env, block.id)),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def _service_account(env: Resolved, block: Block, name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": k8s.metadata(name, namespace, k8s.labels(env, block.id)),
            "automountServiceAccountToken": False}


def _groups(env: Resolved, groups: list[str]) -> list[dict[str, Any]]:
    return [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": f"{env.access.groups_prefix}{g}"}
            for g in sorted(groups)]


def rbac(env: Resolved, block: Block) -> list[dict[str, Any]]:
    """The building block's reconcilers and its teams' bindings (the default account gets none)."""
    objects = []
    if env.gitops.engine == "flux":  # Argo CD applies the building block's Application itself
        flux_sa = flux_reconciler_name(block)
        objects += [
            _service_account(env, block, flux_sa, "flux-system"),
            _role(env, block, FLUX_RECONCILER, _flux_rules(block)),
            _binding(env, block, FLUX_RECONCILER, "Role", FLUX_RECONCILER,
                     [{"kind": "ServiceAccount", "name": flux_sa, "namespace": "flux-system"}]),
        ]
    # The chart's reconciler: Flux's HelmRelease and Argo CD's sync both impersonate it.
    objects += [
        _service_account(env, block, HELM_RECONCILER, block.namespace),
        _role(env, block, HELM_RECONCILER, HELM_RULES),
        _binding(env, block, HELM_RECONCILER, "Role", HELM_RECONCILER,
                 [{"kind": "ServiceAccount", "name": HELM_RECONCILER, "namespace": block.namespace}]),
    ]
    teams = {t.name: t for t in env.access.teams}
    custom = {r.name: r for r in env.access.roles}
    for team_name, role in sorted(block.spec.teams.items()):
        if role in custom:
            rules = [{"apiGroups": r.api_groups, "resources": r.resources, "verbs": r.verbs} for r in custom[role].rules]
            objects.append(_role(env, block, role, rules))
        kind = "Role" if role in custom else "ClusterRole"  # admin/edit/view: the built-in aggregated roles
        objects.append(_binding(env, block, f"team-{team_name}", kind, role, _groups(env, teams[team_name].groups)))
    return _unique(objects)


def _flux_rules(block: Block) -> list[dict[str, Any]]:
    rules = list(FLUX_RULES)
    if block.sops_secrets:
        rules += SECRET_RULES
    if block.rds is not None:
        rules += RDS_RULES
    return rules


def _unique(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in objects:
        seen.setdefault((obj["kind"], obj["metadata"]["name"]), obj)
    return list(seen.values())


def cluster_role_bindings(env: Resolved) -> list[dict[str, Any]]:
    """Cluster-wide rights only for the platform admins the spec names."""
    if not env.access.platform_admins:
        return []
    return [{
        "apiVersion": RBAC_API,
        "kind": "ClusterRoleBinding",
        "metadata": k8s.metadata("govstack-platform-admins", None, k8s.labels(env)),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": _groups(env, env.access.platform_admins),
    }]


def _policy(env: Resolved, block: Block, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": k8s.metadata(name, block.namespace, k8s.labels(env, block.id)), "spec": spec}


def _namespace_peer(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def network_policies(env: Resolved, block: Block) -> list[dict[str, Any]]:
    """Default deny both ways; then DNS, the namespace itself, Traefik to routed ports, and the
    flows the spec declares (both ends: egress at the caller, ingress at the callee)."""
    everything: dict[str, Any] = {}
    policies = [
        _policy(env, block, "default-deny", {"podSelector": everything, "policyTypes": ["Ingress", "Egress"]}),
        _policy(env, block, "allow-dns", {
            "podSelector": everything,
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{**_namespace_peer("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }],
        }),
        _policy(env, block, "allow-same-namespace", {
            "podSelector": everything,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": everything}]}],
            "egress": [{"to": [{"podSelector": everything}]}],
        }),
    ]
    # Network policies name the pods' ports, not the Service's: a route's targetPort when the
    # Service maps its port to another.
    ports = sorted({r.target_port or r.port for r in block.spec.routes} | {r.target_port or r.port for r in block.spec.tcp_routes})
    if ports:
        policies.append(_policy(env, block, "allow-ingress-controller", {
            "podSelector": everything,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [_namespace_peer(env.ingress_namespace)],
                         "ports": [{"protocol": "TCP", "port": port} for port in ports]}],
        }))
    by_id = {b.id: b for b in env.blocks}
    for target in block.connects_to:
        policies.append(_policy(env, block, f"allow-to-{target}", {
            "podSelector": everything, "policyTypes": ["Egress"], "egress": [{"to": [_namespace_peer(by_id[target].namespace)]}],
        }))
    for service in block.external:  # outside the cluster: its networks, its ports only
        policies.append(_policy(env, block, f"allow-to-{service.id}", {
            "podSelector": everything, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in sorted(service.cidrs)],
                        "ports": [{"protocol": "TCP", "port": port} for port in sorted(service.ports)]}],
        }))
    callers = sorted(b.id for b in env.blocks if block.id in b.connects_to)
    for caller in callers:
        policies.append(_policy(env, block, f"allow-from-{caller}", {
            "podSelector": everything, "policyTypes": ["Ingress"], "ingress": [{"from": [_namespace_peer(by_id[caller].namespace)]}],
        }))
    if block.spec.network.egress_cidrs:
        policies.append(_policy(env, block, "allow-egress-networks", {
            "podSelector": everything,
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in sorted(block.spec.network.egress_cidrs)]}],
        }))
    return policies


def pool_placement(pool: NodePool) -> dict[str, Any]:
    """What puts a pod on a node pool: its labels, and tolerations of its taints."""
    pod: dict[str, Any] = {"nodeSelector": dict(sorted(pool.labels.items()))}
    if pool.taints:
        pod["tolerations"] = [{"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect} if t.value
                              else {"key": t.key, "operator": "Exists", "effect": t.effect} for t in pool.taints]
    return pod


def placement_patches(env: Resolved) -> list[dict[str, Any]]:
    """Building blocks run on the worker pool, whatever the chart says: a post-renderer patch on
    every workload kind (core nodes stay for the platform's own services)."""
    pod = pool_placement(env.node_pools.worker)
    patches = []
    for kind in ("Deployment", "StatefulSet", "DaemonSet"):
        patch = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "all"}, "spec": {"template": {"spec": pod}}}
        patches.append({"target": {"kind": kind}, "patch": dumps(patch)})
    return patches
