"""The only module that changes the output directory.

A write is a small transaction, so that an interrupted render never leaves a mix of two trees:

1. every new file is written into `.govstack-gen/txn/files/` (nothing visible changes);
2. the list of moves and deletions is written and renamed to `.govstack-gen/txn/COMMIT`:
   this rename is the commit point;
3. files are moved into place, deletions done, the manifest replaced, `txn/` removed.

Killed before step 2, the old tree is untouched and the next run discards `txn/`. Killed after
it, the next run (of any command that reads the tree) finishes the moves first: roll forward.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from govstack_gen.diff import INPUTS, MANIFEST, Plan
from govstack_gen.errors import WriteRefused
from govstack_gen.fsio import replace_file, write_file
from govstack_gen.render.layout import MANIFEST_DIR

__all__ = ["apply_plan", "recover"]

TXN = f"{MANIFEST_DIR}/txn"


def recover(root: Path) -> bool:
    """Finish or discard a transaction an earlier run left behind. True if one was finished."""
    txn = root / TXN
    if not txn.exists():
        return False
    commit = txn / "COMMIT"
    if not commit.exists():
        shutil.rmtree(txn)
        return False
    _roll_forward(root, json.loads(commit.read_text("utf-8")))
    return True


def apply_plan(plan: Plan) -> None:
    if plan.conflicts:
        raise WriteRefused(plan.conflicts)
    root = plan.root
    if not plan.changed:
        if plan.inputs_changed:  # same tree from other inputs (a new govstack-gen): note it atomically
            (root / MANIFEST_DIR).mkdir(parents=True, exist_ok=True)
            replace_file(root / INPUTS, plan.inputs)
        return
    recover(root)
    txn = root / TXN
    staged = txn / "files"
    staged.mkdir(parents=True)
    writes = {**plan.create, **plan.update, MANIFEST: plan.manifest}
    if plan.inputs:
        writes[INPUTS] = plan.inputs
    # Staged flat, by number: no folder tree to build and remove again.
    moves = [(f"{index:06d}", rel) for index, rel in enumerate(sorted(writes))]
    for name, rel in moves:
        write_file(staged / name, writes[rel])
    journal: dict[str, list[Any]] = {"write": moves, "delete": sorted(plan.delete)}
    pending = txn / "COMMIT.tmp"
    with pending.open("w", encoding="utf-8") as handle:
        json.dump(journal, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pending, txn / "COMMIT")  # the commit point
    _roll_forward(root, journal)


def _roll_forward(root: Path, journal: dict[str, list[Any]]) -> None:
    """Idempotent: safe to run again if it is itself interrupted."""
    staged = root / TXN / "files"
    made: set[Path] = set()
    for name, rel in journal["write"]:
        source = staged / name
        if source.exists():
            target = root / rel
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            os.replace(source, target)
    for rel in journal["delete"]:
        target = root / rel
        if target.is_file():
            target.unlink()
        _prune_empty_dirs(root, target.parent)
    shutil.rmtree(root / TXN)


def _prune_empty_dirs(root: Path, directory: Path) -> None:
    """Remove folders a deletion left empty; a folder holding anything else stays."""
    while directory != root and root in directory.parents and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent

