"""Spec versions: the one this govstack-gen reads, the older ones it still converts, and what
changed between them.

A change of the spec language that breaks files (a field renamed) gets a new apiVersion and a
`Step` below. Older files keep working: the loader converts them in memory, with a warning
(E117), so an upgrade of govstack-gen never breaks an environment's CI on the day of release.
`govstack-gen migrate` rewrites them for good, and the copier template's `_migrations` call it
when `copier update` crosses such a release.

The rewrite edits the file's text at the positions the loader recorded: only the renamed keys and
the apiVersion change, comments and layout stay, so the change reviews as a few lines and
copier's three-way merge meets the same lines on both sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from govstack_gen.errors import Diagnostic, SourceLocation, SpecError, format_path
from govstack_gen.spec.load import Loc, SpecDocument

__all__ = ["CURRENT", "KNOWN", "STEPS", "WILD", "Conversion", "KeyRename", "Rename", "Step", "apply", "convert",
           "declares_current", "describe", "plan", "rewrite"]

GROUP = "govstack.dev/"
WILD = "*"  # in a rename's path: every item of a list, or every value of a mapping


@dataclass(frozen=True)
class Rename:
    """A key renamed in every mapping found at `at` (a path with WILD parts)."""

    at: tuple[str, ...]
    old: str
    new: str


@dataclass(frozen=True)
class Step:
    """From one apiVersion to the next: the renames, per kind of document, their paths written
    with the names of `source` (a step reads the document as the earlier steps left it)."""

    source: str
    target: str
    renames: dict[str, tuple[Rename, ...]]


STEPS: tuple[Step, ...] = (
    # valuesKey named the chart value that takes a volume's claim; it is `claimKey` now, as the
    # database's in-chart claimKey (and host/port/user/secretKey: "the chart value that takes X").
    # Flux's valuesFrom[].valuesKey means something else (the key in a ConfigMap), and a reader of
    # both should not have to tell them apart.
    Step("govstack.dev/v1alpha1", "govstack.dev/v1alpha2", {
        "Environment": (Rename(("buildingBlocks", WILD, "volumes", WILD), "valuesKey", "claimKey"),),
        "CatalogEntry": (Rename(("spec", "volumes", WILD), "valuesKey", "claimKey"),),
    }),
)
CURRENT = STEPS[-1].target
KNOWN: tuple[str, ...] = (*(step.source for step in STEPS), CURRENT)  # oldest first
# The apiVersion line of a file in the current version (a top-level key starts in column 1).
CURRENT_LINE = re.compile(rb"^apiVersion:[ \t]*(['\"]?)" + re.escape(CURRENT.encode()) + rb"\1[ \t]*(#.*)?\r?$", re.MULTILINE)


@dataclass(frozen=True)
class KeyRename:
    """One key renamed (or left out, new=None) in the document as its step reads it."""

    loc: Loc  # in the document after the earlier steps
    new: str | None
    at: tuple[int, int]  # where the key is written in the file (line, column)


@dataclass(frozen=True)
class Conversion:
    """What converting one document takes, step after step: nothing when `source == target`."""

    source: str
    target: str
    steps: tuple[tuple[KeyRename, ...], ...] = ()  # the renames of each step, in order
    # A renamed field written under both names (E118): its old key is left out, so the rest of
    # the spec is still checked and every problem reported at once; `migrate` writes nothing.
    conflicts: tuple[Diagnostic, ...] = ()

    @property
    def needed(self) -> bool:
        return self.source != self.target

    @property
    def renames(self) -> tuple[KeyRename, ...]:
        return tuple(rename for step in self.steps for rename in step)


def plan(doc: SpecDocument, to: str = CURRENT) -> Conversion | None:
    """The conversion of `doc` up to `to` (itself when it is there or past it); None when its
    apiVersion is not a govstack.dev string (validation reports that). Raises SpecError for an
    unknown version (E116): its fields may mean anything. `to` is one of KNOWN (the command
    line checks it)."""
    version = doc.data.get("apiVersion")
    if not isinstance(version, str) or not version.startswith(GROUP):
        return None
    if version not in KNOWN:
        raise SpecError([doc.diagnostic(("apiVersion",), "E116", f"{version} is not a spec version this govstack-gen reads",
                                        f"it reads {CURRENT} and converts {', '.join(KNOWN[:-1])}; "
                                        "a newer govstack-gen may read this one")])
    done = Conversion(version, version)
    current = doc
    for step in STEPS[KNOWN.index(version):KNOWN.index(to)]:
        # Each step reads the document as the earlier ones left it (its paths use their names).
        renames, conflicts = _step(current, step)
        current = apply(current, Conversion(step.source, step.target, (renames,)))
        done = Conversion(version, step.target, (*done.steps, renames), done.conflicts + conflicts)
    return done


def _step(doc: SpecDocument, step: Step) -> tuple[tuple[KeyRename, ...], tuple[Diagnostic, ...]]:
    kind = doc.data.get("kind")
    renames: list[KeyRename] = []
    conflicts: list[Diagnostic] = []
    for rename in step.renames.get(kind, ()) if isinstance(kind, str) else ():
        for parent in _mappings(doc.data, rename.at, ()):
            found = _at(doc.data, parent)
            if rename.old not in found:
                continue
            loc = (*parent, rename.old)
            if rename.new in found:
                conflicts.append(doc.diagnostic(loc, "E118", f"{rename.old!r} (its {step.source} name) and {rename.new!r} "
                                                "are both set", f"keep {rename.new!r} only", key=True))
            renames.append(KeyRename(loc, None if rename.new in found else rename.new, doc.key_pos[loc]))
    # A step's paths use its source's names; renamed deepest first, a parent's new name cannot
    # hide its children.
    return tuple(sorted(renames, key=lambda r: -len(r.loc))), tuple(conflicts)


def _mappings(node: Any, pattern: tuple[str, ...], loc: Loc) -> list[Loc]:
    """The locations of the mappings the pattern reaches (parts of the wrong shape are skipped:
    validation reports them)."""
    if not pattern:
        return [loc] if isinstance(node, dict) else []
    head, rest = pattern[0], pattern[1:]
    if head != WILD:
        return _mappings(node[head], rest, (*loc, head)) if isinstance(node, dict) and head in node else []
    if isinstance(node, list):
        return [found for index, item in enumerate(node) for found in _mappings(item, rest, (*loc, index))]
    if isinstance(node, dict):
        return [found for key, item in node.items() for found in _mappings(item, rest, (*loc, key))]
    return []


def _at(data: Any, loc: Loc) -> Any:
    for part in loc:
        data = data[part]
    return data


def apply(doc: SpecDocument, conversion: Conversion) -> SpecDocument:
    """The document as its target version reads, positions kept (they point at the old names).
    One pass over the data and the position tables per step: a spec of a thousand building
    blocks has thousands of renamed keys and a hundred thousand positions."""
    if not conversion.needed:
        return doc
    data: Any = {**doc.data, "apiVersion": conversion.target}
    key_pos, value_pos = doc.key_pos, doc.value_pos
    for step in conversion.steps:
        renames = {rename.loc: rename.new for rename in step}
        data = _renamed(data, renames)
        key_pos, value_pos = _moved(key_pos, renames), _moved(value_pos, renames)
    return SpecDocument(doc.name, data, key_pos, value_pos)


def _renamed(node: Any, renames: dict[Loc, str | None]) -> Any:
    """A copy of `node` with the key at each location renamed (in the same place of its mapping),
    or left out (None); what no rename leads to is shared, not copied."""
    if not renames:
        return node
    here = {loc[0]: new for loc, new in renames.items() if len(loc) == 1}
    below: dict[str | int, dict[Loc, str | None]] = {}
    for loc, new in renames.items():
        if len(loc) > 1:
            below.setdefault(loc[0], {})[loc[1:]] = new
    if isinstance(node, list):
        return [_renamed(item, below.get(index, {})) for index, item in enumerate(node)]
    out = {}
    for key, value in node.items():
        if here.get(key, key) is not None:  # a key renamed to None is left out
            out[here.get(key, key)] = _renamed(value, below.get(key, {}))
    return out


def _moved(table: dict[Loc, tuple[int, int]], renames: dict[Loc, str | None]) -> dict[Loc, tuple[int, int]]:
    """The table with every location under a renamed key written with the new name."""
    return {_new_loc(loc, renames): pos for loc, pos in table.items()}


def _new_loc(loc: Loc, renames: dict[Loc, str | None]) -> Loc:
    parts = list(loc)
    for size in range(1, len(loc) + 1):
        new = renames.get(loc[:size])
        if new is not None:
            parts[size - 1] = new
    return tuple(parts)


def declares_current(raw: bytes) -> bool:
    """Whether the file says it is in the current version, told from its bytes without parsing
    them (0.4 s for a thousand building blocks): what render's quick path needs."""
    return CURRENT_LINE.search(raw) is not None


def convert(doc: SpecDocument) -> tuple[SpecDocument, list[Diagnostic]]:
    """The document in the current version, a warning (E117) when it was older, and the errors
    of fields it could not convert (E118). Raises SpecError for an unknown version."""
    conversion = plan(doc)
    if conversion is None or not conversion.needed:
        return doc, []
    renamed = ", ".join(sorted({f"{r.loc[-1]} -> {r.new}" for r in conversion.renames if r.new is not None}))
    warning = Diagnostic("E117", f"{conversion.source} is an older spec version, read as {conversion.target}"
                         + (f" ({renamed})" if renamed else ""),
                         doc.location(("apiVersion",)), "apiVersion",
                         "`govstack-gen migrate` rewrites the spec and its catalog folders (comments and layout kept)",
                         severity="warning")
    return apply(doc, conversion), [warning, *conversion.conflicts]


def rewrite(text: str, doc: SpecDocument, conversion: Conversion) -> str:
    """The file's text with the conversion done in place: each renamed key and the apiVersion
    value replaced where they stand, nothing else touched. A key renamed by several steps is
    written once, with its last name. Raises SpecError (E118) when a token is not written
    plainly enough to replace (an escape sequence in a quoted key, say); a conversion with
    conflicts is not for rewriting (migrate refuses it first)."""
    final: dict[tuple[int, int], tuple[str, str]] = {doc.value_pos[("apiVersion",)]: (conversion.source, conversion.target)}
    for rename in conversion.renames:
        assert rename.new is not None, "a conversion with conflicts is never rewritten"
        final[rename.at] = (final.get(rename.at, (str(rename.loc[-1]), ""))[0], rename.new)
    lines = text.split("\n")
    problems = []
    for (line, col), (old, new) in sorted(final.items(), reverse=True):  # right to left: earlier columns stay valid
        row, start = lines[line - 1], col - 1
        quote = row[start:start + 1] if row[start:start + 1] in ("'", '"') else ""
        token = f"{quote}{old}{quote}"
        if row[start:start + len(token)] != token:
            problems.append(Diagnostic("E118", f"cannot rewrite {old!r} in place", SourceLocation(doc.name, line, col),
                                       hint=f"write it as plain {old} (or change it to {new} by hand)"))
            continue
        lines[line - 1] = row[:start] + quote + new + quote + row[start + len(token):]
    if problems:
        raise SpecError(problems)
    return "\n".join(lines)


def describe(conversion: Conversion) -> list[str]:
    """One line per renamed key, for the migrate report."""
    return [f"{format_path(r.loc[:-1])}: {r.loc[-1]} -> {r.new} (line {r.at[0]})" for r in conversion.renames]
