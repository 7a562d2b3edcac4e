"""Resolve a checked spec into what the renderers need: defaults applied, stage overrides
reduced to what really differs, dependencies in a stable order.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from govstack_gen.spec.model import BuildingBlock, Environment, GitChart, GitOps, RepoChart, Resources

__all__ = ["Block", "Resolved", "ResolvedStage", "StageDelta", "deep_merge", "resolve"]

SourceKind = Literal["HelmRepository", "OCIRepository", "GitRepository"]


@dataclass(frozen=True)
class Block:
    """A building block as every stage starts from it (the base)."""

    id: str
    namespace: str
    chart: RepoChart | GitChart
    values: dict[str, Any]
    replicas: int | None
    depends_on: tuple[str, ...]
    resources: Resources | None

    @property
    def source_kind(self) -> SourceKind:
        if isinstance(self.chart, GitChart):
            return "GitRepository"
        return "OCIRepository" if self.chart.repo.startswith("oci://") else "HelmRepository"


@dataclass(frozen=True)
class StageDelta:
    """What one stage changes for one building block; None/empty means 'as in the base'."""

    values: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    replicas: int | None = None

    @property
    def empty(self) -> bool:
        return not self.values and self.version is None and self.replicas is None


@dataclass(frozen=True)
class ResolvedStage:
    name: str
    domain: str
    deltas: dict[str, StageDelta]  # by building block id; every block has an entry


@dataclass(frozen=True)
class Resolved:
    name: str
    source: str  # the spec's file name, for headers
    platform: str
    gitops: GitOps
    blocks: tuple[Block, ...]  # sorted by id
    stages: tuple[ResolvedStage, ...]  # in spec order

    def block(self, block_id: str) -> Block:
        return next(b for b in self.blocks if b.id == block_id)


def resolve(env: Environment, source: str) -> Resolved:
    blocks = tuple(sorted((_block(b) for b in env.building_blocks), key=lambda b: b.id))
    stages = tuple(
        ResolvedStage(stage.name, stage.domain, {b.id: _delta(b, stage.building_blocks.get(b.id)) for b in blocks})
        for stage in env.stages
    )
    return Resolved(env.metadata.name, source, env.platform.type, env.gitops, blocks, stages)


def _block(spec: BuildingBlock) -> Block:
    return Block(
        id=spec.id,
        namespace=spec.ns,
        chart=spec.chart,
        values=copy.deepcopy(spec.values),
        replicas=spec.replicas,
        depends_on=tuple(sorted(set(spec.depends_on))),
        resources=spec.resources,
    )


def _delta(block: Block, override: Any) -> StageDelta:
    if override is None:
        return StageDelta()
    return StageDelta(
        values=copy.deepcopy(override.values),
        version=override.version if override.version != block.chart.version else None,
        replicas=override.replicas if override.replicas != block.replicas else None,
    )


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's and kustomize's merge of values: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
