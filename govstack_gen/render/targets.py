"""The render targets (Flux today), one explicit entry each, and the tree as file bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from govstack_gen.render.flux import render_flux
from govstack_gen.resolve import Resolved
from govstack_gen.yaml_io import dump_document

__all__ = ["ENGINES", "render_files", "render_objects"]

Renderer = Callable[[Resolved], dict[str, dict[str, Any]]]

# Every target is an explicit entry here (Argo CD joins when it lands).
ENGINES: dict[str, Renderer] = {"flux": render_flux}


def render_objects(env: Resolved) -> dict[str, dict[str, Any]]:
    return ENGINES[env.gitops.engine](env)


def render_files(env: Resolved) -> dict[str, bytes]:
    objects = render_objects(env)
    return {path: dump_document(objects[path], env.source) for path in sorted(objects)}
