"""The stages end to end: load -> expand catalog entries -> check -> resolve -> render, all in memory."""

from __future__ import annotations

from pathlib import Path

from govstack_gen.catalog import catalog_of, expand
from govstack_gen.errors import SpecError
from govstack_gen.render.targets import render_files
from govstack_gen.resolve import Resolved, resolve
from govstack_gen.spec.checks import check_environment
from govstack_gen.spec.load import parse_document, read_spec
from govstack_gen.spec.model import Environment
from govstack_gen.spec.validate import validate_as

__all__ = ["load_and_resolve", "render_spec"]


def load_and_resolve(spec: Path) -> Resolved:
    """Raises SpecError with every problem of the spec (and of the catalog entries it uses)."""
    doc = parse_document(read_spec(spec, spec.name), spec.name)
    catalog, problems = catalog_of(doc, spec.parent)
    expanded, unknown, failed = expand(doc, catalog)
    problems += unknown
    try:
        env = validate_as(Environment, expanded, skip=failed)
    except SpecError as exc:
        raise SpecError(problems + exc.diagnostics) from None
    if problems:
        raise SpecError(problems)
    check_environment(env, expanded, catalog)
    return resolve(env, spec.name)


def render_spec(spec: Path) -> dict[str, bytes]:
    return render_files(load_and_resolve(spec))
