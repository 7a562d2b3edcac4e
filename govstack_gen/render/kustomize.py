"""kustomize `kustomization.yaml` files: the lists that tie each folder together."""

from __future__ import annotations

from typing import Any

__all__ = ["kustomization"]


def kustomization(resources: list[str], patches: list[str] | None = None) -> dict[str, Any]:
    """resources sorted, so a reviewer sees additions in place and the bytes never depend on order."""
    out: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(resources),
    }
    if patches:
        out["patches"] = [{"path": p} for p in sorted(patches)]
    return out
