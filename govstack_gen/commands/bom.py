"""`govstack-gen bom`: every chart and image, per stage; with --charts, the images the charts
render as well."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from govstack_gen.commands.chart_options import chart_renderer
from govstack_gen.commands.spec_input import print_warnings, spec_file

if TYPE_CHECKING:
    from govstack_gen.errors import Diagnostic, ExitStatus
    from govstack_gen.resolve import Resolved

__all__ = ["run"]


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.bom import bill_of_materials, with_chart_images
    from govstack_gen.bom_report import csv_report, json_report, rows, text_report
    from govstack_gen.errors import ExitStatus
    from govstack_gen.mirror import mirror
    from govstack_gen.pipeline import load_and_resolve

    spec = spec_file(args.spec, err)
    if spec is None:
        return ExitStatus.USAGE
    resolved = load_and_resolve(spec)
    print_warnings(resolved.warnings, err)
    if args.mirror:
        mirror(resolved, args.mirror)  # refuses an invalid registry before anything is printed
    charts, images = bill_of_materials(resolved)
    complete = True
    if args.charts:  # a list missing what a chart could not render says so, and fails
        found, complete = _chart_images(args, spec, resolved, err)
        images = with_chart_images(images, found)
    table = rows(charts, images, args.mirror)
    out.write({"text": text_report, "json": json_report, "csv": csv_report}[args.format](table))
    return ExitStatus.OK if complete else ExitStatus.FAILURE


def _chart_images(args: argparse.Namespace, spec: Path, resolved: Resolved, err: TextIO) -> tuple[list[tuple[str, str, str]], bool]:
    """Every image the charts render, and whether every chart rendered (what did not is reported)."""
    from govstack_gen.validation import DEFAULT_KUBE_VERSION
    from govstack_gen.validation.build import KustomizeNotFound, kustomize_command
    from govstack_gen.validation.chart_run import chart_images
    from govstack_gen.validation.run import build_stages

    problems: list[Diagnostic] = []
    try:
        kustomize = kustomize_command()
    except KustomizeNotFound as exc:
        print(f"govstack-gen: error: --charts: cannot build the tree: {exc}", file=err)
        return [], False
    renderer = chart_renderer(args, spec, kustomize, DEFAULT_KUBE_VERSION, problems)
    if renderer is None:
        print_warnings(problems, err)
        return [], False
    built, errors = build_stages(resolved, kustomize)
    found, unrendered = chart_images(resolved, built, renderer)
    for problem in [*errors, *unrendered]:
        print(f"govstack-gen: error: --charts: {problem}; its images are missing from the list", file=err)
    return found, not (errors or unrendered)
