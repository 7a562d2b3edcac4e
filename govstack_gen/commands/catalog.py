"""`govstack-gen catalog`: the entries a spec can use, shipped and from its catalog folders."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from govstack_gen.commands import DEFAULT_SPEC
from govstack_gen.commands.spec_input import print_warnings

if TYPE_CHECKING:
    from govstack_gen.errors import ExitStatus

__all__ = ["run"]


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.catalog import catalog_of, load_catalog
    from govstack_gen.catalog.report import catalog_json, catalog_text
    from govstack_gen.errors import ExitStatus, SpecError
    from govstack_gen.spec.load import parse_document, read_spec

    spec = Path(args.spec)
    if spec.is_file():
        catalog, problems = catalog_of(parse_document(read_spec(spec, spec.name), spec.name), spec.parent)
        if problems:
            raise SpecError(problems)
        print_warnings(catalog.warnings, err)
    elif args.spec == DEFAULT_SPEC:  # no spec here: the shipped catalog alone
        catalog = load_catalog()
    else:
        print(f"govstack-gen: error: spec file {args.spec!r} not found", file=err)
        return ExitStatus.USAGE
    out.write(catalog_json(catalog) if args.format == "json" else catalog_text(catalog))
    return ExitStatus.OK
