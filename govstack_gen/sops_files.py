"""The operator's SOPS files in a rendered tree (`secrets/<stage>/<building block>/`): each must
really be encrypted before it is committed (CHECKLIST B36). Read only; `render`, `render
--check` and `audit` refuse a tree holding a plaintext one, whatever the spec says.

SOPS encrypts the values under `data`/`stringData` (the rendered `.sops.yaml` says so) into
`ENC[AES256_GCM,...]` strings and adds a `sops:` mapping with the recipients and a MAC.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govstack_gen.errors import Diagnostic, SourceLocation, SpecError
from govstack_gen.fsio import read_file
from govstack_gen.render.layout import SECRETS_DIR, secret_file
from govstack_gen.spec.load import SpecDocument, parse_document

if TYPE_CHECKING:  # render --check's quick path reads secrets/ without loading the models
    from govstack_gen.resolve import Resolved

__all__ = ["missing_secret_files", "unencrypted_secrets"]

HINT = "encrypt it before committing: sops --encrypt --in-place {file} (the rendered .sops.yaml names the stage's keys)"


def _files(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root / SECRETS_DIR):
        dirs.sort()
        for name in sorted(names):
            if name.endswith((".yaml", ".yml", ".json")):
                yield Path(folder) / name


def unencrypted_secrets(root: Path) -> list[Diagnostic]:
    """E407 for every file under secrets/ that is not a SOPS-encrypted document."""
    out = []
    for path in _files(root):
        display = str(path)
        raw = read_file(path) or b""
        try:
            doc = parse_document(raw, display)
        except SpecError:
            out.append(Diagnostic("E407", "not a YAML mapping SOPS could have written", SourceLocation(display, 1, 1),
                                  hint=HINT.format(file=display)))
            continue
        out += _problems(doc, path.name)
    return out


def _problems(doc: SpecDocument, file_name: str) -> list[Diagnostic]:
    hint = HINT.format(file=doc.name)
    data = doc.data
    if not isinstance(data.get("sops"), dict) or "mac" not in data["sops"]:
        return [doc.diagnostic((), "E407", "no sops metadata: the file is not encrypted", hint)]
    out = [doc.diagnostic(loc, "E407", "value is not encrypted (no ENC[...])", hint) for loc in _plain_values(data)]
    name = file_name.removesuffix(".sops.yaml") if file_name.endswith(".sops.yaml") else None
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    if name is not None and (data.get("kind") != "Secret" or meta.get("name") != name):
        out.append(doc.diagnostic(("metadata", "name"), "E407", f"{file_name} must hold the Secret {name!r}",
                                  "the file name is the Secret's name: rename the file or fix metadata.name"))
    return out


def _plain_values(data: dict[str, Any]) -> Iterator[tuple[str | int, ...]]:
    for section in ("data", "stringData"):
        values = data.get(section)
        if isinstance(values, dict):
            for key, value in values.items():
                if not (isinstance(value, str) and value.startswith("ENC[")):
                    yield (section, key)


def missing_secret_files(root: Path, env: Resolved) -> list[str]:
    """The SOPS files the spec references that are not in the tree yet (relative paths)."""
    return [rel for stage in env.stages for block in env.blocks for ref in block.sops_secrets
            if not (root / (rel := secret_file(stage.name, block.id, ref.name))).is_file()]
