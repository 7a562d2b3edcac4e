"""`govstack-gen explain CODE`: what a diagnostic code means and what to do, from the
documentation the package ships (govstack_gen/errors.md), so it works wherever it is installed."""

from __future__ import annotations

import argparse
import difflib
import re
from importlib import resources
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from govstack_gen.errors import ExitStatus

__all__ = ["explanations", "run"]


def explanations() -> dict[str, str]:
    """Each code's section of errors.md (up to the next heading), without its heading."""
    text = resources.files("govstack_gen").joinpath("errors.md").read_text(encoding="utf-8")
    parts = re.split(r"^### (E\d{3})\n", text, flags=re.MULTILINE)
    return {code: re.split(r"^#{1,3} ", body, maxsplit=1, flags=re.MULTILINE)[0].strip()
            for code, body in zip(parts[1::2], parts[2::2], strict=True)}


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.errors import CODES, ExitStatus

    if args.code is None:
        out.write("".join(f"{code}  {summary}\n" for code, summary in sorted(CODES.items())))
        return ExitStatus.OK
    code = args.code.upper()
    known = explanations()
    if code not in known:
        close = difflib.get_close_matches(code, list(known), n=3, cutoff=0.6)
        print(f"govstack-gen: error: no code {args.code!r}" + (f"; did you mean {', '.join(close)}?" if close else "")
              + " (`govstack-gen explain` lists them)", file=err)
        return ExitStatus.USAGE
    out.write(f"{code}: {CODES[code]}\n\n{known[code]}\n")
    return ExitStatus.OK
