"""Print the bill of materials as a table, JSON or CSV; with a mirror registry, each entry also
says where it goes (the list a downloader and an importer work from)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from govstack_gen.bom import ChartEntry, ImageEntry
from govstack_gen.mirror import chart_target, image_target

__all__ = ["csv_report", "json_report", "rows", "text_report"]

COLUMNS = ["type", "stage", "buildingBlock", "source", "url", "name", "version", "image", "valuesPath", "mirror"]


def _chart_mirror(entry: ChartEntry, registry: str) -> str:
    url, name, version = chart_target(registry, entry.chart, entry.version, git=entry.source == "git")
    return f"{url}/{name}:{version}"


def rows(charts: list[ChartEntry], images: list[ImageEntry], registry: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in charts:
        out.append({"type": "chart", "stage": c.stage, "buildingBlock": c.block, "source": c.source, "url": c.url,
                    "name": c.chart, "version": c.version, "image": None, "valuesPath": None,
                    "mirror": _chart_mirror(c, registry) if registry else None})
    for i in images:
        out.append({"type": "image", "stage": i.stage, "buildingBlock": i.block, "source": i.registry, "url": None,
                    "name": i.repository, "version": i.tag or i.digest, "image": i.image, "valuesPath": i.values_path,
                    "mirror": image_target(registry, i.repository, i.tag, i.digest) if registry else None})
    return out


def json_report(table: list[dict[str, Any]]) -> str:
    doc = {"charts": [{k: v for k, v in r.items() if k not in ("type", "image", "valuesPath") and (v is not None or k == "mirror")}
                      for r in table if r["type"] == "chart"],
           "images": [{k: v for k, v in r.items() if k not in ("type", "url")} for r in table if r["type"] == "image"]}
    return json.dumps(doc, indent=2) + "\n"


def csv_report(table: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in table)
    return buffer.getvalue()


def text_report(table: list[dict[str, Any]]) -> str:
    charts = [[r["stage"], r["buildingBlock"], r["source"], f"{r['url']} {r['name']}", r["version"], r["mirror"] or ""]
              for r in table if r["type"] == "chart"]
    images = [[r["stage"], r["buildingBlock"], r["image"], r["valuesPath"], r["mirror"] or ""] for r in table if r["type"] == "image"]
    mirrored = any(r["mirror"] for r in table)
    out = _table(["STAGE", "BUILDING BLOCK", "SOURCE", "CHART", "VERSION", *(["MIRROR"] if mirrored else [])],
                 [row[: 6 if mirrored else 5] for row in charts])
    out += "\n" + (_table(["STAGE", "BUILDING BLOCK", "IMAGE", "VALUES", *(["MIRROR"] if mirrored else [])],
                          [row[: 5 if mirrored else 4] for row in images]) if images else "no images declared in values\n")
    return out


def _table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *body, strict=False)]
    return "".join("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
                   for row in [header, *body])
