"""Air-gapped environments: the same environment with every chart and image taken from one
private registry (the seeds' offline mode: one list, one downloader, one import).

Layout in the registry, which `govstack-gen bom --mirror` lists source by source:

    oci://<registry>/charts/<chart>:<version>    every chart, pushed with `helm push`; a git
                                                 chart is packaged from its folder at its tag
    <registry>/<path>:<tag>                      every image, its path without the source
                                                 registry (docker.io/bitnami/kafka ->
                                                 <registry>/bitnami/kafka)

The add-ons' charts (Traefik where it is ours to install, cert-manager, the EFS CSI driver, the
ACK RDS controller, the Karpenter controller) come from the mirror too. Images a chart uses by
default, without values naming them (every add-on's), keep their references: `bom --charts`
lists them for the container runtime's registry mirror (k3s registries.yaml, containerd
hosts.toml, an ECR pull-through cache).

The transformation is pure: resolved spec in, resolved spec out; the renderers do the rest,
so the mirrored tree has the same shape (and validates the same way) as the original.
"""

from __future__ import annotations

import copy
import dataclasses
import posixpath
import re
from typing import Any

from govstack_gen.bom import ImageRef, find_images
from govstack_gen.errors import Diagnostic, SourceLocation, SpecError
from govstack_gen.resolve import Block, Resolved, StageDelta, Written
from govstack_gen.spec.model import GitChart, RepoChart
from govstack_gen.spec.types import is_commit, tag_version

__all__ = ["REGISTRY", "chart_target", "image_target", "mirror"]

# host[:port][/path]: where charts and images are pushed; no scheme, no trailing slash.
REGISTRY = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*")
CHARTS = "charts"


def chart_target(registry: str, name_or_path: str, version: str, *, git: bool) -> tuple[str, str, str]:
    """(repository URL, chart name, version) in the mirror. A git chart (`name_or_path` is its
    folder) is packaged with its tag's version as the chart version, without the chart's name
    and the leading v (Helm wants SemVer 2: 1.4.2)."""
    if git:
        # A commit has no version of its own: a SemVer 2 pre-release naming it stands in.
        packaged = f"0.0.0-git.{version[:12]}" if is_commit(version) else tag_version(version) or version
        return f"oci://{registry}/{CHARTS}", posixpath.basename(name_or_path), packaged
    return f"oci://{registry}/{CHARTS}", name_or_path, version


def image_target(registry: str, repository: str, tag: str | None = None, digest: str | None = None) -> str:
    """The image's reference in the mirror: its path without the source registry."""
    return f"{registry}/{repository}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _chart_target(registry: str, chart: RepoChart | GitChart, version: str) -> tuple[str, str, str]:
    if isinstance(chart, GitChart):
        return chart_target(registry, chart.path, version, git=True)
    return chart_target(registry, chart.name, version, git=False)


def _rewrite(values: dict[str, Any], registry: str) -> dict[str, Any]:
    out = copy.deepcopy(values)
    for ref in find_images(values):
        parent: Any = out
        for part in ref.path[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = ref.path[-1] if ref.path else ""
        if ref.style == "string":
            parent[int(last) if isinstance(parent, list) else last] = image_target(registry, ref.repository, ref.tag, ref.digest)
            continue
        node = parent[int(last) if isinstance(parent, list) else last] if ref.path else parent
        if ref.has_registry_key:
            node["registry"] = registry
            node["repository"] = ref.repository
        else:
            node["repository"] = image_target(registry, ref.repository)
    return out


def _block(block: Block, registry: str) -> Block:
    chart = _mirrored_chart(registry, block.chart)
    # What the mirror writes must reach the chart like any value govstack-gen writes (images in
    # lists or under dotted keys are left to the image check: their values key cannot be said).
    written = [Written(".".join(key), f"the mirror's image {image_target(registry, ref.repository, ref.tag, ref.digest)}",
                       block.id, ("values", *ref.path))
               for ref in find_images(block.values)
               if (key := _written_key(ref)) and not any(p.isdigit() or "." in p for p in key)]
    return dataclasses.replace(block, chart=chart, values=_rewrite(block.values, registry), written=(*block.written, *written))


def _written_key(ref: ImageRef) -> tuple[str, ...]:
    """The values key the mirror rewrites for an image: the reference string, or the mapping's
    registry (or repository, without a registry key)."""
    if ref.style == "string":
        return ref.path
    return (*ref.path, "registry" if ref.has_registry_key else "repository")


def _delta(block: Block, delta: StageDelta, registry: str) -> StageDelta:
    version = delta.version and _chart_target(registry, block.chart, delta.version)[2]
    return dataclasses.replace(delta, values=_rewrite(delta.values, registry), version=version)


def mirror(env: Resolved, registry: str) -> Resolved:
    """Raises SpecError when the registry is not a host[:port][/path]."""
    if not REGISTRY.fullmatch(registry):
        raise SpecError([Diagnostic("E801", f"{registry!r} is not a registry (host[:port][/path], lower case, no scheme)",
                                    SourceLocation("--mirror"), hint="for example registry.internal:5000/govstack")])
    stages = tuple(
        dataclasses.replace(stage, deltas={bid: _delta(env.block(bid), delta, registry) for bid, delta in stage.deltas.items()})
        for stage in env.stages
    )
    return dataclasses.replace(env, blocks=tuple(_block(b, registry) for b in env.blocks), stages=stages,
                               **_addon_charts(env, registry))


def _mirrored_chart(registry: str, chart: RepoChart | GitChart) -> RepoChart:
    """The chart as the mirror serves it (a git chart packaged)."""
    url, name, version = _chart_target(registry, chart, chart.version)
    return RepoChart(repo=url, name=name, version=version)


def _addon_charts(env: Resolved, registry: str) -> dict[str, Any]:
    """The settings of every add-on govstack-gen installs, each with its chart (given or default)
    from the mirror: the fields of `env` to replace."""
    from govstack_gen.render.addons import addon_releases

    charts = {r.name: _mirrored_chart(registry, r.chart) for r in addon_releases(env)}
    out: dict[str, Any] = {}
    if env.ingress is not None:
        ingress = env.ingress
        if "traefik" in charts:
            ingress = ingress.model_copy(update={"traefik": ingress.traefik.model_copy(update={"chart": charts["traefik"]})})
        if "cert-manager" in charts and ingress.cert_manager is not None:
            ingress = ingress.model_copy(update={"cert_manager": ingress.cert_manager.model_copy(update={"chart": charts["cert-manager"]})})
        out["ingress"] = ingress
    if "aws-efs-csi-driver" in charts:
        out["efs_csi_driver"] = env.efs_csi_driver.model_copy(update={"chart": charts["aws-efs-csi-driver"]})
    if "ack-rds-controller" in charts:
        out["rds_controller"] = env.rds_controller.model_copy(update={"chart": charts["ack-rds-controller"]})
    worker = env.node_pools.worker
    if "karpenter" in charts and worker.karpenter is not None and worker.karpenter.controller is not None:
        controller = worker.karpenter.controller.model_copy(update={"chart": charts["karpenter"]})
        karpenter = worker.karpenter.model_copy(update={"controller": controller})
        out["node_pools"] = env.node_pools.model_copy(update={"worker": worker.model_copy(update={"karpenter": karpenter})})
    return out
