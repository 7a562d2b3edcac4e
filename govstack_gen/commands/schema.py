"""`govstack-gen schema`: the JSON Schema of environment.yaml."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from govstack_gen.errors import ExitStatus

__all__ = ["run"]


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.errors import ExitStatus
    from govstack_gen.spec.schema import schema_json

    out.write(schema_json())
    return ExitStatus.OK
