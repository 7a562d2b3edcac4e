"""`govstack-gen render`: the spec into the output tree, through the write plan and the writer.

The quick path comes first: when the spec, govstack-gen and the tree are as the last render
left them, nothing is validated or rendered (what CI runs on every pull request).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from govstack_gen.commands.spec_input import default_root, peek, print_warnings, spec_file

if TYPE_CHECKING:
    from govstack_gen.errors import Diagnostic, ExitStatus
    from govstack_gen.resolve import Resolved
    from govstack_gen.spec.load import SpecDocument
    from govstack_gen.write_plan import Plan

__all__ = ["run"]


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from govstack_gen.errors import ExitStatus
    from govstack_gen.spec.load import read_spec
    from govstack_gen.write_plan import inputs_digest, stray_warnings, unchanged_since

    output = Path(args.output) if args.output is not None else None
    spec = spec_file(args.spec, err)
    if spec is None:
        return ExitStatus.USAGE
    raw = read_spec(spec, spec.name)
    inputs = inputs_digest(raw, spec.name, f"mirror={args.mirror}" if args.mirror else "")
    doc = peek(spec, raw) if output is None else None
    root = output if output is not None else default_root(spec, doc)
    if root is not None:
        _refuse_plaintext_secrets(root)
    owned = unchanged_since(root, inputs) if root is not None else None
    if root is not None and owned is not None:
        print_warnings(_version_warnings(spec, raw, doc), err)
        for warning in stray_warnings(root, owned):
            print(warning.render(), file=err)
        print(f"{root}: {'up to date' if args.check else 'nothing changed'} ({len(owned)} files)", file=err)
        if args.format == "json":
            out.write(_json(root, args.check, unchanged=len(owned)))
        return ExitStatus.OK
    return _render_fully(args, spec, output, inputs, out, err, secrets_checked=root)


def _refuse_plaintext_secrets(root: Path) -> None:
    """Checked on every render, the quick one too: a file can turn up under secrets/ at any time."""
    from govstack_gen.errors import SpecError
    from govstack_gen.sops_files import unencrypted_secrets

    problems = unencrypted_secrets(root)
    if problems:
        raise SpecError(problems)


def _version_warnings(spec: Path, raw: bytes, doc: SpecDocument | None) -> list[Diagnostic]:
    """What the full load would warn about the spec's own version (E117), for the quick path,
    which must stay quick: a spec in the current version is told without parsing it."""
    from govstack_gen.errors import SpecError
    from govstack_gen.spec.versions import convert, declares_current

    if declares_current(raw):
        return []
    doc = doc or peek(spec, raw)
    try:
        return convert(doc)[1] if doc is not None else []
    except SpecError:
        return []


def _render_fully(args: argparse.Namespace, spec: Path, output: Path | None, inputs: str, out: TextIO, err: TextIO,
                  secrets_checked: Path | None) -> ExitStatus:
    from govstack_gen.errors import ExitStatus
    from govstack_gen.pipeline import load_located
    from govstack_gen.render.targets import render_files
    from govstack_gen.safety import claim_places, data_inventory
    from govstack_gen.write_plan import plan_write
    from govstack_gen.writer import TXN, apply_plan, recover

    resolved, locator = load_located(spec)
    print_warnings(resolved.warnings, err)
    if args.mirror:
        from govstack_gen.mirror import mirror

        resolved = mirror(resolved, args.mirror)
    files = render_files(resolved)
    data = data_inventory(resolved)
    root = output if output is not None else spec.parent / resolved.gitops.path
    if root != secrets_checked:  # the spec's folder only now tells where the tree is
        _refuse_plaintext_secrets(root)
    _render_notes(root, resolved, err)
    if args.check:
        pending = (root / TXN / "COMMIT").exists()
        plan = plan_write(root, files, resolved.source, data=data, places=claim_places(resolved, locator))
        print_warnings(plan.warnings, err)
        if plan.changed or plan.conflicts or pending:
            lines = plan.summary_lines()
            if pending:
                lines.insert(0, "pending  an interrupted render; run `govstack-gen render` to complete it")
            out.write(_json(root, True, plan, pending) if args.format == "json" else "\n".join(lines) + "\n")
            print(f"{root}: out of date with {spec} ({len(lines)} difference{'s' if len(lines) != 1 else ''}); "
                  f"{_way_forward(plan.conflicts)}", file=err)
            return ExitStatus.FAILURE
        print(f"{root}: up to date ({len(files)} files)", file=err)
        if args.format == "json":
            out.write(_json(root, True, plan))
        return ExitStatus.OK
    if recover(root):
        print(f"{root}: completed an interrupted render first", file=err)
    plan = plan_write(root, files, resolved.source, data=data, inputs=inputs, force=args.force,
                      allow_data_move=args.allow_data_move, places=claim_places(resolved, locator))
    print_warnings(plan.warnings, err)
    apply_plan(plan)
    if not plan.changed:
        print(f"{root}: nothing changed ({len(files)} files up to date)", file=err)
    else:
        print(f"{root}: {len(plan.create)} created, {len(plan.update)} updated, {len(plan.delete)} deleted, "
              f"{len(plan.unchanged)} unchanged", file=err)
    if args.format == "json":
        out.write(_json(root, False, plan))
    return ExitStatus.OK


def _json(root: Path, check: bool, plan: Plan | None = None, pending: bool = False, unchanged: int = 0) -> str:
    """`render --format json`: the files a render wrote (or, with --check, would write, and what
    it would refuse), relative to the tree."""
    import json

    doc = {
        "tree": str(root), "check": check,
        "created": sorted(plan.create) if plan else [], "updated": sorted(plan.update) if plan else [],
        "deleted": sorted(plan.delete) if plan else [], "unchanged": len(plan.unchanged) if plan else unchanged,
        "refused": [{"code": d.code, "file": d.location.file, "message": d.message} for d in plan.conflicts] if plan else [],
        "pending": pending,
    }
    return json.dumps(doc, indent=2) + "\n"


def _way_forward(conflicts: list[Diagnostic]) -> str:
    """What makes the tree current: a plain render, unless it would refuse what --check found."""
    codes = {d.code for d in conflicts}
    steps = ["run `govstack-gen render`"]
    if codes & {"E401", "E402"}:
        steps.append("it refuses the hand edits listed: put them into the spec, or add --force to discard them "
                     "(files not owned by govstack-gen must be moved by you)")
    if "E516" in codes:
        steps.append("it refuses to move data: migrate it first, then add --allow-data-move")
    return "; ".join(steps)


def _render_notes(root: Path, resolved: Resolved, err: TextIO) -> None:
    """What a reviewer and the operator should know: which building blocks others changed, and
    which SOPS files the spec expects that are not there yet."""
    from govstack_gen.sops_files import missing_secret_files

    for block in resolved.blocks:
        if block.influenced_by:
            print(f"influenced: {block.id} <- {', '.join(block.influenced_by)}", file=err)
    for rel in missing_secret_files(root, resolved):
        print(f"note: {root / rel} does not exist yet; create the Secret there and encrypt it with "
              f"`sops --encrypt --in-place` (its building block waits for it)", file=err)
