"""The bill of materials of an environment: every chart (source, name, version) its building
blocks and the add-ons govstack-gen installs use, and every container image the building blocks
declare, per stage, for offline installs (the images of the add-ons, which no value names, with
`bom --charts`; k3s's bundled Traefik is k3s's own, in its air-gap images).

Images are found where Helm charts conventionally take them in values: a mapping under an
`...image` key (or any mapping with `repository` and `tag`), with optional `registry`, `tag`
and `digest` (`image: {registry: docker.io, repository: bitnami/kafka, tag: 3.6.0}`), or a
string under an `...image` key (`image: ghcr.io/org/app:1.2.3`). Images a chart uses by
default, without values naming them, are not known to the spec: pin them in values so that
Renovate, the bill of materials and the mirror all see them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from govstack_gen.resolve import Block, Resolved, ResolvedStage, deep_merge
from govstack_gen.spec.model import GitChart

__all__ = ["CHART_DEFAULT", "ChartEntry", "ImageEntry", "ImageRef", "bill_of_materials", "find_images", "split_reference",
           "with_chart_images"]

CHART_DEFAULT = "(chart)"  # the values path of an image the chart uses without values naming it

DOCKER_HUB = "docker.io"
# [registry[:port]/]path[:tag][@sha256:digest], lower-case path components (the distribution spec).
REFERENCE = re.compile(
    r"(?:(?P<registry>[a-zA-Z0-9.-]+(?::\d+)?)/)?(?P<path>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?"
)

COMPONENT = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")

Path = tuple[str, ...]


@dataclass(frozen=True)
class ImageRef:
    """An image as values name it, and where: `style` is "mapping" (registry/repository/tag
    keys at `path`) or "string" (a whole reference at `path`)."""

    path: Path
    style: str
    registry: str
    repository: str  # without the registry
    tag: str | None
    digest: str | None
    has_registry_key: bool = False

    @property
    def reference(self) -> str:
        out = f"{self.registry}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def split_reference(value: str) -> tuple[str, str, str | None, str | None] | None:
    """'bitnami/kafka:3.6' -> ('docker.io', 'bitnami/kafka', '3.6', None); None if not an image."""
    match = REFERENCE.fullmatch(value)
    if not match:
        return None
    registry, path = match["registry"], match["path"]
    if registry is not None and not ("." in registry or ":" in registry or registry == "localhost"):
        if not COMPONENT.fullmatch(registry):
            return None
        path, registry = f"{registry}/{path}", None  # 'bitnami/kafka': a Docker Hub namespace
    registry = registry or DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return registry, path, match["tag"], match["digest"]


def _is_image_key(key: str) -> bool:
    return key.lower().endswith("image")


def find_images(values: Any, path: Path = ()) -> Iterator[ImageRef]:
    if isinstance(values, dict):
        repository = values.get("repository")
        if isinstance(repository, str) and ((path and _is_image_key(path[-1])) or "tag" in values):
            yield from _mapping_image(values, path)
            return
        for key, value in values.items():
            if isinstance(value, str) and _is_image_key(str(key)):
                parts = split_reference(value)
                if parts:
                    yield ImageRef((*path, str(key)), "string", *parts)
            else:
                yield from find_images(value, (*path, str(key)))
    elif isinstance(values, list):
        for i, item in enumerate(values):
            yield from find_images(item, (*path, str(i)))


def _mapping_image(values: dict[str, Any], path: Path) -> Iterator[ImageRef]:
    registry = values.get("registry")
    tag = values.get("tag")
    digest = values.get("digest")
    reference = f"{registry}/{values['repository']}" if isinstance(registry, str) and registry else values["repository"]
    parts = split_reference(reference)
    if parts is None:
        return
    yield ImageRef(path, "mapping", parts[0], parts[1], str(tag) if tag not in (None, "") else parts[2],
                   str(digest) if digest else parts[3], has_registry_key=isinstance(registry, str) and bool(registry))


@dataclass(frozen=True)
class ChartEntry:
    stage: str
    block: str
    source: str  # helm (https repository), oci, or git
    url: str
    chart: str  # chart name, or the folder in the git repository
    version: str


@dataclass(frozen=True)
class ImageEntry:
    stage: str
    block: str
    image: str  # full reference
    registry: str
    repository: str
    tag: str | None
    digest: str | None
    values_path: str


def _chart(stage: ResolvedStage, block: Block) -> ChartEntry:
    chart = block.chart
    version = stage.deltas[block.id].version or chart.version
    if isinstance(chart, GitChart):
        return ChartEntry(stage.name, block.id, "git", chart.git, chart.path, version)
    source = "oci" if chart.repo.startswith("oci://") else "helm"
    return ChartEntry(stage.name, block.id, source, chart.repo, chart.name, version)


def bill_of_materials(env: Resolved) -> tuple[list[ChartEntry], list[ImageEntry]]:
    from govstack_gen.render.addons import stage_releases

    charts, images = [], []
    for stage in env.stages:
        for block in env.blocks:
            charts.append(_chart(stage, block))
            values = deep_merge(block.values, stage.deltas[block.id].values)
            for ref in find_images(values):
                images.append(ImageEntry(stage.name, block.id, ref.reference, ref.registry, ref.repository, ref.tag,
                                         ref.digest, ".".join(ref.path)))
        for addon in stage_releases(env, stage.name):  # named as the add-on (reserved: no building block's id)
            chart = addon.chart
            charts.append(ChartEntry(stage.name, addon.name, "oci" if chart.repo.startswith("oci://") else "helm", chart.repo,
                                     chart.name, chart.version))
    return charts, images


def with_chart_images(images: list[ImageEntry], rendered: list[tuple[str, str, str]]) -> list[ImageEntry]:
    """The images the values declare, plus those the charts render that no value names (`bom
    --charts`): what a chart uses by default is pulled all the same."""
    declared = {(i.stage, i.block, i.image) for i in images}
    extra = []
    for stage, block, image in rendered:
        parts = split_reference(image)
        if parts is None:
            continue
        registry, repository, tag, digest = parts
        entry = ImageEntry(stage, block, f"{registry}/{repository}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else ""),
                           registry, repository, tag, digest, CHART_DEFAULT)
        if (stage, block, entry.image) not in declared:
            declared.add((stage, block, entry.image))
            extra.append(entry)
    # Each chart's own images after the declared ones of its building block, in stage order.
    order = {key: n for n, key in reversed(list(enumerate((e.stage, e.block) for e in [*images, *extra])))}
    return sorted([*images, *extra], key=lambda i: (order[(i.stage, i.block)], i.values_path == CHART_DEFAULT))
