"""The placeholders a building block's strings may hold, and their replacement: `${block.id}`
and `${block.namespace}` (in any string of a building block and its catalog entry), and
`${environment}` (in an influence's appended item and an endpoint), `${environment}` and
`${stage}` in the worker pool's Karpenter settings (one cluster per stage)."""

from __future__ import annotations

from typing import Any

__all__ = ["BLOCK_ID", "BLOCK_NAMESPACE", "ENVIRONMENT", "STAGE", "substitute"]

BLOCK_ID = "${block.id}"
BLOCK_NAMESPACE = "${block.namespace}"
ENVIRONMENT = "${environment}"
STAGE = "${stage}"


def substitute(node: Any, names: dict[str, str]) -> Any:
    """`node` with every placeholder in `names` replaced, in every string of it (nested mappings
    and lists included); other values as they are."""
    if isinstance(node, str):
        for placeholder, value in names.items():
            node = node.replace(placeholder, value)
        return node
    if isinstance(node, dict):
        return {k: substitute(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, names) for v in node]
    return node
