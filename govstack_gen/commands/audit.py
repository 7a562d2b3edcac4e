"""`govstack-gen audit`: generated files edited, deleted or added by hand."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from govstack_gen.commands import DEFAULT_SPEC
from govstack_gen.commands.spec_input import default_root, peek

if TYPE_CHECKING:
    from govstack_gen.errors import ExitStatus

__all__ = ["run"]


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.audit import NotATree, audit_tree
    from govstack_gen.errors import ExitStatus, explain_line
    from govstack_gen.spec.load import read_spec
    from govstack_gen.validation.report import diagnostic_json
    from govstack_gen.write_plan import MANIFEST

    root = Path(args.tree)
    spec = root / DEFAULT_SPEC
    if not (root / MANIFEST).exists() and spec.is_file():  # an environment repository: its tree
        root = default_root(spec, peek(spec, read_spec(spec, spec.name))) or root
    try:
        findings, owned = audit_tree(root)
    except NotATree as exc:
        print(f"govstack-gen: error: {exc}", file=err)
        return ExitStatus.USAGE
    if args.format == "json":
        out.write(json.dumps({"tree": str(root), "owned": owned, "clean": not findings,
                              "findings": [diagnostic_json(d) for d in findings]}, indent=2) + "\n")
    else:
        out.write("".join(d.render() + "\n" for d in findings))
        verdict = "clean" if not findings else f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
        print(f"{root}: {verdict} ({owned} generated files)", file=err)
        if findings:
            print(explain_line(findings), file=err)
    return ExitStatus.FAILURE if findings else ExitStatus.OK
