"""Core Kubernetes objects and the metadata every rendered object carries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from govstack_gen.resolve import Block, Resolved
from govstack_gen.spec.types import parse_quantity

__all__ = [
    "INFLUENCED_BY", "PRUNE_DISABLED", "PSS_VERSION", "influenced", "labels", "limit_range", "metadata", "namespace", "pod_security_labels",
    "protected",
    "resource_quota",
]

MANAGED_BY = {"app.kubernetes.io/managed-by": "govstack-gen"}
# Flux never deletes an object carrying this annotation, even when it leaves the tree: a
# namespace holds the data of its building block.
PRUNE_DISABLED = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
# Argo CD's equivalent: never pruned when it leaves the tree, never deleted with its Application.
ARGO_KEEP = {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}


def protected(env: Resolved) -> dict[str, str]:
    """Annotations that keep an object holding data when the engine would delete it."""
    return dict(ARGO_KEEP if env.gitops.engine == "argocd" else PRUNE_DISABLED)

# Container defaults where a chart sets no requests/limits: with a ResourceQuota in place the
# API server rejects pods that declare none (kubernetes PR #7003).
DEFAULT_REQUEST = {"cpu": "100m", "memory": "128Mi"}
DEFAULT_LIMIT = {"cpu": "500m", "memory": "512Mi"}


def labels(env: Resolved, block: str | None = None, stage: str | None = None) -> dict[str, str]:
    out = dict(MANAGED_BY)
    out["govstack.dev/environment"] = env.name
    if block is not None:
        out["govstack.dev/building-block"] = block
    if stage is not None:
        out["govstack.dev/stage"] = stage
    return out


INFLUENCED_BY = "govstack.dev/influenced-by"


def influenced(block: Block) -> dict[str, str]:
    """Tells a reviewer why a building block's values changed without its spec changing."""
    return {INFLUENCED_BY: ", ".join(block.influenced_by)} if block.influenced_by else {}


def metadata(name: str, namespace: str | None, object_labels: dict[str, str],
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = object_labels
    if annotations:
        meta["annotations"] = annotations
    return meta


# Pod Security Admission, pinned to a Kubernetes minor so that a cluster upgrade does not
# tighten (or loosen) the rules under running workloads without a commit.
PSS_VERSION = "v1.33"


def pod_security_labels(enforce: str) -> dict[str, str]:
    """Pod Security Admission labels: `enforce` enforced, restricted audited and warned about."""
    out = {}
    for mode, value in (("enforce", enforce), ("audit", "restricted"), ("warn", "restricted")):
        out[f"pod-security.kubernetes.io/{mode}"] = value
        out[f"pod-security.kubernetes.io/{mode}-version"] = PSS_VERSION
    return out


def namespace(env: Resolved, block: Block) -> dict[str, Any]:
    level = block.spec.pod_security.level
    object_labels = labels(env, block.id)
    if block.spec.owner:
        object_labels["govstack.dev/team"] = block.spec.owner
    object_labels |= pod_security_labels(level)
    annotations = protected(env)
    if level != "restricted":
        annotations["govstack.dev/pod-security-reason"] = block.spec.pod_security.reason.strip()
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(block.namespace, None, object_labels, annotations),
    }


def resource_quota(env: Resolved, block: Block) -> dict[str, Any]:
    res = block.resources
    hard = {
        "requests.cpu": res.requests.cpu,
        "requests.memory": res.requests.memory,
        "limits.cpu": res.limits.cpu,
        "limits.memory": res.limits.memory,
    }
    if block.volumes or res.storage:
        # Storage is counted where the spec declares it: exactly the declared claims fit.
        claimed = sum((parse_quantity(v.request) for v in block.volumes), start=Decimal(0))
        hard["requests.storage"] = res.storage or _quantity(claimed)
        hard["persistentvolumeclaims"] = str(len(block.volumes))
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": metadata(block.id, block.namespace, labels(env, block.id)),
        "spec": {"hard": hard},
    }


def _quantity(value: Decimal) -> str:
    """Bytes as the largest binary unit that divides them exactly (10Gi, not 10737418240)."""
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value and value % size == 0:
            return f"{int(value // size)}{unit}"
    return str(int(value))


def limit_range(env: Resolved, block: Block) -> dict[str, Any]:
    res = block.resources
    # Never default above the namespace budget, or a single defaulted pod could not start.
    request = {k: _smaller(v, getattr(res.requests, k)) for k, v in DEFAULT_REQUEST.items()}
    limit = {k: _smaller(v, getattr(res.limits, k)) for k, v in DEFAULT_LIMIT.items()}
    limit = {k: (v if parse_quantity(v) >= parse_quantity(request[k]) else request[k]) for k, v in limit.items()}
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": metadata(block.id, block.namespace, labels(env, block.id)),
        "spec": {"limits": [{"type": "Container", "defaultRequest": request, "default": limit}]},
    }


def _smaller(a: str, b: str) -> str:
    return a if parse_quantity(a) <= parse_quantity(b) else b
