"""`govstack-gen diff`: what the spec changes, object by object, against a committed tree."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from govstack_gen.commands.spec_input import print_warnings, spec_file

if TYPE_CHECKING:
    from govstack_gen.errors import ExitStatus

__all__ = ["run"]


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.errors import ExitStatus
    from govstack_gen.review.report import json_report, markdown_report, text_report
    from govstack_gen.review.run import GitError, diff_spec

    spec = spec_file(args.spec, err)
    if spec is None:
        return ExitStatus.USAGE
    try:
        found = diff_spec(spec, args.against)
    except GitError as exc:
        print(f"govstack-gen: error: --against: {exc}", file=err)
        return ExitStatus.USAGE
    print_warnings(found.warnings, err)
    report = {"text": text_report, "markdown": markdown_report, "json": json_report}[args.format]
    out.write(report(found.changes, found.stages, found.against, found.notes))
    return ExitStatus.FAILURE if args.exit_code and found.changes else ExitStatus.OK
