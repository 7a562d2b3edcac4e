"""`govstack-gen validate`: the tree checked as a cluster would check it, and the report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from govstack_gen.commands.chart_options import chart_renderer

if TYPE_CHECKING:
    from govstack_gen.errors import ExitStatus

__all__ = ["run"]


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.errors import Diagnostic, ExitStatus, SourceLocation, SpecError, explain_line
    from govstack_gen.validation.build import KustomizeNotFound, kustomize_command
    from govstack_gen.validation.report import json_report, text_report
    from govstack_gen.validation.run import flux_components, validate_spec
    from govstack_gen.validation.schemas import SchemaSet, UnsupportedKubeVersion, crd_paths, load_crds

    spec = Path(args.spec)
    tree = Path(args.tree) if args.tree else None
    missing = [str(p) for p in [spec, *map(Path, args.crds), *map(Path, args.chart_dir), *([tree] if tree else [])]
               if not p.exists()]
    if missing:
        print(f"govstack-gen: error: {', '.join(repr(m) for m in missing)} not found", file=err)
        return ExitStatus.USAGE
    paths = [p for d in args.crds for p in crd_paths(Path(d))] + flux_components(spec.parent)
    crds, problems = load_crds(paths)
    try:
        schemas = SchemaSet(args.kube_version, crds)
    except UnsupportedKubeVersion as exc:
        print(f"govstack-gen: error: --kube-version: {exc}", file=err)
        return ExitStatus.USAGE
    try:
        kustomize = kustomize_command(args.kustomize)
    except KustomizeNotFound as exc:
        problems.append(Diagnostic("E707", f"cannot build the overlays: {exc}", SourceLocation(str(spec)),
                                   hint="install kustomize (or kubectl), or name it with --kustomize"))
        kustomize = ()
    renderer = chart_renderer(args, spec, kustomize, schemas.kube_version, problems) if args.charts and kustomize else None
    result = None
    try:
        if kustomize and (renderer is not None or not args.charts):
            result = validate_spec(spec, schemas, kustomize, tree, renderer, args.mirror)
            problems += result.diagnostics
    except SpecError as exc:
        problems += exc.diagnostics
    if args.format == "json":
        out.write(json_report(result, problems))
    elif result is not None:
        result.diagnostics = problems
        out.write(text_report(result))
    else:
        errors = sum(1 for d in problems if d.severity == "error")
        out.write("".join(d.render() + "\n" for d in problems))
        out.write(f"invalid: {errors} error{'s' if errors != 1 else ''} before anything could be rendered and checked\n"
                  f"{explain_line(problems)}\n")
    return ExitStatus.FAILURE if any(d.severity == "error" for d in problems) else ExitStatus.OK
