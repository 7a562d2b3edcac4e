"""The objects each stage of a rendered tree applies, without running kustomize.

Follows the `kustomization.yaml` files from each stage's entry folders (their `resources`
and `patches`), as kustomize would for the trees govstack-gen renders. Patches are applied
as JSON merge patches (RFC 7386): what kustomize does for custom resources, the only kinds
our stage overlays patch. Fields a hand-edited kustomization may add (components,
namePrefix, ...) are not evaluated; they are reported so the reader knows.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from govstack_gen.render import layout

__all__ = ["Identity", "StageObjects", "identity", "merge_patch", "stage_objects"]

Identity = tuple[str, str, str, str]  # group, kind, namespace, name
KUSTOMIZATION = "kustomization.yaml"
EVALUATED = {"apiVersion", "kind", "resources", "patches"}


def identity(obj: dict[str, Any]) -> Identity:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return group, str(obj.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", ""))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: mappings merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


@dataclass
class StageObjects:
    """stage -> identity -> the object that stage applies; plus what could not be followed."""

    stages: dict[str, dict[Identity, dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _load(content: bytes) -> list[Any]:
    from ruamel.yaml import YAML

    return [doc for doc in YAML(typ="safe").load_all(content) if doc is not None]


class _Builder:
    def __init__(self, files: dict[str, bytes], notes: list[str]):
        self.files = files
        self.notes = notes
        self.cache: dict[str, list[dict[str, Any]]] = {}

    def build(self, folder: str, seen: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        if folder in self.cache:
            return self.cache[folder]
        rel = posixpath.join(folder, KUSTOMIZATION)
        if rel not in self.files or folder in seen:
            self.notes.append(f"{folder}: no {KUSTOMIZATION}" if folder not in seen else f"{folder}: cycle")
            return []
        [config] = _load(self.files[rel])[:1] or [{}]
        if extra := sorted(set(config) - EVALUATED):
            self.notes.append(f"{rel}: {', '.join(extra)} not evaluated by diff")
        objects: list[dict[str, Any]] = []
        for entry in config.get("resources") or []:
            path = posixpath.normpath(posixpath.join(folder, str(entry)))
            if path in self.files:
                objects += [d for d in _load(self.files[path]) if isinstance(d, dict)]
            else:
                objects += self.build(path, (*seen, folder))
        for patch in config.get("patches") or []:
            path = posixpath.normpath(posixpath.join(folder, str((patch or {}).get("path", ""))))
            for doc in _load(self.files[path]) if path in self.files else []:
                objects = [merge_patch(o, doc) if identity(o) == identity(doc) else o for o in objects]
        self.cache[folder] = objects
        return objects


def _entry_folders(files: dict[str, bytes]) -> dict[str, list[str]]:
    """stage -> its entry folders, found in the tree itself (old trees may have other stages)."""
    stages: dict[str, list[str]] = {}
    for rel in sorted(files):
        folder, name = posixpath.split(rel)
        stage = layout.entry_stage(folder) if name == KUSTOMIZATION else None
        if stage is not None:
            stages.setdefault(stage, []).append(folder)
    return stages


def stage_objects(files: dict[str, bytes]) -> StageObjects:
    result = StageObjects()
    builder = _Builder(files, result.notes)
    for stage, folders in _entry_folders(files).items():
        applied: dict[Identity, dict[str, Any]] = {}
        for folder in folders:
            for obj in builder.build(folder):
                applied[identity(obj)] = obj
        result.stages[stage] = applied
    return result

