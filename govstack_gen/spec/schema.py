"""The JSON Schema of environment.yaml, generated from the models (never written by hand)."""

from __future__ import annotations

import json
from typing import Any

from govstack_gen.spec.model import Environment

__all__ = ["SCHEMA_ID", "schema", "schema_json"]

SCHEMA_ID = "https://govstack.dev/schemas/environment-v1alpha1.json"


def schema() -> dict[str, Any]:
    body = Environment.model_json_schema(by_alias=True, mode="validation")
    head = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "GovStack environment (govstack.dev/v1alpha1)",
    }
    return head | {k: v for k, v in body.items() if k != "title"}


def schema_json() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
