"""What `validate` reads: the spec (rendered in memory) or a committed tree, and the CRDs a
Flux bootstrap left in the repository."""

from __future__ import annotations

import dataclasses
import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING

from govstack_gen.errors import Diagnostic, SourceLocation
from govstack_gen.fsio import read_yaml_tree
from govstack_gen.pipeline import load_located
from govstack_gen.render import layout
from govstack_gen.render.targets import render_files
from govstack_gen.validation.check import Result, validate_tree
from govstack_gen.validation.schemas import SchemaSet

if TYPE_CHECKING:
    from govstack_gen.validation.chart_render import Renderer

__all__ = ["flux_components", "validate_spec"]


def validate_spec(spec: Path, schemas: SchemaSet, kustomize: tuple[str, ...], tree: Path | None = None,
                  charts: Renderer | None = None) -> Result:
    """Raises SpecError when the spec itself is invalid. With `charts`, every release's chart is
    rendered and checked too (`validate --charts`)."""
    resolved, locator = load_located(spec)
    blocks = [b.id for b in resolved.blocks]
    stages = {s.name: layout.stage_entry_points(s.name, blocks) for s in resolved.stages}
    files = render_files(resolved) if tree is None else read_yaml_tree(tree)
    result = validate_tree(files, stages, schemas, kustomize)
    # Located where the tree lives, as a reviewer finds the file in the repository.
    root = tree.as_posix() if tree else posixpath.normpath(posixpath.join(spec.parent.as_posix(), resolved.gitops.path))
    located = [dataclasses.replace(d, location=SourceLocation(posixpath.join(root, d.location.file), d.location.line,
                                                              d.location.col)) for d in result.diagnostics]
    chart_problems = []
    if charts is not None:
        from govstack_gen.validation.chart_run import check_charts

        report = check_charts(resolved, locator, result.built, charts)
        result.charts = report.releases
        # Located in the spec (or the catalog entry): where the spec's folder is, as given.
        chart_problems = [_in_spec_folder(d, spec) for d in report.diagnostics]
    result.diagnostics = [*resolved.warnings, *located, *chart_problems]
    return result


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
