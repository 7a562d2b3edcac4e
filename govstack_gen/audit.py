"""`govstack-gen audit`: what changed in a rendered tree behind govstack-gen's back, from the
ownership manifest: generated files edited or deleted by hand, and files added by hand where
only generated files belong (Flux applies whatever a kustomization lists, and a hand-added
file is one `resources:` line away from the cluster), and SOPS files under secrets/ that are
not encrypted."""

from __future__ import annotations

import os
from pathlib import Path

from govstack_gen.errors import Diagnostic, SourceLocation
from govstack_gen.fsio import read_file
from govstack_gen.render.layout import MANIFEST_DIR
from govstack_gen.sops_files import unencrypted_secrets
from govstack_gen.write_plan import MANIFEST, digest, read_manifest

__all__ = ["NotATree", "audit_tree"]


class NotATree(LookupError):
    """The folder holds no ownership manifest: it was not rendered by govstack-gen."""


def audit_tree(root: Path) -> tuple[list[Diagnostic], int]:
    """(findings, number of owned files). Reads only; raises NotATree, or WriteRefused when the
    manifest itself is corrupt."""
    manifest = read_manifest(root)
    if manifest is None:
        raise NotATree(f"{root} has no {MANIFEST}: not a tree rendered by govstack-gen")
    findings = []  # located at the file: the message does not repeat its path
    for rel, expected in sorted(manifest.files.items()):
        content = read_file(root / rel)
        where = SourceLocation(str(root / rel))
        if content is None:
            findings.append(Diagnostic("E406", "deleted by hand", where,
                                       hint="run `govstack-gen render` to restore it, or change the spec"))
        elif digest(content) != expected:
            findings.append(Diagnostic("E401", "edited by hand since the last render", where,
                                       hint="put the change into the spec and render again (--force discards the edit)"))
    findings += [
        Diagnostic("E402", "added by hand in a generated folder", SourceLocation(str(root / rel)),
                   hint="move it out of the generated folders; govstack-gen never deletes it, but Flux may apply it")
        for rel in _unowned(root, set(manifest.files))
    ]
    findings += unencrypted_secrets(root)
    if (root / MANIFEST_DIR / "txn").exists():
        findings.append(Diagnostic("E406", "an interrupted render is pending", SourceLocation(str(root / MANIFEST_DIR / "txn")),
                                   hint="run `govstack-gen render` to complete it"))
    return findings, len(manifest.files)


def _unowned(root: Path, owned: set[str]) -> list[str]:
    """Files under the top-level folders govstack-gen generates that it does not own."""
    tops = sorted({rel.split("/", 1)[0] for rel in owned if "/" in rel} - {MANIFEST_DIR})
    found = []
    for top in tops:
        for folder, dirs, names in os.walk(root / top):
            dirs.sort()
            for name in sorted(names):
                rel = (Path(folder) / name).relative_to(root).as_posix()
                if rel not in owned:
                    found.append(rel)
    return found
