"""The chart options `validate --charts` and `bom --charts` share, made into what renders the
charts (helm, the chart folders and cache, kustomize for Flux's post-renderers)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govstack_gen.errors import Diagnostic
    from govstack_gen.validation.chart_render import Renderer

__all__ = ["chart_renderer"]


def chart_renderer(args: argparse.Namespace, spec: Path, kustomize: tuple[str, ...], kube_version: str,
                   problems: list[Diagnostic]) -> Renderer | None:
    """What renders the charts, or None (with E721 in `problems`) when helm is missing."""
    from govstack_gen.errors import Diagnostic, SourceLocation
    from govstack_gen.validation.chart_render import Renderer, default_render_cache
    from govstack_gen.validation.charts import ChartStore, default_cache
    from govstack_gen.validation.helm import HelmNotFound, helm_command, helm_version

    try:
        helm = helm_command(args.helm)
    except HelmNotFound as exc:
        problems.append(Diagnostic("E721", f"cannot render the charts: {exc}", SourceLocation(str(spec)),
                                   hint="install helm (scripts/install-tools helm builds the pinned one), or name it with --helm"))
        return None
    store = ChartStore([Path(d) for d in args.chart_dir], default_cache(), fetch=not args.offline, helm=helm)
    return Renderer(store, helm, helm_version(helm), kustomize, f"{kube_version}.0", default_render_cache())
