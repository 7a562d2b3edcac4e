"""The render targets (Flux, Argo CD), one explicit entry each, and the tree as file bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from govstack_gen.render.argo import render_argocd
from govstack_gen.render.flux import render_flux
from govstack_gen.resolve import Resolved
from govstack_gen.yaml_io import dump_document

__all__ = ["ENGINES", "render_files"]

Renderer = Callable[[Resolved], Iterator[tuple[str, dict[str, Any]]]]

# Every target is an explicit entry here.
ENGINES: dict[str, Renderer] = {"flux": render_flux, "argocd": render_argocd}


def render_files(env: Resolved) -> dict[str, bytes]:
    # Emitted as rendered, so only bytes are kept: the objects of a large environment would
    # take more memory than the files.
    files = {path: dump_document(obj, env.source) for path, obj in ENGINES[env.gitops.engine](env)}
    return dict(sorted(files.items()))
