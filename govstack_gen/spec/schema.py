"""The JSON Schema of environment.yaml, generated from the models (never written by hand)."""

from __future__ import annotations

import json
from typing import Any

from govstack_gen.spec.model import Environment

__all__ = ["SCHEMA_ID", "schema", "schema_json"]

SCHEMA_ID = "https://govstack.dev/schemas/environment-v1alpha1.json"


def schema() -> dict[str, Any]:
    body = Environment.model_json_schema(by_alias=True, mode="validation")
    _catalog_fills_in(body["$defs"]["BuildingBlock"])
    head = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "GovStack environment (govstack.dev/v1alpha1)",
    }
    return head | {k: v for k, v in body.items() if k != "title"}


def schema_json() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


def _catalog_fills_in(block: dict[str, Any]) -> None:
    """A building block naming a catalog entry takes its chart and budget from the entry (merged
    before validation), so an editor must not ask for them there."""
    from_entry = ["chart", "resources"]
    block["required"] = [r for r in block["required"] if r not in from_entry]
    block["anyOf"] = [{"required": ["catalog"]}, {"required": from_entry}]
