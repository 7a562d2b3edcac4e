"""Compare a rendered tree with the output directory: what a write would create, update and
delete, and what it must refuse to touch. Reads the disk, never writes; backs `render --check`
and is the plan the writer carries out.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from govstack_gen.errors import Diagnostic, SourceLocation, WriteRefused
from govstack_gen.fsio import read_file
from govstack_gen.render.layout import MANIFEST_DIR, SOPS_CONFIG

__all__ = [
    "INPUTS", "MANIFEST", "Manifest", "Plan", "digest", "inputs_digest", "manifest_bytes", "plan_write", "read_manifest",
    "stray_warnings", "unchanged_since",
]

if TYPE_CHECKING:
    from govstack_gen.safety import Inventory, Places

MANIFEST = f"{MANIFEST_DIR}/manifest.json"
# What the last render was made from: the spec's bytes and name and the code of govstack-gen.
INPUTS = f"{MANIFEST_DIR}/inputs"
MANIFEST_FORMAT = 1


def digest(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """The files govstack-gen owns in an output directory, with the hash of what it wrote, and
    where the data of every claim lives (to refuse a render that would move or drop it)."""

    spec: str
    files: dict[str, str]
    data: Inventory = field(default_factory=dict)


def manifest_bytes(manifest: Manifest) -> bytes:
    doc = {"generator": "govstack-gen", "format": MANIFEST_FORMAT, "spec": manifest.spec, "files": manifest.files,
           "data": manifest.data}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def read_manifest(root: Path) -> Manifest | None:
    path = root / MANIFEST
    if not path.exists():
        return None
    problem = ""
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem = str(exc)
    else:
        files = doc.get("files") if isinstance(doc, dict) else None
        data = doc.get("data", {}) if isinstance(doc, dict) else None
        if isinstance(files, dict) and isinstance(data, dict) and doc.get("format") == MANIFEST_FORMAT and all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()
        ):
            return Manifest(str(doc.get("spec", "")), dict(files), dict(data))
        problem = "unexpected content"
    raise WriteRefused([Diagnostic("E405", f"ownership manifest is corrupt ({problem})", SourceLocation(str(path)),
                                   hint="restore it from git (git checkout -- " f"{MANIFEST}); without it govstack-gen "
                                   "cannot tell its files from yours")])


def _code_fingerprint() -> bytes:
    """The package's own source: output is a function of the spec and of this code only."""
    package = Path(__file__).resolve().parent
    sha = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        sha.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.digest()


def inputs_digest(spec_bytes: bytes, spec_name: str, options: str = "") -> str:
    """`options`: command-line settings that change the output (a mirror registry)."""
    return digest(_code_fingerprint() + spec_name.encode() + b"\0" + options.encode() + b"\0" + spec_bytes)


def unchanged_since(root: Path, inputs: str) -> dict[str, str] | None:
    """The owned files, if the tree in `root` is exactly what these inputs rendered last
    time (same spec bytes and code, no file edited, added by us or missing, nothing pending);
    else None. Lets an unchanged re-render skip validation and rendering altogether."""
    if read_file(root / INPUTS) != inputs.encode() or (root / MANIFEST_DIR / "txn").exists():
        return None
    try:
        manifest = read_manifest(root)
    except WriteRefused:
        return None
    if manifest is None:
        return None
    for rel, expected in manifest.files.items():
        content = read_file(root / rel)
        if content is None or digest(content) != expected:
            return None
    return manifest.files


def stray_warnings(root: Path, owned: dict[str, str]) -> list[Diagnostic]:
    """Files in generated folders that govstack-gen does not own (warnings, left alone)."""
    listings = _list_folders(root, {posixpath.dirname(rel) for rel in owned})
    return _strays(root, owned, owned, listings)


@dataclass
class Plan:
    root: Path
    create: dict[str, bytes] = field(default_factory=dict)
    update: dict[str, bytes] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    manifest: bytes = b""
    manifest_changed: bool = False
    inputs: bytes = b""  # what rendered this tree; not part of the tree (--check ignores it)
    inputs_changed: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.create or self.update or self.delete or self.manifest_changed)

    def summary_lines(self) -> list[str]:
        """One line per file: what a write would do, for --check and reviews."""
        lines = [f"create  {p}" for p in self.create]
        lines += [f"update  {p}" for p in self.update]
        lines += [f"delete  {p}" for p in self.delete]
        lines += [f"refuse  {d.message}" for d in self.conflicts]
        lines = sorted(lines, key=lambda line: line.split(None, 1)[1])
        if self.manifest_changed and not lines:
            lines.append(f"update  {MANIFEST}")
        return lines


def plan_write(root: Path, files: dict[str, bytes], spec: str, *, data: Inventory | None = None, inputs: str = "",
               force: bool = False, allow_data_move: bool = False, places: Places | None = None) -> Plan:
    """What writing `files` (relative paths) into `root` would do. Never touches the disk.

    Reads each output folder once (a listing) instead of probing every file: on large trees the
    file system calls, not the comparisons, are what costs.
    """
    plan = Plan(root)
    data = data or {}
    if root.exists() and not root.is_dir():
        raise WriteRefused([Diagnostic("E404", "the output path exists and is not a directory", SourceLocation(str(root)),
                                       hint="choose another --output")])
    previous = (read_manifest(root) if root.is_dir() else None) or Manifest(spec, {})
    owned = previous.files
    if not allow_data_move:
        from govstack_gen.safety import data_moves  # the models: not needed by the fast path

        plan.conflicts += data_moves(previous.data, data, spec, places)
    listings = _list_folders(root, {posixpath.dirname(rel) for rel in (*files, *owned)})
    for rel, content in files.items():
        _plan_file(plan, rel, content, owned.get(rel), force, listings)
    for rel in sorted(set(owned) - set(files)):
        _plan_removal(plan, rel, owned[rel], force, listings)
    plan.warnings = _strays(root, files, owned, listings)
    new_manifest = manifest_bytes(Manifest(spec, {rel: digest(files[rel]) for rel in sorted(files)}, data))
    plan.manifest = new_manifest
    plan.manifest_changed = read_file(root / MANIFEST) != new_manifest
    plan.inputs = inputs.encode()
    plan.inputs_changed = bool(inputs) and read_file(root / INPUTS) != plan.inputs
    return plan


@dataclass(frozen=True)
class _Listing:
    files: frozenset[str]
    dirs: frozenset[str]
    links: frozenset[str]  # entries that are symbolic links (to folders or anything else)


def _list_folders(root: Path, folders: set[str]) -> dict[str, _Listing | None]:
    """Each folder's entries (None: it does not exist yet), walking down from the root so that a
    symbolic link on the way out of the tree is seen in its parent's listing (no per-path
    realpath)."""
    wanted = {""}
    for folder in folders:
        if os.path.isabs(folder) or ".." in folder.split("/"):
            raise _outside(root, folder)
        while folder:
            wanted.add(folder)
            folder = posixpath.dirname(folder)
    out: dict[str, _Listing | None] = {}
    for folder in sorted(wanted, key=lambda f: (f.count("/"), f)):
        if folder:
            parent = out[posixpath.dirname(folder)]
            name = posixpath.basename(folder)
            if parent is not None and name in parent.links:
                raise _outside(root, folder)
            if parent is None or name not in parent.dirs:
                out[folder] = None
                continue
        out[folder] = _scan(root / folder)
    return out


def _scan(directory: Path) -> _Listing | None:
    try:
        with os.scandir(directory) as entries:
            files: set[str] = set()
            dirs: set[str] = set()
            links: set[str] = set()
            for entry in entries:
                if entry.is_symlink():
                    links.add(entry.name)
                (dirs if entry.is_dir() else files).add(entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return _Listing(frozenset(files), frozenset(dirs), frozenset(links))


def _outside(root: Path, folder: str) -> WriteRefused:
    return WriteRefused([Diagnostic("E403", f"refusing to write into {folder!r}: it is outside the output directory",
                                    SourceLocation(str(root)), hint="a symlink or a name in the spec points outside")])


def _exists(listings: dict[str, _Listing | None], rel: str) -> str:
    """'file', 'dir' or '' for a path, from the folder listings."""
    folder, name = posixpath.split(rel)
    listing = listings.get(folder)
    if listing is None:
        return ""
    return "file" if name in listing.files else "dir" if name in listing.dirs else ""


def _plan_file(plan: Plan, rel: str, content: bytes, owned_hash: str | None, force: bool,
               listings: dict[str, _Listing | None]) -> None:
    path = plan.root / rel
    kind = _exists(listings, rel)
    if kind == "dir":
        plan.conflicts.append(Diagnostic("E402", f"a directory is in the way of {rel}", SourceLocation(str(path)),
                                         hint="move it away; govstack-gen never deletes what it does not own"))
        return
    disk = read_file(path) if kind == "file" else None
    if disk is None:
        plan.create[rel] = content
    elif disk == content:
        plan.unchanged.append(rel)  # identical bytes: adopting an unowned copy overwrites nothing
    elif owned_hash is None:
        hint = "move or delete it yourself; govstack-gen never overwrites files it does not own"
        if rel == SOPS_CONFIG:  # e.g. the skeleton of an environment repository made by an older template
            hint = ("govstack-gen writes .sops.yaml from the stages' sops keys now: put your keys under stages[].sops, "
                    "then delete this file")
        plan.conflicts.append(Diagnostic("E402", f"{rel} exists and was not written by govstack-gen", SourceLocation(str(path)),
                                         hint=hint))
    elif digest(disk) != owned_hash and not force:
        plan.conflicts.append(Diagnostic("E401", f"{rel} was edited by hand since the last render", SourceLocation(str(path)),
                                         hint="put the change into the spec, or rerun with --force to discard the edit"))
    else:
        plan.update[rel] = content


def _plan_removal(plan: Plan, rel: str, owned_hash: str, force: bool, listings: dict[str, _Listing | None]) -> None:
    path = plan.root / rel
    disk = read_file(path) if _exists(listings, rel) == "file" else None
    if disk is None:
        return
    if digest(disk) != owned_hash and not force:
        plan.conflicts.append(Diagnostic("E401", f"{rel} is no longer rendered but was edited by hand", SourceLocation(str(path)),
                                         hint="keep the edit elsewhere, or rerun with --force to delete it"))
        return
    plan.delete.append(rel)


def _strays(root: Path, files: dict[str, bytes] | dict[str, str], owned: dict[str, str],
            listings: dict[str, _Listing | None]) -> list[Diagnostic]:
    """Files in generated folders that nobody owns: kustomize ignores them, Flux may not. The root
    holds one generated file (.sops.yaml) beside the environment's own files: not a generated folder."""
    folders = {posixpath.dirname(rel) for rel in files} - {""}
    known = set(files) | set(owned)
    out = []
    for folder in sorted(folders):
        listing = listings.get(folder)
        for name in sorted(listing.files if listing else ()):
            rel = f"{folder}/{name}"
            if rel not in known:
                out.append(Diagnostic("E402", f"{rel} is in a generated folder but not owned by govstack-gen",
                                      SourceLocation(str(root / rel)), severity="warning",
                                      hint="left alone; move it out of the generated folders"))
    return out
