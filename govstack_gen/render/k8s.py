"""Core Kubernetes objects and the metadata every rendered object carries."""

from __future__ import annotations

from typing import Any

from govstack_gen.resolve import Block, Resolved
from govstack_gen.spec.types import parse_quantity

__all__ = ["PRUNE_DISABLED", "labels", "limit_range", "metadata", "namespace", "resource_quota"]

MANAGED_BY = {"app.kubernetes.io/managed-by": "govstack-gen"}
# Flux never deletes an object carrying this annotation, even when it leaves the tree: a
# namespace holds the data of its building block.
PRUNE_DISABLED = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}

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


def metadata(name: str, namespace: str | None, object_labels: dict[str, str],
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = object_labels
    if annotations:
        meta["annotations"] = annotations
    return meta


def namespace(env: Resolved, block: Block) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(block.namespace, None, labels(env, block.id), dict(PRUNE_DISABLED)),
    }


def resource_quota(env: Resolved, block: Block) -> dict[str, Any] | None:
    if block.resources is None:
        return None
    res = block.resources
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": metadata(block.id, block.namespace, labels(env, block.id)),
        "spec": {
            "hard": {
                "requests.cpu": res.requests.cpu,
                "requests.memory": res.requests.memory,
                "limits.cpu": res.limits.cpu,
                "limits.memory": res.limits.memory,
            }
        },
    }


def limit_range(env: Resolved, block: Block) -> dict[str, Any] | None:
    if block.resources is None:
        return None
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
