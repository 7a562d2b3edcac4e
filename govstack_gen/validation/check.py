"""Validate a rendered tree: build every overlay with kustomize, check every object it yields
against its schema and every stage against the security policy, and locate each problem in
the rendered file (and line) it comes from."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from govstack_gen.errors import Diagnostic, SourceLocation, SpecError, format_path
from govstack_gen.render.layout import ADDONS_DIR
from govstack_gen.validation.build import build_overlay
from govstack_gen.validation.policy import check_policy
from govstack_gen.validation.schemas import Key, SchemaSet

__all__ = ["Result", "validate_tree"]

Identity = tuple[str, str, str]  # kind, namespace, name
Loc = tuple[str | int, ...]


@dataclass
class Result:
    kube_version: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    objects: int = 0  # distinct objects checked (one built in several stages counts once)
    kinds: Counter[str] = field(default_factory=Counter)
    overlays: list[str] = field(default_factory=list)
    unchecked: Counter[Key] = field(default_factory=Counter)  # objects of kinds no schema knows
    unchecked_in: Counter[tuple[str, Key]] = field(default_factory=Counter)  # the same, by the folder that built them
    built: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)  # stage -> what kustomize built
    charts: int = 0  # releases whose charts were rendered and checked (validate --charts)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity != "error"]


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _identity(obj: dict[str, Any]) -> Identity:
    meta = _metadata(obj)
    return str(obj.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", ""))


class _Sources:
    """Which rendered files make up an object (its base file, then the stage patches), and the
    line of a path in them."""

    def __init__(self, files: dict[str, bytes]):
        from ruamel.yaml import YAML

        loader = YAML(typ="safe")
        self.files = files
        self.by_identity: dict[Identity, list[str]] = {}
        for rel, content in files.items():
            if rel.endswith("/kustomization.yaml") or rel == "kustomization.yaml" or not rel.endswith(".yaml"):
                continue
            doc = loader.load(content)
            if isinstance(doc, dict):
                self.by_identity.setdefault(_identity(doc), []).append(rel)

    def locate(self, obj: dict[str, Any], loc: Loc, fallback: str, *, key: bool = False) -> SourceLocation:
        from govstack_gen.spec.load import parse_document

        candidates = self.by_identity.get(_identity(obj), [])
        if not candidates:
            return SourceLocation(f"{fallback}/kustomization.yaml")
        for rel in reversed(candidates):  # the stage patch that set a field wins over the base
            try:
                doc = parse_document(self.files[rel], rel)
            except SpecError:
                continue
            if loc in doc.value_pos or loc in doc.key_pos or rel == candidates[0]:
                return doc.location(loc, key=key)
        return SourceLocation(candidates[0])


def _json_path(loc: Iterable[str | int]) -> str:
    path = format_path(tuple(loc))
    return f"$.{path}" if path and not path.startswith("[") else f"${path}"


def _schema_errors(obj: dict[str, Any], schemas: SchemaSet) -> list[tuple[Loc, str]] | None:
    """None when no schema knows the kind."""
    key = (str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    validator = schemas.validator(key)
    if validator is None:
        return None
    errors = [error for e in validator.iter_errors(obj) for error in _explain(e)]
    if not schemas.is_builtin(key[0]):  # a CRD's schema leaves ObjectMeta to the API server
        errors += _metadata_errors(obj)
    return sorted(errors, key=lambda e: (tuple(map(str, e[0])), e[1]))


def _explain(error: jsonschema.ValidationError) -> list[tuple[Loc, str]]:
    """One message per problem, at the field it is about: an unknown field is reported at its key
    (the schema's wording names the parent object)."""
    loc = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict) and isinstance(schema, dict):
        known = set(schema.get("properties") or {})
        patterns = list(schema.get("patternProperties") or {})
        extra = sorted(k for k in error.instance if k not in known and not any(re.search(p, k) for p in patterns))
        if extra:
            return [((*loc, k), f"unknown field {k!r}" + _did_you_mean(k, known)) for k in extra]
    return [(loc, error.message)]


def _did_you_mean(name: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _metadata_errors(obj: dict[str, Any]) -> list[tuple[Loc, str]]:
    meta = _metadata(obj)
    errors: list[tuple[Loc, str]] = []
    if not isinstance(meta.get("name"), str) or not meta["name"]:
        errors.append((("metadata", "name"), "metadata.name is required"))
    for part in ("labels", "annotations"):
        for key, value in (meta.get(part) or {}).items():
            if not isinstance(value, str):
                errors.append((("metadata", part, key), f"{value!r} is not of type 'string'"))
    return errors


def validate_tree(files: dict[str, bytes], stages: dict[str, list[str]], schemas: SchemaSet,
                  kustomize: tuple[str, ...]) -> Result:
    """`files`: the rendered tree; `stages`: stage -> the folders Flux builds for it."""
    result = Result(schemas.kube_version)
    sources = _Sources(files)
    seen: set[str] = set()
    diagnostics: set[Diagnostic] = set()
    with tempfile.TemporaryDirectory(prefix="govstack-gen-validate-") as tmp:
        root = Path(tmp)
        for rel, content in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
        for stage, folders in stages.items():
            built: list[dict[str, Any]] = result.built.setdefault(stage, [])
            tenants: list[dict[str, Any]] = []
            add_ons: list[dict[str, Any]] = []
            for folder in folders:
                build = build_overlay(kustomize, root, folder)
                result.overlays.append(folder)
                if build.error:
                    diagnostics.add(Diagnostic("E704", f"kustomize build failed: {build.error}",
                                               SourceLocation(f"{folder}/kustomization.yaml"),
                                               hint=f"run `{' '.join(kustomize)} {folder}` to reproduce"))
                    continue
                for obj in build.objects:
                    diagnostics.update(_check_object(obj, folder, schemas, sources, result, seen))
                (add_ons if folder.startswith(f"{ADDONS_DIR}/") else tenants).extend(build.objects)
                built.extend(build.objects)
            for obj, loc, message in check_policy(tenants, add_ons):
                diagnostics.add(Diagnostic("E705", message, sources.locate(obj, loc, folders[0]), _json_path(loc),
                                           hint=f"{_describe(obj)}: the rendered tree lost a safety property; "
                                           "report it, or undo the hand edit"))
    for (folder, (api_version, kind)), count in sorted(result.unchecked_in.items()):
        diagnostics.add(Diagnostic("E703", f"{count} {kind} object{'s' if count != 1 else ''} ({api_version}) of this overlay "
                                   "not checked: no schema", SourceLocation(f"{folder}/kustomization.yaml", 1, 1),
                                   severity="warning", hint="pass --crds DIR with its CustomResourceDefinition"))
    result.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
    return result


def _describe(obj: dict[str, Any]) -> str:
    kind, namespace, name = _identity(obj)
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


def _check_object(obj: dict[str, Any], folder: str, schemas: SchemaSet, sources: _Sources, result: Result,
                  seen: set[str]) -> list[Diagnostic]:
    import json

    fingerprint = json.dumps(obj, sort_keys=True)
    if fingerprint in seen:  # the same object in another stage: checked already
        return []
    seen.add(fingerprint)
    result.objects += 1
    result.kinds[str(obj.get("kind", ""))] += 1
    errors = _schema_errors(obj, schemas)
    if errors is None:
        key = (str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        result.unchecked[key] += 1
        result.unchecked_in[(folder, key)] += 1
        return []
    builtin = schemas.is_builtin(str(obj.get("apiVersion", "")))
    code, against = ("E701", f"the Kubernetes {schemas.kube_version} schema") if builtin else ("E702", "its CRD")
    return [Diagnostic(code, message, sources.locate(obj, loc, folder, key=message.startswith("unknown field")), _json_path(loc),
                       hint=f"{_describe(obj)} does not match {against}")
            for loc, message in errors]
