"""The JSON Schema of environment.yaml, generated from the models (never written by hand)."""

from __future__ import annotations

import copy
import json
from typing import Any

from govstack_gen.spec.model import API_VERSION, Environment

__all__ = ["SCHEMA_ID", "schema", "schema_json"]

DEFS = "#/$defs/"
NAMED_ITEMS = frozenset({"Volume", "Route", "TcpRoute", "Middleware", "SecretRef"})
SCHEMA_ID = f"https://govstack.dev/schemas/environment-{API_VERSION.split('/')[1]}.json"


def schema() -> dict[str, Any]:
    body = _without_discriminators(Environment.model_json_schema(by_alias=True, mode="validation"))
    _catalog_fills_in(body)
    head = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"GovStack environment ({API_VERSION})",
    }
    return head | {k: v for k, v in body.items() if k != "title"}


def schema_json() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


def _without_discriminators(node: Any) -> Any:
    """pydantic marks tagged unions with OpenAPI's `discriminator`, which is no JSON Schema
    keyword: strict validators (ajv) refuse the schema for it. The `oneOf` with each member's
    `const` tag says the same in JSON Schema."""
    if isinstance(node, dict):
        return {k: _without_discriminators(v) for k, v in node.items() if k != "discriminator"}
    if isinstance(node, list):
        return [_without_discriminators(item) for item in node]
    return node


def _catalog_fills_in(schema: dict[str, Any]) -> None:
    """A building block naming a catalog entry is merged over the entry before it is validated,
    so it may leave out anything the entry has (its chart, budget, a route's service...): in the
    editor schema it is checked against a copy of the models with nothing required."""
    defs = schema["$defs"]
    partial: dict[str, str] = {}

    def relax(name: str) -> str:
        if name not in partial:
            partial[name] = f"Partial{name}"
            defs[partial[name]] = strip(copy.deepcopy(defs[name]))
            if name in NAMED_ITEMS:  # an item of a list merged by name can drop the entry's item
                defs[partial[name]]["properties"]["$patch"] = {"const": "delete", "description": "Drop the entry's item of this name."}
        return partial[name]

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "required" and isinstance(value, list):
                    continue  # the keyword; property names live one level down, under "properties"
                if key == "$ref" and isinstance(value, str) and value.startswith(DEFS):
                    value = DEFS + relax(value.removeprefix(DEFS))
                out["anyOf" if key == "oneOf" else key] = strip(value) if key != "$ref" else value
            return out
        if isinstance(node, list):
            return [strip(item) for item in node]
        return node

    defs["CompleteBuildingBlock"] = defs["BuildingBlock"]
    relaxed = relax("CompleteBuildingBlock")
    defs["BuildingBlock"] = {
        "description": "A building block: complete, or overriding the catalog entry it names.",
        "if": {"type": "object", "properties": {"catalog": {}}, "required": ["catalog"]},
        "then": {"$ref": DEFS + relaxed},
        "else": {"$ref": DEFS + "CompleteBuildingBlock"},
    }
