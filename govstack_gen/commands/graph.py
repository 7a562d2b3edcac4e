"""`govstack-gen graph`: the order of the building blocks, as Mermaid or DOT."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from govstack_gen.commands.spec_input import print_warnings, spec_file

if TYPE_CHECKING:
    from govstack_gen.errors import ExitStatus

__all__ = ["run"]


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.errors import ExitStatus
    from govstack_gen.graph import dot, mermaid
    from govstack_gen.pipeline import load_and_resolve

    spec = spec_file(args.spec, err)
    if spec is None:
        return ExitStatus.USAGE
    resolved = load_and_resolve(spec)
    print_warnings(resolved.warnings, err)
    out.write((mermaid if args.format == "mermaid" else dot)(resolved))
    return ExitStatus.OK
