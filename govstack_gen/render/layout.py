"""The one place that knows where each rendered file lives in the output tree.

    clusters/<stage>/                 entry point Flux syncs for a stage's cluster
    addons/base/                      the add-ons layer, reconciled first: Traefik's configuration
                                      (or its chart) and its ACME volume, cert-manager, the EFS CSI
                                      driver, the ACK RDS controller
    addons/<stage>/                   the add-ons layer of a stage: the base and what differs per
                                      cluster (the Karpenter controller, with its cluster's name)
    platform/base/<bb>/               cluster-level objects per building block (namespace, quota,
                                      volumes and claims)
    platform/cluster/                 cluster-wide objects shared by all stages (StorageClasses,
                                      cert-manager's ClusterIssuer, the platform admins' binding)
    platform/<stage>/                 the platform layer of a stage (and the worker pool's NodePool)
    platform/<stage>/<bb>/            the building block's routes in that stage (hosts differ) and
                                      their Certificate
    building-blocks/base/<bb>/        chart source and HelmRelease, stage-independent
    building-blocks/<stage>/<bb>/     overlay: only what the stage changes (and its RDS database)
    secrets/<stage>/<bb>/             the operator's SOPS-encrypted Secrets (never written by us)
    .sops.yaml                        SOPS creation rules: each stage's secrets for its keys

Every path component comes from a validated RFC 1123 label, so no path can escape the root
(the writer checks again) and no two differ only by case.
"""

from __future__ import annotations

import posixpath
import re

__all__ = [
    "ADDONS_DIR",
    "MANIFEST_DIR",
    "SECRETS_DIR",
    "SOPS_CONFIG",
    "TOP_LEVEL",
    "addons_base_dir",
    "addons_stage_dir",
    "block_base_dir",
    "block_stage_dir",
    "cluster_dir",
    "entry_stage",
    "file_name",
    "platform_base_dir",
    "platform_cluster_dir",
    "platform_routes_dir",
    "platform_stage_dir",
    "repo_path",
    "secret_file",
    "secrets_dir",
    "stage_entry_points",
]

MANIFEST_DIR = ".govstack-gen"
ADDONS_DIR = "addons"
TOP_LEVEL = (ADDONS_DIR, "building-blocks", "clusters", "platform")  # every rendered object is under one of these
SOPS_CONFIG = ".sops.yaml"  # the one rendered file beside them: not a Kubernetes object
SECRETS_DIR = "secrets"  # the operator's encrypted files; read (checked), never written


def secrets_dir(stage: str, block: str) -> str:
    return f"{SECRETS_DIR}/{stage}/{block}"


def secret_file(stage: str, block: str, name: str) -> str:
    return f"{secrets_dir(stage, block)}/{name}.sops.yaml"


def addons_base_dir() -> str:
    return f"{ADDONS_DIR}/base"


def addons_stage_dir(stage: str) -> str:
    return f"{ADDONS_DIR}/{stage}"


def cluster_dir(stage: str) -> str:
    return f"clusters/{stage}"


def platform_base_dir(block: str | None = None) -> str:
    return "platform/base" if block is None else f"platform/base/{block}"


def platform_cluster_dir() -> str:
    return "platform/cluster"


def platform_routes_dir(stage: str, block: str) -> str:
    return f"platform/{stage}/{block}"


def platform_stage_dir(stage: str) -> str:
    return f"platform/{stage}"


def block_base_dir(block: str) -> str:
    return f"building-blocks/base/{block}"


def block_stage_dir(stage: str, block: str) -> str:
    return f"building-blocks/{stage}/{block}"


def file_name(kind: str, name: str) -> str:
    """One object per file, named from kind and name: helmrelease-payments.yaml."""
    return f"{kind.lower()}-{name}.yaml"


def repo_path(tree_root: str, directory: str) -> str:
    """Path of a tree folder as Flux sees it from the git repository root: ./<root>/<dir>."""
    joined = posixpath.normpath(posixpath.join(tree_root, directory))
    return "./" + joined


def relative(from_dir: str, to_dir: str) -> str:
    return posixpath.relpath(to_dir, from_dir)


# The same folders, recognised in a tree (clusters/<stage>, addons/<stage>, platform/<stage>,
# building-blocks/<stage>/<bb>).
_ENTRY = re.compile(r"(clusters/[^/]+|addons/(?!base$)[^/]+|platform/(?!base$|cluster$)[^/]+|building-blocks/(?!base/)[^/]+/[^/]+)")


def entry_stage(folder: str) -> str | None:
    """The stage whose entry point `folder` is, or None."""
    return folder.split("/")[1] if _ENTRY.fullmatch(folder) else None


def stage_entry_points(stage: str, blocks: list[str], with_addons: bool = False) -> list[str]:
    """The folders Flux builds for a stage: the cluster entry point, then each Kustomization's path."""
    return [cluster_dir(stage), *([addons_stage_dir(stage)] if with_addons else []), platform_stage_dir(stage),
            *(block_stage_dir(stage, b) for b in blocks)]
