"""The SPEC argument every command takes: the file, its document read but not validated (what
the quick paths need), the warnings a command prints first, and where its tree is."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from govstack_gen.errors import Diagnostic
    from govstack_gen.spec.load import SpecDocument

__all__ = ["default_root", "peek", "print_warnings", "spec_file"]


def spec_file(spec: str, err: TextIO) -> Path | None:
    """The SPEC argument as a path, or None (reported) when there is no such file."""
    path = Path(spec)
    if not path.is_file():
        print(f"govstack-gen: error: spec file {spec!r} not found", file=err)
        return None
    return path


def peek(spec: Path, raw: bytes) -> SpecDocument | None:
    """The spec parsed but not validated (None when it does not parse: the full load says why)."""
    from govstack_gen.errors import SpecError
    from govstack_gen.spec.load import parse_document

    try:
        return parse_document(raw, spec.name)
    except SpecError:
        return None


def print_warnings(warnings: Sequence[Diagnostic], err: TextIO) -> None:
    for warning in warnings:
        print(warning.render(), file=err)


def default_root(spec: Path, doc: SpecDocument | None) -> Path | None:
    """Where the tree goes without --output: the spec's folder joined with gitops.path, read
    without validating, by the rule the spec's types apply (None when that is not plain to see:
    the full render then decides, and reports a bad path)."""
    from govstack_gen.spec.paths import repo_path

    if doc is None:
        return None
    gitops = doc.data.get("gitops") if isinstance(doc.data, dict) else None
    path = gitops.get("path", ".") if isinstance(gitops, dict) else None
    canonical = repo_path(path) if isinstance(path, str) else None
    return None if canonical is None else spec.parent / posixpath.normpath(canonical)
