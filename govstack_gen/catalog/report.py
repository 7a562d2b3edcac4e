"""`govstack-gen catalog`: the entries an environment can use, what they provide and require."""

from __future__ import annotations

import json
from typing import Any

from govstack_gen.catalog import Catalog, Entry
from govstack_gen.spec.model import ExternalSpec, GitChart
from govstack_gen.spec.requirements import describe

__all__ = ["catalog_json", "catalog_text"]


def _row(entry: Entry) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": entry.name,
        "version": entry.version,
        "description": entry.description,
        "section": entry.section,
        "provides": sorted(k for k, v in entry.labels.items() if k.startswith("provides-") and v == "true"),
        "labels": dict(sorted(entry.labels.items())),
        "file": entry.source,
    }
    spec = entry.spec
    if isinstance(spec, ExternalSpec):
        return row | {"chart": None, "requires": {"strong": [], "weak": []}, "influences": [], "database": None}
    chart = spec.chart
    source = f"{chart.git}//{chart.path}@{chart.version}" if isinstance(chart, GitChart) else f"{chart.repo}/{chart.name}@{chart.version}"
    return row | {
        "chart": source,
        "requires": {"strong": [r.description or describe(r) for r in spec.requires.strong],
                     "weak": [r.description or describe(r) for r in spec.requires.weak]},
        "influences": [i.description or describe(i.target) for i in spec.influences],
        "database": spec.database.engine if spec.database else None,
    }


def _entries(catalog: Catalog) -> list[Entry]:
    return [v for name in sorted({e.name for e in catalog.entries}) for v in catalog.versions(name)]


def catalog_json(catalog: Catalog) -> str:
    return json.dumps({"entries": [_row(e) for e in _entries(catalog)]}, indent=2) + "\n"


def catalog_text(catalog: Catalog) -> str:
    lines = []
    for entry in _entries(catalog):
        row = _row(entry)
        lines.append(f"{entry.name} {entry.version}: {entry.description}")
        lines.append(f"  chart     {row['chart']}" if row["chart"] else "  external  a service outside the cluster (externalServices)")
        if row["provides"]:
            lines.append(f"  provides  {', '.join(row['provides'])}")
        for strength in ("strong", "weak"):
            for need in row["requires"][strength]:
                lines.append(f"  requires  {need}" + (" (weak: ordered after when present)" if strength == "weak" else ""))
        for influence in row["influences"]:
            lines.append(f"  influences {influence}")
        if row["database"]:
            lines.append(f"  database  {row['database']} (in-chart, or rds on EKS)")
        lines.append(f"  from      {row['file']}")
    return "\n".join(lines) + "\n"
