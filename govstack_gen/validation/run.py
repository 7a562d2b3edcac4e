"""What `validate` reads: the spec (rendered in memory) or a committed tree, and the CRDs a
Flux bootstrap left in the repository."""

from __future__ import annotations

import dataclasses
import os
import posixpath
from pathlib import Path

from govstack_gen.errors import SourceLocation
from govstack_gen.fsio import read_yaml_tree
from govstack_gen.pipeline import load_and_resolve
from govstack_gen.render import layout
from govstack_gen.render.targets import render_files
from govstack_gen.validation.check import Result, validate_tree
from govstack_gen.validation.schemas import SchemaSet

__all__ = ["flux_components", "validate_spec"]


def validate_spec(spec: Path, schemas: SchemaSet, kustomize: tuple[str, ...], tree: Path | None = None) -> Result:
    """Raises SpecError when the spec itself is invalid."""
    resolved = load_and_resolve(spec)
    blocks = [b.id for b in resolved.blocks]
    stages = {s.name: layout.stage_entry_points(s.name, blocks) for s in resolved.stages}
    files = render_files(resolved) if tree is None else read_yaml_tree(tree)
    result = validate_tree(files, stages, schemas, kustomize)
    # Located where the tree lives, as a reviewer finds the file in the repository.
    root = tree.as_posix() if tree else posixpath.normpath(posixpath.join(spec.parent.as_posix(), resolved.gitops.path))
    result.diagnostics = [*resolved.warnings, *(
        dataclasses.replace(d, location=SourceLocation(posixpath.join(root, d.location.file), d.location.line, d.location.col))
        for d in result.diagnostics
    )]
    return result


def flux_components(repo: Path) -> list[Path]:
    """Flux bootstrap commits its CRDs in clusters/<name>/flux-system/gotk-components.yaml."""
    found = []
    for folder, dirs, files in os.walk(repo):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
        if "gotk-components.yaml" in files:
            found.append(Path(folder) / "gotk-components.yaml")
    return sorted(found)
