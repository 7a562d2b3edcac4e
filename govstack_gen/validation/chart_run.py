"""`validate --charts`: every building block's chart rendered in every stage as its engine would,
and held to the tree's rules; each problem located at the spec field (or catalog entry field)
responsible, with the chart object it is about."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from govstack_gen.errors import Diagnostic
from govstack_gen.resolve import Block, Resolved, Written
from govstack_gen.spec.locate import BlockLocator
from govstack_gen.spec.types import values_path
from govstack_gen.validation.addon_charts import check_addon_charts
from govstack_gen.validation.chart_checks import ChartClaim, Context, Fence, Finding, check_release, fences, images
from govstack_gen.validation.chart_render import Rendered, Renderer
from govstack_gen.validation.releases import Release, releases

__all__ = ["ChartReport", "chart_images", "check_charts"]

Obj = dict[str, Any]
PROBE = "govstack-probe-{}"  # a DNS-safe value that survives templates validating names


@dataclass
class ChartReport:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    releases: int = 0  # releases rendered (one per building block and stage)
    objects: int = 0  # objects the charts rendered, in all


def check_charts(resolved: Resolved, locator: BlockLocator, built: dict[str, list[Obj]], renderer: Renderer,
                 mirror: str | None = None) -> ChartReport:
    """`built`: stage -> every object kustomize built for it; `mirror`: the registry every image
    must come from (render --mirror)."""
    blocks = {b.id: b for b in resolved.blocks}
    found = [(release, fences(objects)) for stage, objects in built.items()
             for release in releases(stage, resolved.gitops.engine, objects) if release.block in blocks]
    rendered = renderer.render_all(release for release, _ in found)
    report = ChartReport()
    findings: dict[Finding, list[str]] = {}
    def check(pair: tuple[tuple[Release, dict[str, Fence]], Rendered]) -> list[Finding]:
        (release, stage_fences), result = pair
        block = blocks.get(release.block)
        return [] if block is None else list(_check(release, result, block, stage_fences, renderer, mirror))

    # The checks render too (probing values): in parallel like the renders.
    with ThreadPoolExecutor(max_workers=renderer.jobs) as pool:
        checked = list(pool.map(check, zip(found, rendered, strict=True)))
    for ((release, _), result), release_findings in zip(zip(found, rendered, strict=True), checked, strict=True):
        for finding in release_findings:
            findings.setdefault(finding, []).append(release.stage)
        if result.objects:  # the add-ons' are rendered and counted by their own check
            report.releases += 1
            report.objects += len(result.objects)
    stages = [s.name for s in resolved.stages]
    for finding, where in findings.items():
        report.diagnostics.append(_diagnostic(finding, where, stages, locator))
    add_ons, rendered_add_ons = check_addon_charts(resolved, locator, built, renderer, mirror)
    report.diagnostics += add_ons
    report.releases += rendered_add_ons
    report.diagnostics.sort(key=Diagnostic.sort_key)
    return report


def chart_images(resolved: Resolved, built: dict[str, list[Obj]], renderer: Renderer) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(stage, building block, image) of every container the charts render, and what could not
    be rendered (for bom)."""
    found = [release for stage, objects in built.items() for release in releases(stage, resolved.gitops.engine, objects)]
    out: list[tuple[str, str, str]] = []
    problems = []
    for result in renderer.render_all(found):
        release = result.release
        if result.missing or result.error:
            problems.append(f"{release.block} ({release.stage}): {result.missing or _first_lines(result.error)}")
        out += sorted({(release.stage, release.block, image) for _, image in images(list(result.objects))})
    return out, problems


def _diagnostic(finding: Finding, where: list[str], stages: list[str], locator: BlockLocator) -> Diagnostic:
    location, path = locator.locate(finding.block, finding.loc)
    named = sorted(set(where))
    scope = "" if named == sorted(stages) else f" (stage{'s' if len(named) > 1 else ''} {', '.join(named)})"
    return Diagnostic(finding.code, f"{finding.block}{scope}: {finding.message}", location, path, finding.hint, finding.severity)


def _check(release: Release, result: Rendered, block: Block, stage_fences: dict[str, Fence], renderer: Renderer,
           mirror: str | None) -> Iterator[Finding]:
    if result.missing:
        yield Finding("E720", block.id, ("chart",), f"chart {release.chart} not found: {result.missing}",
                      "pass --chart-dir DIR with the chart's folder or package (helm pull / git clone), or allow fetching")
        return
    if result.error:
        yield Finding("E722", block.id, ("chart",), f"helm cannot render chart {release.chart}: {_first_lines(result.error)}",
                      "fix the values (or the chart's dependencies: helm dependency build) until `helm template` renders it")
        return
    fence = stage_fences.get(release.namespace, Fence(release.namespace))
    project = fence.projects.get(release.project or "") if release.engine == "argocd" else None
    if project is None and release.engine == "argocd":
        project = next((f.projects[release.project or ""] for f in stage_fences.values() if release.project in f.projects), None)
    ctx = Context(block.id, release.namespace, release.engine, fence, project,
                  frozenset(s.name for s in block.spec.secrets), tuple((v.name, v.claim) for v in block.volumes),
                  tuple(ChartClaim(v.name, v.claim, v.storage_class, v.request, v.access_modes, v.class_key) for v in block.volumes
                        if v.chart_created), mirror=mirror, endpoint=block.endpoint)
    objects = list(result.objects)
    yield from check_release(ctx, objects)
    assert result.chart is not None
    yield from _unread_values(release, result, block, renderer)


def _first_lines(text: str, count: int = 3) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return " / ".join(lines[:count]) + (" ..." if len(lines) > count else "")


# -- values that do nothing ------------------------------------------------------------------------


def _unread_values(release: Release, result: Rendered, block: Block, renderer: Renderer) -> Iterator[Finding]:
    """Every value govstack-gen writes must change what the chart renders. One render with each
    written value replaced by its own marker shows most of them read (the marker is in the
    output); a value whose marker does not show is rendered once more without it, and if the
    output is the same, it does nothing."""
    assert result.chart is not None
    probed = copy.deepcopy(release.values)
    markers: list[tuple[Written, str]] = []
    absent: list[Written] = []
    for index, written in enumerate(block.written):
        marker = PROBE.format(index)
        if _mark(probed, written, marker):
            markers.append((written, marker))
        else:
            absent.append(written)
    for written in absent:
        yield _unread(written, block, "is not among the values the engine passes to the chart")
    if not markers:
        return
    probe = renderer.render_with(release, result.chart, probed)
    text = json.dumps(probe.objects) if not probe.error else ""
    unseen = [written for written, marker in markers if not (text and marker in text)]
    if not unseen:
        return
    # Charts that generate passwords or checksums render differently every time: what differs
    # between two renders of the same values is noise, left out of the comparison.
    baseline = _flat(result.objects)
    again = _flat(renderer.render_with(release, result.chart, release.values, again=True).objects)
    noise = {path for path in baseline.keys() | again.keys() if baseline.get(path) != again.get(path)}
    for written in unseen:
        without = copy.deepcopy(release.values)
        _drop(without, written)
        changed = renderer.render_with(release, result.chart, without)
        if not changed.error and _same(_flat(changed.objects), baseline, noise):
            yield _unread(written, block, "changes nothing the chart renders: the chart does not read it")


def _flat(objects: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of the rendered objects by its path."""
    if isinstance(objects, dict):
        return {k: v for key, value in objects.items() for k, v in _flat(value, f"{prefix}/{key}").items()} or {prefix: {}}
    if isinstance(objects, list | tuple):
        return {k: v for i, value in enumerate(objects) for k, v in _flat(value, f"{prefix}/{i}").items()} or {prefix: []}
    return {prefix: objects}


def _same(found: dict[str, Any], baseline: dict[str, Any], noise: set[str]) -> bool:
    return {k: v for k, v in found.items() if k not in noise} == {k: v for k, v in baseline.items() if k not in noise}


def _unread(written: Written, block: Block, why: str) -> Finding:
    target = f" of {block.id}" if written.origin != block.id else ""
    return Finding("E728", written.origin, written.loc, f"values key {written.key!r}{target} ({written.what}) {why}",
                   "name a values key the chart reads (see its values.yaml and templates), or drop it")


def _node(values: Obj, written: Written) -> tuple[Obj, str] | None:
    path = values_path(written.key)
    node: Any = values
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or path[-1] not in node:
        return None
    return node, path[-1]


def _mark(values: Obj, written: Written, marker: str) -> bool:
    """Put the marker in place of the written value's strings; False when it is not there."""
    found = _node(values, written)
    if found is None:
        return False
    node, key = found
    if written.item is None:
        node[key] = _marked(node[key], marker)
        return True
    items = node[key]
    if not isinstance(items, list) or written.item not in items:
        return False
    items[items.index(written.item)] = _marked(written.item, marker)
    return True


def _marked(value: Any, marker: str) -> Any:
    if isinstance(value, dict):
        return {k: _marked(v, marker) for k, v in value.items()}
    if isinstance(value, list):
        return [_marked(v, marker) for v in value]
    return marker if isinstance(value, str) else value


def _drop(values: Obj, written: Written) -> None:
    found = _node(values, written)
    if found is None:
        return
    node, key = found
    if written.item is None:
        del node[key]
    elif isinstance(node[key], list) and written.item in node[key]:
        node[key].remove(written.item)

