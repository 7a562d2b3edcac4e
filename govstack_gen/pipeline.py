"""The stages end to end: load -> expand catalog entries -> check -> resolve -> render, all in memory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from govstack_gen.catalog import catalog_of, expand
from govstack_gen.errors import Diagnostic, SpecError
from govstack_gen.render.targets import render_files
from govstack_gen.resolve import Resolved, resolve
from govstack_gen.spec.checks import check_environment
from govstack_gen.spec.load import parse_document, read_spec
from govstack_gen.spec.locate import BlockLocator
from govstack_gen.spec.model import Environment
from govstack_gen.spec.validate import validate_as
from govstack_gen.spec.versions import convert

__all__ = ["load_and_resolve", "load_located", "render_spec"]


def load_and_resolve(spec: Path) -> Resolved:
    """Raises SpecError with every problem of the spec (and of the catalog entries it uses);
    warnings (an older spec version) ride along: in the error, or in `Resolved.warnings`."""
    return load_located(spec)[0]


def load_located(spec: Path) -> tuple[Resolved, BlockLocator]:
    """The resolved spec and where each building block's fields are written (spec or entry)."""
    warnings: list[Diagnostic] = []
    try:
        return _load(spec, warnings)
    except SpecError as exc:
        raise SpecError([*warnings, *exc.diagnostics]) from None


def _load(spec: Path, warnings: list[Diagnostic]) -> tuple[Resolved, BlockLocator]:
    doc, found = convert(parse_document(read_spec(spec, spec.name), spec.name))
    warnings += [d for d in found if d.severity != "error"]
    catalog, missing = catalog_of(doc, spec.parent)
    warnings += catalog.warnings
    expanded, unknown, failed = expand(doc, catalog)
    problems = [d for d in found if d.severity == "error"] + missing + unknown
    try:
        env = validate_as(Environment, expanded, skip=failed)
    except SpecError as exc:
        raise SpecError(problems + exc.diagnostics) from None
    if problems:
        raise SpecError(problems)
    warnings += check_environment(env, expanded, catalog)
    return dataclasses.replace(resolve(env, spec.name), warnings=tuple(warnings)), BlockLocator(doc, catalog)


def render_spec(spec: Path) -> dict[str, bytes]:
    return render_files(load_and_resolve(spec))
