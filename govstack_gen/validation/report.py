"""Print a validation result: text for people, JSON for machines."""

from __future__ import annotations

import json
from typing import Any

from govstack_gen.errors import Diagnostic, explain_line
from govstack_gen.validation.check import Result

__all__ = ["diagnostic_json", "json_report", "text_report"]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def text_report(result: Result) -> str:
    lines = [d.render() for d in result.diagnostics]
    checked = result.objects - sum(result.unchecked.values())
    lines.append(
        f"{'invalid' if result.errors else 'valid'}: {_plural(result.objects, 'object')} "
        f"({_plural(len(result.kinds), 'kind')}) from {_plural(len(result.overlays), 'overlay')}; "
        f"{checked} checked against Kubernetes {result.kube_version} and CRDs; "
        + (f"{_plural(result.charts, 'chart release')} rendered and checked; " if result.charts else "") +
        f"{_plural(len(result.errors), 'error')}, {_plural(len(result.warnings), 'warning')}"
    )
    if result.diagnostics:
        lines.append(explain_line(result.diagnostics))
    return "\n".join(lines) + "\n"


def diagnostic_json(diagnostic: Diagnostic) -> dict[str, Any]:
    loc = diagnostic.location
    return {"code": diagnostic.code, "severity": diagnostic.severity, "file": loc.file, "line": loc.line, "column": loc.col,
            "path": diagnostic.path, "message": diagnostic.message, "hint": diagnostic.hint}


def json_report(result: Result | None, diagnostics: list[Diagnostic]) -> str:
    """`result` is None when the spec itself is invalid (nothing was rendered)."""
    doc: dict[str, Any] = {
        "valid": not any(d.severity == "error" for d in diagnostics),
        "kubeVersion": result.kube_version if result else None,
        "objects": result.objects if result else 0,
        "kinds": dict(sorted(result.kinds.items())) if result else {},
        "overlays": result.overlays if result else [],
        "chartReleases": result.charts if result else 0,
        "unchecked": [{"apiVersion": a, "kind": k, "count": n} for (a, k), n in sorted(result.unchecked.items())] if result else [],
        "errors": [diagnostic_json(d) for d in diagnostics if d.severity == "error"],
        "warnings": [diagnostic_json(d) for d in diagnostics if d.severity != "error"],
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"
