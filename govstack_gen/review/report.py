"""Print the changes: text for a terminal, Markdown sized for a pull-request comment, JSON."""

from __future__ import annotations

import json
from collections import Counter
from itertools import groupby
from typing import Any

from govstack_gen.errors import format_path
from govstack_gen.review.changes import MISSING, Change, FieldChange

__all__ = ["MARKDOWN_LIMIT", "json_report", "markdown_report", "text_report"]

# GitHub refuses comments over 65,536 characters; leave room for whatever CI adds around it.
MARKDOWN_LIMIT = 60_000
VALUE_WIDTH = 70
SIGN = {"added": "+", "changed": "~", "removed": "-"}


def _value(value: Any) -> str:
    if value is MISSING:
        return "(none)"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 3] + "..."


def _field(change: FieldChange) -> str:
    return f"{format_path(change.path)}: {_value(change.old)} -> {_value(change.new)}"


def _stages(change: Change, all_stages: list[str]) -> str:
    return "all stages" if len(all_stages) > 1 and change.stages == all_stages else ", ".join(change.stages)


def _summary(changes: list[Change]) -> str:
    counts = Counter(c.action for c in changes)
    destructive = sum(1 for c in changes if c.destructive)
    return (f"{counts['added']} added, {counts['changed']} changed, {counts['removed']} removed"
            f" ({destructive} destructive)")


def text_report(changes: list[Change], stages: list[str], against: str, notes: list[str]) -> str:
    if not changes:
        return f"no changes against {against}\n"
    lines = []
    destructive = [c for c in changes if c.destructive]
    if destructive:
        lines.append(f"DESTRUCTIVE ({len(destructive)}):")
        lines += [f"  ! {c.kind} {c.name} [{_stages(c, stages)}]: {c.destructive}" for c in destructive]
        lines.append("")
    for block, group in groupby(sorted(changes, key=lambda c: c.block), key=lambda c: c.block):
        lines.append(f"{block}:")
        for c in group:
            lines.append(f"  {SIGN[c.action]} {c.action} {c.kind} {c.name} [{_stages(c, stages)}]"
                         + ("  (destructive)" if c.destructive else ""))
            lines += [f"      {_field(f)}" for f in c.fields]
    lines += [f"note: {n}" for n in notes]
    lines.append(f"{_summary(changes)} against {against}")
    return "\n".join(lines) + "\n"


def markdown_report(changes: list[Change], stages: list[str], against: str, notes: list[str],
                    limit: int = MARKDOWN_LIMIT) -> str:
    head = [f"### govstack-gen diff: {_summary(changes) if changes else 'no changes'}", "", f"Against `{against}`.", ""]
    destructive = [c for c in changes if c.destructive]
    if destructive:
        head += ["> [!CAUTION]", f"> **{len(destructive)} destructive change{'s' if len(destructive) != 1 else ''}**", ">"]
        head += [f"> - `{c.kind} {c.name}` ({_stages(c, stages)}): {c.destructive}" for c in destructive]
        head.append("")
    body: list[str] = []
    for block, group in groupby(sorted(changes, key=lambda c: c.block), key=lambda c: c.block):
        items = list(group)
        body += [f"<details><summary><b>{block}</b>: {_summary(items)}</summary>", ""]
        for c in items:
            body.append(f"- **{c.action}** `{c.kind} {c.name}` ({_stages(c, stages)})" + (" :warning:" if c.destructive else ""))
            if c.fields:
                body += ["  ```", *(f"  {_field(f)}" for f in c.fields), "  ```"]
        body += ["", "</details>", ""]
    tail = [f"_note: {n}_" for n in notes]
    text = "\n".join(head + body + tail) + "\n"
    if len(text) <= limit:
        return text
    # Too long for a comment: keep the summary and the destructive list whole, cut the details.
    cut = "\n".join(head) + "\n"
    for line in body:
        if len(cut) + len(line) + 200 > limit:
            break
        cut += line + "\n"
    if cut.count("```") % 2:
        cut += "  ```\n"
    return cut + f"\n_... cut at {limit:,} characters: run `govstack-gen diff` for the rest._\n"


def json_report(changes: list[Change], stages: list[str], against: str, notes: list[str]) -> str:
    def one(c: Change) -> dict[str, Any]:
        group, kind, namespace, name = c.identity
        return {"buildingBlock": c.block, "action": c.action, "apiGroup": group, "kind": kind, "namespace": namespace or None,
                "name": name, "stages": c.stages, "destructive": c.destructive or None,
                "fields": [{"path": format_path(f.path), "old": None if f.old is MISSING else f.old,
                            "new": None if f.new is MISSING else f.new} for f in c.fields]}

    doc = {"against": against, "stages": stages, "summary": _summary(changes), "destructive": [one(c) for c in changes if c.destructive],
           "changes": [one(c) for c in changes], "notes": notes}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
