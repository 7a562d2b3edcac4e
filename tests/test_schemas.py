"""structural(): a CRD's OpenAPI v3 schema as the JSON Schema that validate and the tests check
custom resources with. Its oracles are the API server's rules for structural schemas, written
here by hand, and the real manifests of the Flux reference repositories (../shared/reference),
which their controllers accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from govstack_gen.validation.schemas import structural
from helpers import SHARED, crd_schemas


def valid(schema: dict[str, Any], instance: Any) -> bool:
    return jsonschema.Draft7Validator(structural(schema)).is_valid(instance)


def test_int_or_string_takes_both_and_nothing_else() -> None:
    schema = {"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": True}}}
    assert valid(schema, {"port": 80}) and valid(schema, {"port": "http"})
    assert not valid(schema, {"port": True}) and not valid(schema, {"port": [80]})


def test_nullable_takes_null_and_its_type() -> None:
    schema = {"type": "object", "properties": {"suspend": {"type": "boolean", "nullable": True}}}
    assert valid(schema, {"suspend": None}) and valid(schema, {"suspend": False})
    assert not valid(schema, {"suspend": "no"})
    assert not valid({"type": "object", "properties": {"suspend": {"type": "boolean"}}}, {"suspend": None})


def test_unknown_fields_are_refused_unless_preserved() -> None:
    listed = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert valid(listed, {"a": "x"}) and not valid(listed, {"a": "x", "b": 1})  # the API server would prune b
    preserved = {**listed, "x-kubernetes-preserve-unknown-fields": True}
    assert valid(preserved, {"a": "x", "b": 1})
    mapped = {**listed, "additionalProperties": {"type": "integer"}}
    assert valid(mapped, {"a": "x", "b": 1}) and not valid(mapped, {"a": "x", "b": "y"})
    # A free-form object (no properties) takes anything, as Helm values do.
    assert valid({"type": "object"}, {"anything": {"at": ["all"]}})
    nested = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"n": {"type": "integer"}}}}}
    assert not valid(nested, {"spec": {"n": 1, "typo": 2}})


REFERENCE = sorted((SHARED / "reference").glob("fluxcd-*/**/*.yaml"))
FLUX_KINDS = {"HelmRelease", "Kustomization", "GitRepository", "HelmRepository", "OCIRepository"}


def patches() -> set[Path]:
    """The files kustomize applies as patches (partial objects, not manifests)."""
    found = set()
    for path in REFERENCE:
        if path.name != "kustomization.yaml":
            continue
        config = yaml.safe_load(path.read_text()) or {}
        for patch in [*config.get("patches", []), *config.get("patchesStrategicMerge", [])]:
            file = patch.get("path") if isinstance(patch, dict) else patch
            if isinstance(file, str):
                found.add((path.parent / file).resolve())
    return found


def flux_objects() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    skip = patches()
    assert skip  # the reference repositories patch per cluster: the filter is tested by their presence
    for path in REFERENCE:
        if path.resolve() in skip:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") in FLUX_KINDS and "toolkit.fluxcd.io" in str(doc.get("apiVersion")):
                found.append((path, doc))
    return found


def test_the_flux_reference_repositories_manifests_pass() -> None:
    """What Flux's own example repositories apply passes the schemas made from Flux's CRDs, and
    a typo in any of their spec fields is caught."""
    objects = flux_objects()
    assert len(objects) >= 10 and {o["kind"] for _, o in objects} >= {"HelmRelease", "Kustomization", "HelmRepository"}
    schemas = crd_schemas()
    for path, obj in objects:
        schema = schemas.get((obj["apiVersion"], obj["kind"]))
        if schema is None:
            pytest.fail(f"{path}: no CRD in ../shared/crds for {obj['apiVersion']} {obj['kind']}")
        validator = jsonschema.Draft7Validator(schema)
        assert not list(validator.iter_errors(obj)), (path, [e.message for e in validator.iter_errors(obj)])
        typo = {**obj, "spec": {**obj["spec"], "intervall": "5m"}}
        assert not validator.is_valid(typo), path
