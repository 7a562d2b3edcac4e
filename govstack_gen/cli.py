"""Command line: parse the arguments, run the command, map its outcome to an exit code.

The sub-parsers are built from the table in `govstack_gen.commands`; each command's work is in
its module there. Kept cheap to import: `govstack-gen --help` must not load pydantic or ruamel,
so a command's module is imported only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from govstack_gen import __version__
from govstack_gen.commands import COMMANDS, Group

__all__ = ["build_parser", "main"]


class Parser(argparse.ArgumentParser):
    """argparse, with did-you-mean for a mistyped sub-command or choice (as git and cargo do)."""

    def error(self, message: str) -> NoReturn:
        found = re.search(r"invalid choice: '?(?P<value>[^'()]*?)'? \(choose from (?P<choices>.*)\)", message)
        if found:
            import difflib  # only on a usage error: --help and every run stay without it

            choices = [c.strip().strip("'") for c in found["choices"].split(",")]
            close = difflib.get_close_matches(found["value"], choices, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}?"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="govstack-gen",
        description="Render one GovStack environment spec into a GitOps repository that Flux or Argo CD reconciles.",
    )
    parser.add_argument("--version", action="version", version=f"govstack-gen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                        help="colour diagnostics: on terminals only (auto; NO_COLOR turns it off), always or never")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.description)
        for item in command.options:
            if isinstance(item, Group):
                group = sub.add_argument_group(item.title, item.description)
                for option in item.options:
                    group.add_argument(*option.flags, **option.options)
            else:
                sub.add_argument(*item.flags, **item.options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from govstack_gen.commands.terminal import paint
    from govstack_gen.errors import ExitStatus, GenError, explain_line

    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitStatus.USAGE
    out, err = paint(sys.stdout, args.color, os.environ), paint(sys.stderr, args.color, os.environ)
    try:
        run = importlib.import_module(f"govstack_gen.commands.{args.command}").run
        return int(run(args, out, err))
    except GenError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.render(), file=err)
        errors = sum(1 for d in exc.diagnostics if d.severity == "error")
        print(f"{errors} error{'s' if errors != 1 else ''}; nothing was written", file=err)
        print(explain_line(exc.diagnostics), file=err)
        return ExitStatus.FAILURE
    except OSError as exc:  # disk full, permissions: the environment's fault, not a bug
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"govstack-gen: error: {exc.strerror or exc}{where}; the output tree is unchanged, or completed by "
              "the next run", file=err)
        return ExitStatus.FAILURE
    except KeyboardInterrupt:
        print("interrupted; the output tree is unchanged or completed by the next run", file=err)
        return ExitStatus.FAILURE
    except Exception:
        if args.debug:
            raise
        print("govstack-gen: internal error (a bug): rerun with --debug and report the traceback", file=err)
        return ExitStatus.INTERNAL
    finally:
        out.flush()
        err.flush()
