"""Schemas of Kubernetes objects: the built-in kinds of one Kubernetes version (the OpenAPI
schemas `kubernetes-validate` ships offline) and custom resources from CRD files.

Every schema is compiled once and reused for every object of its kind: validating is then a
fraction of a millisecond per object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from govstack_gen.errors import Diagnostic, SourceLocation
from govstack_gen.validation import DEFAULT_KUBE_VERSION

__all__ = [
    "DEFAULT_KUBE_VERSION", "SchemaSet", "UnsupportedKubeVersion", "crd_paths", "kube_versions", "load_crds", "structural",
]

SCHEMA_PACKAGE = "kubernetes_validate"
SCHEMA_DIR = "kubernetes-json-schema"

Key = tuple[str, str]  # (apiVersion, kind)


class UnsupportedKubeVersion(ValueError):
    """--kube-version names a version this installation has no schemas for."""


def kube_versions() -> list[str]:
    """The Kubernetes minors with schemas installed, oldest first ('1.25', ..., '1.37')."""
    root = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_DIR)
    found = {m.group(1) for entry in root.iterdir() if (m := re.fullmatch(r"v(\d+\.\d+)\.0-local-strict", entry.name))}
    return sorted(found, key=lambda v: tuple(int(p) for p in v.split(".")))


def _minor(version: str) -> str:
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", version.strip())
    if not match:
        raise UnsupportedKubeVersion(f"{version!r} is not a Kubernetes version such as {DEFAULT_KUBE_VERSION}")
    minor = f"{int(match.group(1))}.{int(match.group(2))}"
    known = kube_versions()
    if minor not in known:
        raise UnsupportedKubeVersion(f"no schemas for Kubernetes {minor}: this installation has {known[0]} to {known[-1]}")
    return minor


def structural(node: Any) -> Any:
    """A CRD's OpenAPI v3 schema as JSON Schema: drop x-kubernetes-*, map int-or-string and
    nullable, and forbid unknown fields wherever the schema lists properties and does not
    preserve unknown fields (what the API server's pruning would silently drop)."""
    if isinstance(node, list):
        return [structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: structural(v) for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def crd_paths(directory: Path) -> list[Path]:
    """The YAML files of a --crds directory (or the file itself), sorted."""
    if directory.is_file():
        return [directory]
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def _documents(path: Path) -> Iterator[Any]:
    from ruamel.yaml import YAML  # the C loader: CRD files are large

    yield from YAML(typ="safe").load_all(path.read_bytes())


def load_crds(paths: Iterable[Path]) -> tuple[dict[Key, dict[str, Any]], list[Diagnostic]]:
    """(apiVersion, kind) -> JSON Schema of every CustomResourceDefinition in these files; other
    documents (a gotk-components.yaml holds Deployments too) are skipped."""
    from ruamel.yaml.error import YAMLError

    schemas: dict[Key, dict[str, Any]] = {}
    problems = []
    for path in paths:
        try:
            for crd in _documents(path):
                if isinstance(crd, dict) and crd.get("kind") == "CustomResourceDefinition":
                    schemas.update(_crd_schemas(crd))
        except (OSError, YAMLError, KeyError, TypeError) as exc:
            problems.append(Diagnostic("E706", f"cannot read CRDs: {str(exc).splitlines()[0]}", SourceLocation(str(path)),
                                       hint="pass --crds with CustomResourceDefinition YAML files"))
    return schemas, problems


def _crd_schemas(crd: dict[str, Any]) -> Iterator[tuple[Key, dict[str, Any]]]:
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    for version in crd["spec"]["versions"]:
        schema = structural(version["schema"]["openAPIV3Schema"])
        schema.setdefault("properties", {})["metadata"] = {"type": "object"}  # ObjectMeta: checked apart
        yield (f"{group}/{version['name']}", kind), schema


@dataclass
class SchemaSet:
    """Compiled validators by (apiVersion, kind), built on first use."""

    kube_version: str = DEFAULT_KUBE_VERSION
    crds: dict[Key, dict[str, Any]] = field(default_factory=dict)
    _compiled: dict[Key, jsonschema.protocols.Validator | None] = field(default_factory=dict, repr=False)
    _registry: Registry[Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.kube_version = _minor(self.kube_version)

    def validator(self, key: Key) -> jsonschema.protocols.Validator | None:
        """None when no schema knows the kind."""
        if key not in self._compiled:
            self._compiled[key] = self._compile(key)
        return self._compiled[key]

    def is_builtin(self, api_version: str) -> bool:
        group = api_version.rpartition("/")[0]
        return "." not in group or group.endswith(".k8s.io")

    def _compile(self, key: Key) -> jsonschema.protocols.Validator | None:
        if key in self.crds:
            return jsonschema.Draft7Validator(self.crds[key])
        if not self.is_builtin(key[0]):
            return None
        schema = self._builtin(key)
        return None if schema is None else jsonschema.Draft202012Validator(schema, registry=self._definitions())

    def _folder(self) -> Any:
        return resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_DIR, f"v{self.kube_version}.0-local-strict")

    def _builtin(self, key: Key) -> dict[str, Any] | None:
        # rbac.authorization.k8s.io/v1 Role -> role-rbac-v1.json; v1 Namespace -> namespace-v1.json
        api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", key[0])
        entry = self._folder().joinpath(f"{key[1].lower()}-{api}.json")
        if not entry.is_file():
            return None
        schema: dict[str, Any] = json.loads(entry.read_bytes())
        return schema

    def _definitions(self) -> Registry[Any]:
        if self._registry is None:
            definitions = json.loads(self._folder().joinpath("_definitions.json").read_bytes())
            self._registry = Resource.from_contents(definitions) @ Registry()
        return self._registry
