"""Where a building block's field is written: in the environment spec, in the catalog entry the
building block starts from, or (when neither writes it: a default, or the chart's own doing) at
the building block's `catalog:` reference, or its id.

Paths are relative to the building block, with items of named lists (volumes, routes, ...) given
by name, since the spec and the entry number them differently: ("routes", "app", "service").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from govstack_gen.errors import SourceLocation, format_path
from govstack_gen.spec.load import Loc, SpecDocument

if TYPE_CHECKING:
    from govstack_gen.catalog import Catalog, Entry

__all__ = ["BlockLocator"]


def _concrete(data: Any, loc: Loc) -> Loc | None:
    """`loc` with named-list items as indexes into `data`; None when `data` has no such path."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, list):
            index = part if isinstance(part, int) else next(
                (i for i, item in enumerate(node) if isinstance(item, dict) and item.get("name") == part), None)
            if index is None or not isinstance(index, int) or index >= len(node):
                return None
            out.append(index)
            node = node[index]
        elif isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        else:
            return None
    return tuple(out)


class BlockLocator:
    def __init__(self, doc: SpecDocument, catalog: Catalog):
        self.doc = doc
        self.catalog = catalog
        blocks = doc.data.get("buildingBlocks") if isinstance(doc.data, dict) else None
        self.index = {b.get("id"): i for i, b in enumerate(blocks or []) if isinstance(b, dict)}

    def _entry(self, block: dict[str, Any]) -> Entry | None:
        ref = block.get("catalog")
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
            return None
        found = self.catalog.find(ref["name"], ref.get("version") if isinstance(ref.get("version"), str) else None)
        return None if isinstance(found, str) else found

    def locate(self, block_id: str, loc: Loc) -> tuple[SourceLocation, str]:
        """The location and spec path (of the spec or the entry file) that writes `loc`."""
        index = self.index.get(block_id)
        if index is None:
            return SourceLocation(self.doc.name), ""
        block = self.doc.data["buildingBlocks"][index]
        base: Loc = ("buildingBlocks", index)
        here = _concrete(block, loc)
        if here is not None and loc:
            return self.doc.location((*base, *here), key=True), format_path((*base, *here))
        entry = self._entry(block)
        if entry is not None and entry.document is not None:
            there = _concrete(entry.data, loc)
            if there is not None and loc:
                return entry.document.location(("spec", *there), key=True), format_path(("spec", *there))
        anchor: Loc = (*base, "catalog") if "catalog" in block else (*base, "chart") if "chart" in block else (*base, "id")
        return self.doc.location(anchor, key=True), format_path((*base, *self._partial(block, loc)))

    @staticmethod
    def _partial(block: dict[str, Any], loc: Loc) -> Loc:
        """As much of `loc` as indexes can say (for the spec path of a field nobody wrote)."""
        for size in range(len(loc), 0, -1):
            found = _concrete(block, loc[:size])
            if found is not None:
                return (*found, *loc[size:])
        return loc
