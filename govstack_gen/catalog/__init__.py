"""The building-block catalog: definitions shipped with the tool (`entries/`) and read from the
folders an environment names under `catalogs:`, which come first (an entry there with the same
name and version shadows the shipped one).

An entry is a building block without its id (`spec`), plus a name and version (`metadata`). A
building block of the environment names one (`catalog: {name: payments}`) and overrides what it
needs; `expand` merges the two before the spec is validated, so everything after it sees plain
building blocks.
"""

from __future__ import annotations

import copy
import difflib
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from govstack_gen.errors import Diagnostic, SourceLocation, SpecError, format_path
from govstack_gen.spec.load import Loc, SpecDocument, parse_document
from govstack_gen.spec.model import BlockSpec, ExternalSpec, SpecModel
from govstack_gen.spec.placeholders import BLOCK_ID, BLOCK_NAMESPACE, substitute
from govstack_gen.spec.semver import version_key
from govstack_gen.spec.types import ChartVersion, DnsLabel
from govstack_gen.spec.validate import validate_as
from govstack_gen.spec.versions import convert

__all__ = ["SHIPPED", "Catalog", "Entry", "catalog_folders", "catalog_of", "entry_files", "expand", "load_catalog", "merge"]

SHIPPED = "<govstack-gen>/catalog"  # how shipped entries are named in messages
VERSION_LABEL = "version"
# Lists of named items merge item by item (an environment changes one route of an entry without
# repeating the others, and drops one with `$patch: delete`, as in a strategic merge patch); any
# other list replaces the entry's.
NAMED_LISTS = frozenset({"volumes", "routes", "tcpRoutes", "middlewares", "secrets"})
DELETE = {"$patch": "delete"}
CHART_SOURCE_KEYS = frozenset({"repo", "git", "name", "path"})


class EntryMetadata(SpecModel):
    name: DnsLabel
    version: ChartVersion = Field(description="Version of the building block's software, e.g. 3.6.0.")
    description: str = ""


class CatalogEntry(SpecModel):
    api_version: Literal["govstack.dev/v1alpha2"]
    kind: Literal["CatalogEntry"]
    metadata: EntryMetadata
    spec: BlockSpec


class ExternalServiceEntry(SpecModel):
    """A service that runs outside the cluster; an environment lists it under externalServices."""

    api_version: Literal["govstack.dev/v1alpha2"]
    kind: Literal["ExternalServiceEntry"]
    metadata: EntryMetadata
    spec: ExternalSpec


KINDS: dict[str, type[CatalogEntry] | type[ExternalServiceEntry]] = {
    "CatalogEntry": CatalogEntry, "ExternalServiceEntry": ExternalServiceEntry,
}
# Where an environment names entries of each kind.
SECTIONS = {"buildingBlocks": BlockSpec, "externalServices": ExternalSpec}


@dataclass(frozen=True)
class Entry:
    name: str
    version: str
    source: str  # file name for messages
    data: dict[str, Any]  # the spec as written (plain data), merged under the environment's block
    labels: dict[str, str]  # with the version label
    spec: BlockSpec | ExternalSpec  # the same, validated
    description: str = ""
    document: SpecDocument | None = field(default=None, compare=False, repr=False)  # positions, for messages

    @property
    def section(self) -> str:
        """The list of the environment that uses this kind of entry."""
        return "externalServices" if isinstance(self.spec, ExternalSpec) else "buildingBlocks"

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class Catalog:
    entries: tuple[Entry, ...]  # first wins for the same name and version
    warnings: tuple[Diagnostic, ...] = ()  # entry files of an older spec version (E117)

    def versions(self, name: str) -> list[Entry]:
        found: dict[str, Entry] = {}
        for entry in self.entries:
            if entry.name == name:
                found.setdefault(entry.version, entry)
        return sorted(found.values(), key=lambda e: version_key(e.version))

    def find(self, name: str, version: str | None, section: str = "buildingBlocks") -> Entry | str:
        """The entry, or why there is none (a message naming what there is)."""
        versions = [e for e in self.versions(name) if e.section == section]
        if not versions and self.versions(name):
            return f"move it to {self.versions(name)[-1].section}"
        if not versions:
            names = sorted({e.name for e in self.entries if e.section == section})
            close = difflib.get_close_matches(name, names, n=1)
            return (f"did you mean {close[0]!r}? " if close else "") + "catalog entries: " + ", ".join(names)
        if version is None:
            return versions[-1]
        match = next((e for e in versions if e.version == version), None)
        return match or f"versions of {name!r} in the catalog: " + ", ".join(e.version for e in versions)

    def latest(self) -> Iterator[Entry]:
        """The newest version of every entry, by name."""
        for name in sorted({e.name for e in self.entries}):
            yield self.versions(name)[-1]


# -- loading ------------------------------------------------------------------------------------


def load_catalog(folders: Iterable[tuple[Path, str]] = ()) -> Catalog:
    """Entries of the given folders (path, display name), then the shipped ones. Raises
    SpecError with every problem of every entry file."""
    entries: list[Entry] = []
    problems: list[Diagnostic] = []
    for folder, display in folders:
        _read_folder(((f"{display}/{f.name}", f.read_bytes()) for f in entry_files(folder)), entries, problems)
    entries.extend(_shipped())
    if any(p.severity == "error" for p in problems):
        raise SpecError(problems)
    return Catalog(tuple(entries), tuple(problems))


def entry_files(folder: Path) -> list[Path]:
    """The entry files of a catalog folder, in the order they are read."""
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


@functools.cache
def _shipped() -> tuple[Entry, ...]:
    root: Traversable = resources.files(__package__).joinpath("entries")
    files = sorted((f for f in root.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    entries: list[Entry] = []
    problems: list[Diagnostic] = []
    _read_folder(((f"{SHIPPED}/{f.name}", f.read_bytes()) for f in files), entries, problems)
    if problems:  # a broken or older shipped entry is a bug of ours; the test suite loads them all
        raise SpecError(problems)
    return tuple(entries)


def _read_folder(files: Iterable[tuple[str, bytes]], entries: list[Entry], problems: list[Diagnostic]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for name, raw in files:
        try:
            doc, found = convert(parse_document(raw, name))
            problems.extend(found)
            entry = validate_as(KINDS.get(str(doc.data.get("kind")), CatalogEntry), _as_named(doc))
        except SpecError as exc:
            problems.extend(exc.diagnostics)
            continue
        key = (entry.metadata.name, entry.metadata.version)
        if key in seen:
            problems.append(doc.diagnostic(("metadata", "name"), "E315", f"catalog entry {key[0]} {key[1]} is defined twice",
                                           f"also in {seen[key]}; give one of them another version"))
            continue
        seen[key] = name
        labels = {VERSION_LABEL: entry.metadata.version, **entry.spec.labels}
        entries.append(Entry(entry.metadata.name, entry.metadata.version, name, doc.data["spec"], labels, entry.spec,
                             entry.metadata.description, doc))


def _as_named(doc: SpecDocument) -> SpecDocument:
    """The entry as checked: `${block.id}` stands for an id, checked as the entry's own name (the
    id a building block naming it usually has), and `${block.namespace}` for its namespace; the
    entry keeps the placeholders for merging."""
    meta = doc.data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    spec = doc.data.get("spec")
    if not isinstance(name, str) or not isinstance(spec, dict):
        return doc
    return SpecDocument(doc.name, {**doc.data, "spec": substitute(spec, _own_names(name, spec))}, doc.key_pos, doc.value_pos)


def catalog_of(doc: SpecDocument, spec_dir: Path) -> tuple[Catalog, list[Diagnostic]]:
    """The catalog a spec sees: the folders under its `catalogs:` (relative to its directory),
    then the shipped entries; the folders that do not exist as diagnostics. Raises SpecError for
    broken entry files."""
    folders, problems = catalog_folders(doc, spec_dir)
    return load_catalog(folders), problems


def catalog_folders(doc: SpecDocument, spec_dir: Path) -> tuple[list[tuple[Path, str]], list[Diagnostic]]:
    raw = doc.data.get("catalogs")
    if not isinstance(raw, list):
        return [], []  # absent, or the wrong shape: validation reports that
    folders, problems = [], []
    for index, item in enumerate(raw):
        if not isinstance(item, str):
            continue
        folder = spec_dir / item
        problem = _unreadable(folder, spec_dir)
        if problem is None:
            folders.append((folder, item))
        else:
            problems.append(doc.diagnostic(("catalogs", index), "E315", f"catalog folder {item!r} {problem}",
                                           "catalog folders are relative to the spec file and hold entries as <name>-<version>.yaml"))
    return folders, problems


def _unreadable(folder: Path, spec_dir: Path) -> str | None:
    """Why the folder's entries cannot be read (as the E315 message says it), or None."""
    try:
        if not folder.is_dir():
            return "does not exist"
        if folder.resolve() == spec_dir.resolve():  # its *.yaml files are the spec and its neighbours, not entries
            return "is the spec's own folder: keep the entries in a folder of their own"
        for entry in entry_files(folder):
            with entry.open("rb"):
                pass
    except OSError as exc:  # a name too long for the file system, a folder or entry we may not read
        return f"cannot be read: {exc.strerror or exc}"
    return None


# -- merging entries into the environment ---------------------------------------------------------


def expand(doc: SpecDocument, catalog: Catalog) -> tuple[SpecDocument, list[Diagnostic], tuple[Loc, ...]]:
    """The document with every building block and external service that names a catalog entry
    merged over it; diagnostics for unknown entries, and the items that could not be expanded."""
    data = dict(doc.data)
    problems: list[Diagnostic] = []
    failed: list[Loc] = []
    origins: dict[Loc, tuple[Any, Entry]] = {}
    for section in SECTIONS:
        if isinstance(doc.data.get(section), list):
            data[section] = [with_own_id(_expand_item(doc, catalog, (section, index), item, problems, failed, origins))
                             for index, item in enumerate(doc.data[section])]
    return ExpandedDocument(doc.name, data, doc.key_pos, doc.value_pos, origins), problems, tuple(failed)


@dataclass(frozen=True)
class ExpandedDocument(SpecDocument):
    """The environment with the catalog entries merged under its items. A field the environment
    does not write is located in the entry file of the environment's catalog folders that does
    (and named by its path there), so a problem in such an entry points at the line to change."""

    origins: dict[Loc, tuple[Any, Entry]] = field(default_factory=dict)  # (section, index) -> (item as written, entry)

    def place(self, loc: Loc, *, key: bool = False) -> tuple[SourceLocation, str]:
        origin = self.origins.get(loc[:2])
        if origin is None or len(loc) <= 2:
            return super().place(loc, key=key)
        written, entry = origin
        if entry.document is None or entry.source.startswith(SHIPPED):
            # A shipped entry is not the user's to edit: the environment's item is where to change it.
            return super().place(loc, key=key)
        merged, rest = self.data[loc[0]][loc[1]], loc[2:]
        here = _follow(merged, written, rest)
        there = _follow(merged, entry.data, rest)
        if len(there) > len(here):  # the entry wrote more of it than the environment
            return entry.document.place(("spec", *there), key=key)
        own = (*loc[:2], *here, *rest[len(here):])
        return self.location(own, key=key), format_path(own)


def _follow(merged: Any, written: Any, loc: Loc) -> Loc:
    """As much of `loc` (a path in the merged item) as `written` (one side of the merge) has, in
    `written`'s own indexes: named list items by name, other lists (replaced whole) by index."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, int):
            if not (isinstance(merged, list) and isinstance(written, list) and part < len(merged)):
                break
            item = merged[part]
            name = item.get("name") if isinstance(item, dict) else None
            index = (next((i for i, w in enumerate(written) if isinstance(w, dict) and w.get("name") == name), None)
                     if name is not None else part if part < len(written) else None)
            if index is None:
                break
            merged, written = item, written[index]
            out.append(index)
        else:
            if not (isinstance(written, dict) and part in written):
                break
            merged, written = merged.get(part) if isinstance(merged, dict) else None, written[part]
            out.append(part)
    return tuple(out)


def _expand_item(doc: SpecDocument, catalog: Catalog, at: tuple[str, int], item: Any, problems: list[Diagnostic],
                 failed: list[Loc], origins: dict[Loc, tuple[Any, Entry]]) -> Any:
    section, index = at
    ref = item.get("catalog") if isinstance(item, dict) else None
    if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
        return item  # no entry named, or a malformed reference: validation reports it
    version = ref.get("version") if isinstance(ref.get("version"), str) else None
    found = catalog.find(ref["name"], version, section)
    if isinstance(found, str):
        what = f"{ref['name']!r}" + (f" version {version}" if version else "")
        elsewhere = [e for e in catalog.versions(ref["name"]) if e.section != section]
        known_version = version and any(e.section == section for e in catalog.versions(ref["name"]))
        loc: Loc = (section, index, "catalog", "version" if known_version else "name")
        message = (f"catalog entry {what} is for {elsewhere[0].section}, not {section}"
                   if elsewhere and not known_version and len(elsewhere) == len(catalog.versions(ref["name"]))
                   else f"unknown catalog entry {what}")
        problems.append(doc.diagnostic(loc, "E314", message, found))
        failed.append((section, index))
        return item
    merged = merge(found.data, item)
    origins[at] = (item, found)
    own = merged.get("labels", {})
    if isinstance(own, dict):  # labels of another shape are the item's own, and validation says what is wrong
        merged["labels"] = {**found.labels, **own}
    return merged


def with_own_id(item: Any) -> Any:
    """`${block.id}` in any string of a building block (its entry's included) is its id, and
    `${block.namespace}` its namespace: what a catalog entry cannot know, the names the chart
    derives from its release name or namespace (Services, claims: `${block.id}-baserow-frontend`)."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return item
    return substitute(item, _own_names(item["id"], item))


def _own_names(block_id: str, item: dict[str, Any]) -> dict[str, str]:
    """What `${block.id}` and `${block.namespace}` stand for in a building block (or an entry
    checked as one): the namespace is the id unless the item names another."""
    namespace = item.get("namespace")
    return {BLOCK_ID: block_id, BLOCK_NAMESPACE: namespace if isinstance(namespace, str) else block_id}


def merge(base: Any, over: Any, key: str = "") -> Any:
    """`over` (the environment) over `base` (the entry): mappings key by key, named lists item by
    item, anything else replaced. A chart naming another source replaces the entry's chart."""
    if isinstance(base, dict) and isinstance(over, dict):
        if key == "chart" and CHART_SOURCE_KEYS & over.keys():
            return copy.deepcopy(over)
        out = copy.deepcopy(base)
        for k, v in over.items():
            out[k] = merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return out
    if key in NAMED_LISTS and _named(base) and _named(over):
        items: dict[str, Any] = {item["name"]: item for item in base}
        twice = []  # an environment's own duplicates stay, for the checks to report
        written: set[str] = set()
        for item in over:
            name = item["name"]
            if name in written:
                twice.append(copy.deepcopy(item))
            elif item.get("$patch") == "delete":
                items.pop(name, None)
            else:
                items[name] = merge(items[name], item) if name in items else copy.deepcopy(item)
            written.add(name)
        return [*items.values(), *twice]
    return copy.deepcopy(over)


def _named(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items)

