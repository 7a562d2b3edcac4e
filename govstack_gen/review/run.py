"""What `diff` compares: the spec rendered in memory against the tree in a folder or at a git ref."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from govstack_gen.errors import Diagnostic
from govstack_gen.fsio import read_yaml_tree
from govstack_gen.pipeline import load_and_resolve
from govstack_gen.render.layout import TOP_LEVEL
from govstack_gen.render.targets import render_files
from govstack_gen.review.changes import Change, compare
from govstack_gen.review.git import GitError, tree_at
from govstack_gen.review.tree import stage_objects

__all__ = ["Comparison", "GitError", "diff_spec"]


@dataclass(frozen=True)
class Comparison:
    changes: list[Change]
    stages: list[str]
    against: str  # what was compared with, for the reader
    notes: list[str]
    warnings: tuple[Diagnostic, ...] = ()  # from loading the spec


def diff_spec(spec: Path, against: str | None) -> Comparison:
    """Raises SpecError (invalid spec) or GitError (unknown ref, not a repository)."""
    resolved = load_and_resolve(spec)
    root = Path(posixpath.normpath((spec.parent / resolved.gitops.path).as_posix()))
    if against is None or Path(against).is_dir():
        folder = Path(against) if against is not None else root
        old_files, label = read_yaml_tree(folder, TOP_LEVEL), str(folder)
    else:
        old_files, label = tree_at(against, root, set(TOP_LEVEL)), f"{root} at {against}"
    old, new = stage_objects(old_files), stage_objects(render_files(resolved))
    notes = sorted(set(old.notes) | set(new.notes))
    return Comparison(compare(old, new), sorted(set(old.stages) | set(new.stages)), label, notes, resolved.warnings)
