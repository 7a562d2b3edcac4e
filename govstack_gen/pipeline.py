"""The stages end to end: load -> check -> resolve -> render, all in memory."""

from __future__ import annotations

from pathlib import Path

from govstack_gen.render.targets import render_files
from govstack_gen.resolve import Resolved, resolve
from govstack_gen.spec.checks import check_environment
from govstack_gen.spec.validate import load_environment

__all__ = ["load_and_resolve", "render_spec"]


def load_and_resolve(spec: Path) -> Resolved:
    """Raises SpecError with every problem of the spec."""
    env, doc = load_environment(spec)
    check_environment(env, doc)
    return resolve(env, spec.name)


def render_spec(spec: Path) -> dict[str, bytes]:
    return render_files(load_and_resolve(spec))
