"""The only module that changes the output directory.

A write is a small transaction, so that an interrupted render never leaves a mix of two trees:

1. every new file is written into `.govstack-gen/txn/files/` (nothing visible changes);
2. the list of moves (with each file's digest) and deletions is written and renamed to
   `.govstack-gen/txn/COMMIT`: this rename is the commit point;
3. files are moved into place, deletions done, the manifest replaced, `txn/` removed.

Killed before step 2, the old tree is untouched and the next run discards `txn/`. Killed after
it, the next run (of any command that reads the tree) finishes the moves first: roll forward.

A power cut is a kill that may also lose what the disk had not yet stored, so the staged files
and the folders that name them are fsynced before the commit point, the commit after it, and
the folders the moves change before `txn/` goes. A disk that loses data anyway is caught: the
roll forward checks every staged file against its digest first and refuses (E408) rather than
put a damaged file in place.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from govstack_gen.errors import Diagnostic, SourceLocation, WriteRefused
from govstack_gen.fsio import flush, read_file, replace_file, sync_dirs, write_file
from govstack_gen.render.layout import MANIFEST_DIR
from govstack_gen.write_plan import INPUTS, MANIFEST, Plan, digest

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
    journal = json.loads(commit.read_text("utf-8"))
    damaged = _damaged(root, journal)
    if damaged:
        raise WriteRefused(damaged)
    _roll_forward(root, journal)
    return True


def _damaged(root: Path, journal: dict[str, list[Any]]) -> list[Diagnostic]:
    """The files of a committed transaction that are neither staged nor in place with the bytes
    the commit recorded (a disk that lost data): rolling forward would install them."""
    staged = root / TXN / "files"
    found = []
    for entry in journal["write"]:
        if len(entry) < 3:
            continue  # a journal of govstack-gen 0.2.0 and earlier: no digests to check
        name, rel, expected = entry
        content = read_file(staged / name)
        where = staged / name
        if content is None:  # moved already by the interrupted roll forward
            content, where = read_file(root / rel), root / rel
        if content is None or digest(content) != expected:
            state = "missing" if content is None else f"{len(content)} bytes that do not match the commit"
            found.append(Diagnostic(
                "E408", f"the interrupted render cannot be completed: {rel} is {state}", SourceLocation(str(where)),
                hint=f"nothing was changed; remove {root / TXN} and render again (with --force if the render then "
                     "reports files edited by hand: those are the ones the interrupted render had moved into place)"))
    return found


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
    # Staged flat, by number: no folder tree to build and remove again. The manifest moves last,
    # so that until every file is in place it still describes the tree on disk.
    order = sorted(writes, key=lambda rel: (rel.startswith(f"{MANIFEST_DIR}/"), rel))
    moves = [(f"{index:06d}", rel, digest(writes[rel])) for index, rel in enumerate(order)]
    for name, rel, _ in moves:
        write_file(staged / name, writes[rel])
    journal: dict[str, list[Any]] = {"write": moves, "delete": sorted(plan.delete)}
    pending = txn / "COMMIT.tmp"
    write_file(pending, json.dumps(journal).encode("utf-8"))
    # Staged files, the journal and the folders up to the root are on the disk before the commit.
    flush(root, [*(staged / name for name, _, _ in moves), pending], [staged, txn, txn.parent, root])
    os.replace(pending, txn / "COMMIT")  # the commit point
    sync_dirs([txn])
    _roll_forward(root, journal)


def _roll_forward(root: Path, journal: dict[str, list[Any]]) -> None:
    """Idempotent: safe to run again if it is itself interrupted."""
    staged = root / TXN / "files"
    made: set[Path] = set()
    for name, rel, *_ in journal["write"]:
        source = staged / name
        if source.exists():
            target = root / rel
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            os.replace(source, target)
    changed = set(made)
    for rel in journal["delete"]:
        target = root / rel
        if target.is_file():
            target.unlink()
        changed.add(_prune_empty_dirs(root, target.parent))
    # The moves must outlive the journal: a folder's new entries reach the disk before txn/ goes
    # (new folders with their parents, up to the root).
    flush(root, [], sorted({parent for folder in changed for parent in _up_to(root, folder)}, key=lambda d: -len(d.parts)))
    shutil.rmtree(root / TXN)


def _up_to(root: Path, folder: Path) -> list[Path]:
    """The folder and its parents up to the root (the ones whose entries a new folder changes)."""
    chain = []
    while folder != root and root in folder.parents:
        chain.append(folder)
        folder = folder.parent
    return [*chain, root]


def _prune_empty_dirs(root: Path, directory: Path) -> Path:
    """Remove folders a deletion left empty; a folder holding anything else stays. The folder
    whose entries changed last (the parent of the last one removed)."""
    while directory != root and root in directory.parents and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent
    return directory

