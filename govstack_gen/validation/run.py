"""What `validate` reads: the spec (rendered in memory) or a committed tree, and the CRDs a
Flux bootstrap left in the repository."""

from __future__ import annotations

import dataclasses
import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govstack_gen.errors import Diagnostic, SourceLocation
from govstack_gen.fsio import read_yaml_tree
from govstack_gen.pipeline import load_located
from govstack_gen.render import layout
from govstack_gen.render.addons import has_addons
from govstack_gen.render.targets import render_files
from govstack_gen.validation.charts import ChartRef
from govstack_gen.validation.check import Result, validate_tree
from govstack_gen.validation.schemas import SchemaSet

if TYPE_CHECKING:
    from govstack_gen.resolve import Resolved
    from govstack_gen.validation.chart_render import Renderer

__all__ = ["build_stages", "flux_components", "validate_spec"]


def validate_spec(spec: Path, schemas: SchemaSet, kustomize: tuple[str, ...], tree: Path | None = None,
                  charts: Renderer | None = None, mirror: str | None = None) -> Result:
    """Raises SpecError when the spec itself is invalid. With `charts`, every release's chart is
    rendered and checked too (`validate --charts`); with `mirror`, the tree `render --mirror`
    writes."""
    resolved, locator = load_located(spec)
    if mirror:
        from govstack_gen.mirror import mirror as mirrored

        original, resolved = resolved, mirrored(resolved, mirror)
        if charts is not None:
            charts.store.aliases.update(_mirrored_charts(original, resolved))
    blocks = [b.id for b in resolved.blocks]
    stages = {s.name: layout.stage_entry_points(s.name, blocks, has_addons(resolved)) for s in resolved.stages}
    files = render_files(resolved) if tree is None else read_yaml_tree(tree)
    result = validate_tree(files, stages, schemas, kustomize)
    # Located where the tree lives, as a reviewer finds the file in the repository.
    root = tree.as_posix() if tree else posixpath.normpath(posixpath.join(spec.parent.as_posix(), resolved.gitops.path))
    located = [dataclasses.replace(d, location=SourceLocation(posixpath.join(root, d.location.file), d.location.line,
                                                              d.location.col)) for d in result.diagnostics]
    chart_problems = []
    if charts is not None:
        from govstack_gen.validation.chart_run import check_charts

        report = check_charts(resolved, locator, result.built, charts, mirror)
        result.charts = report.releases
        # Located in the spec (or the catalog entry): where the spec's folder is, as given.
        chart_problems = [_in_spec_folder(d, spec) for d in report.diagnostics]
    result.diagnostics = [*resolved.warnings, *located, *chart_problems]
    return result


def _mirrored_charts(original: Resolved, mirrored: Resolved) -> dict[ChartRef, ChartRef]:
    """Each chart as the mirror names it -> the same chart at its source, in every stage."""
    from govstack_gen.spec.model import GitChart

    out = {}
    for stage, mirrored_stage in zip(original.stages, mirrored.stages, strict=True):
        for block, moved in zip(original.blocks, mirrored.blocks, strict=True):
            version = stage.deltas[block.id].version or block.chart.version
            moved_version = mirrored_stage.deltas[block.id].version or moved.chart.version
            chart = block.chart
            source = (ChartRef(chart.git, chart.path.rstrip("/").rsplit("/", 1)[-1], version, chart.path)
                      if isinstance(chart, GitChart) else ChartRef(chart.repo.rstrip("/"), chart.name, version))
            assert not isinstance(moved.chart, GitChart)
            registry, _, name = f"{moved.chart.repo}/{moved.chart.name}".rpartition("/")
            out[ChartRef(registry, name, moved_version)] = source
    return out


def build_stages(resolved: Resolved, kustomize: tuple[str, ...]) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """What kustomize builds for every stage from the tree rendered in memory, and the errors
    of the folders it could not build."""
    import tempfile

    from govstack_gen.validation.build import build_overlay

    blocks = [b.id for b in resolved.blocks]
    built: dict[str, list[dict[str, Any]]] = {}
    errors = []
    with tempfile.TemporaryDirectory(prefix="govstack-gen-build-") as tmp:
        root = Path(tmp)
        for rel, content in render_files(resolved).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
        for stage in resolved.stages:
            for folder in layout.stage_entry_points(stage.name, blocks, has_addons(resolved)):
                build = build_overlay(kustomize, root, folder)
                built.setdefault(stage.name, []).extend(build.objects)
                if build.error:
                    errors.append(f"{folder}: {build.error}")
    return built, errors


def _in_spec_folder(diagnostic: Diagnostic, spec: Path) -> Diagnostic:
    loc = diagnostic.location
    if loc.file != spec.name:
        return diagnostic  # a catalog entry: named as the catalog names it
    return dataclasses.replace(diagnostic, location=SourceLocation(spec.as_posix(), loc.line, loc.col))


def flux_components(repo: Path) -> list[Path]:
    """Flux bootstrap commits its CRDs in clusters/<name>/flux-system/gotk-components.yaml."""
    found = []
    for folder, dirs, files in os.walk(repo):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
        if "gotk-components.yaml" in files:
            found.append(Path(folder) / "gotk-components.yaml")
    return sorted(found)
