"""`govstack-gen migrate`: the spec and its catalog folders rewritten in a newer spec version."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from govstack_gen import __version__
from govstack_gen.commands.spec_input import spec_file

if TYPE_CHECKING:
    from govstack_gen.errors import ExitStatus

__all__ = ["run"]


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.errors import ExitStatus
    from govstack_gen.migrate import plan_migration, write_migrations
    from govstack_gen.spec.versions import CURRENT, KNOWN

    spec = spec_file(args.spec, err)
    if spec is None:
        return ExitStatus.USAGE
    to = args.to or CURRENT
    if to not in KNOWN:
        print(f"govstack-gen: error: --to: {to!r} is not a spec version govstack-gen {__version__} knows "
              f"({', '.join(KNOWN)}); a newer govstack-gen may", file=err)
        return ExitStatus.USAGE
    migrations = plan_migration(spec, to)
    pending = [m for m in migrations if m.needed]
    for migration in pending:
        print("\n".join(migration.report()), file=out)
    for migration in migrations:
        if not migration.needed and migration.conversion.source != to:
            print(f"{migration.name}: {migration.conversion.source} is past {to}; left as it is", file=err)
    files = f"{len(pending)} file{'s' if len(pending) != 1 else ''}"
    if not pending:
        print(f"{spec}: nothing to migrate ({len(migrations)} file{'s' if len(migrations) != 1 else ''} checked)", file=err)
        return ExitStatus.OK
    if args.check:
        print(f"{files} to migrate to {to}; run `govstack-gen migrate`", file=err)
        return ExitStatus.FAILURE
    write_migrations(migrations)
    print(f"migrated {files} to {to}; the rendered tree stays the same (`govstack-gen render --check` shows it)",
          file=err)
    return ExitStatus.OK
