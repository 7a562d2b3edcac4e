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
    from govstack_gen.graph import as_json, dot, mermaid
    from govstack_gen.pipeline import load_and_resolve

    spec = spec_file(args.spec, err)
    if spec is None:
        return ExitStatus.USAGE
    resolved = load_and_resolve(spec)
    print_warnings(resolved.warnings, err)
    out.write({"mermaid": mermaid, "dot": dot, "json": as_json}[args.format](resolved))
    return ExitStatus.OK
