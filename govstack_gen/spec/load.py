"""Read `environment.yaml` into plain data with positions, or raise `SpecError` with every
problem found. No models here (so it loads fast); `spec.validate` checks the data against them.

Passes, each refusing what the next one would get wrong:
1. bytes: size, BOM, NUL, UTF-8;
2. YAML events: syntax (tabs in indentation among it), anchors/aliases/merge keys (alias
   bombs), tags, several documents, duplicate keys, nesting depth, YAML 1.1 ambiguities; done on
   the event stream so nothing is expanded or built first;
3. the composed document (YAML 1.2, so `NO` stays a string) becomes plain Python data plus a
   table of positions, and pydantic validates it; its errors are mapped back to `file:line:col`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, events
from ruamel.yaml.error import YAMLError

from govstack_gen.errors import Diagnostic, SourceLocation, SpecError, format_path

__all__ = ["MAX_SPEC_BYTES", "SpecDocument", "parse_document", "read_spec", "resolve_plain"]

MAX_SPEC_BYTES = 2 * 1024 * 1024  # a spec is a few hundred lines; more is a mistake or an attack
MAX_DEPTH = 64
# Plain scalars that this YAML 1.2 loader reads as strings or decimal numbers but that Helm,
# kubectl and kustomize (Go YAML 1.1) read as booleans, octal or base-60 numbers. The same line
# must not mean two things, so the spec must quote them (or write true/false).
AMBIGUOUS_PLAIN = re.compile(
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?0[0-7_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)$"
)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class SpecDocument:
    """Plain data of a spec file plus where each key and value stands in it (1-based)."""

    name: str
    data: Any
    key_pos: dict[Loc, tuple[int, int]]
    value_pos: dict[Loc, tuple[int, int]]

    def diagnostic(self, loc: Loc, code: str, message: str, hint: str = "", *, key: bool = False,
                   related: tuple[Loc, ...] = ()) -> Diagnostic:
        """A diagnostic located at `loc` (its key with key=True, else its value)."""
        where, path = self.place(loc, key=key)
        return Diagnostic(code, message, where, path, hint, related=tuple(self.place(r, key=key)[0] for r in related))

    def place(self, loc: Loc, *, key: bool = False) -> tuple[SourceLocation, str]:
        """Where `loc` is written, and its spec path there (a document merged from several files
        answers with the file that wrote it)."""
        return self.location(loc, key=key), format_path(loc)

    def location(self, loc: Loc, *, key: bool = False) -> SourceLocation:
        table = self.key_pos if key else self.value_pos
        probe = loc
        while probe not in table and probe:
            probe = probe[:-1]
        line, col = table.get(probe, (1, 1))
        return SourceLocation(self.name, line, col)


def read_spec(path: Path, name: str) -> bytes:
    """The spec's bytes (one more than the size limit at most, so _decode can refuse it)."""
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError([Diagnostic("E101", f"cannot read the spec: {exc.strerror or exc}", SourceLocation(name),
                                    hint="check the path and the file's permissions")]) from None


def parse_document(raw: bytes, name: str) -> SpecDocument:
    text = _decode(raw, name)
    data, key_pos, value_pos = _compose(text, name)
    if not isinstance(data, dict):
        raise SpecError([Diagnostic("E111", "the spec must be a YAML mapping (apiVersion, kind, ...)", SourceLocation(name, 1, 1),
                                    hint="start from examples/sandbox-k3s/environment.yaml")])
    return SpecDocument(name, data, key_pos, value_pos)


# -- pass 1: bytes ------------------------------------------------------------------------------


def _decode(raw: bytes, name: str) -> str:
    whole = SourceLocation(name)
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError([Diagnostic("E110", f"the spec file is larger than {MAX_SPEC_BYTES // (1024 * 1024)} MiB", whole,
                                    hint="a spec lists building blocks, not data; move large values into the charts")])
    if raw.startswith(b"\xef\xbb\xbf") or raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError([Diagnostic("E103", "the file starts with a byte-order mark", SourceLocation(name, 1, 1),
                                    hint="save the file as UTF-8 without BOM")])
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, col = _line_col(raw, nul)
        raise SpecError([Diagnostic("E104", "the file contains a NUL byte", SourceLocation(name, line, col),
                                    hint="the file is binary or corrupt; a spec is plain UTF-8 text")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        raise SpecError([Diagnostic("E102", f"byte 0x{raw[exc.start]:02x} is not valid UTF-8", SourceLocation(name, line, col),
                                    hint="save the file as UTF-8")]) from None
    return text


def _line_col(raw: bytes, offset: int) -> tuple[int, int]:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1


# -- pass 2: events -> plain data ---------------------------------------------------------------

# YAML 1.2 core schema, for plain (unquoted) scalars; everything else is a string.
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = {".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"), "+.inf": float("inf"),
                  "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf"),
                  ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan")}


def resolve_plain(value: str) -> Any:
    """What a plain scalar means in YAML 1.2 (core schema)."""
    if _NULL.match(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.match(value):
        return int(value)
    if value.startswith(("0o", "0x")) and len(value) > 2:
        try:
            return int(value[2:], 8 if value[1] == "o" else 16)
        except ValueError:
            return value
    if _FLOAT.match(value):
        return float(value)
    return _SPECIAL_FLOAT.get(value, value)


def _ambiguity_hint(value: str) -> str:
    if value.lower() in ("y", "yes", "on", "n", "no", "off"):
        return f"quote it ('{value}') for the text, or write true/false for a boolean (Helm reads {value} as a boolean)"
    return f"quote it ('{value}') for the text, or write the number without a leading zero or colon"


def _syntax_error(exc: YAMLError, name: str, text: str = "") -> SpecError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    loc = SourceLocation(name, mark.line + 1, mark.column + 1) if mark is not None else SourceLocation(name)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"{context}: {problem}" if context else str(problem)
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":  # tab where YAML needs indentation
        hint = "indent with spaces; YAML forbids tabs there"
        return SpecError([Diagnostic("E105", "tab character in indentation", loc, hint=hint)])
    return SpecError([Diagnostic("E106", message, loc, hint="check the indentation and quoting around this position")])


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n", line + 1)
    return lines[line][column:column + 1] if line < len(lines) else ""


def _is_plain(event: events.ScalarEvent) -> bool:
    """Unquoted and not a block scalar (the C parser says '' where the Python one says None)."""
    return not event.style


class _Frame:
    """One open mapping or sequence while composing, with the spec path it stands at."""

    __slots__ = ("container", "expect_key", "index", "key", "key_mark", "keys", "loc")

    def __init__(self, container: dict[str, Any] | list[Any], loc: Loc):
        self.container = container
        self.loc = loc
        self.expect_key = True
        self.key: str | None = None  # the key whose value comes next (None: a refused key)
        self.key_mark = (0, 0)
        self.keys: dict[str, tuple[int, int]] = {}
        self.index = -1


class _Composer:
    """Builds plain data and a position table straight from the parser's events, refusing
    what the spec must not contain on the way. One pass; nothing is expanded or resolved twice."""

    def __init__(self, name: str):
        self.name = name
        self.problems: list[Diagnostic] = []
        self.key_pos: dict[Loc, tuple[int, int]] = {}
        self.value_pos: dict[Loc, tuple[int, int]] = {(): (1, 1)}
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.documents = 0

    def fail(self, code: str, message: str, pos: tuple[int, int], loc: Loc, hint: str,
             related: tuple[SourceLocation, ...] = ()) -> None:
        self.problems.append(Diagnostic(code, message, SourceLocation(self.name, *pos), format_path(loc), hint, related=related))

    def feed(self, event: events.Event) -> bool:
        """Take one event; False to stop (a problem that makes the rest meaningless)."""
        pos = (event.start_mark.line + 1, event.start_mark.column + 1)
        if isinstance(event, events.DocumentStartEvent):
            self.documents += 1
            if self.documents == 2:
                self.fail("E109", "the file holds more than one YAML document", pos, (),
                          "keep one environment per file and remove the '---' separator")
                return False
            return True
        if isinstance(event, events.CollectionEndEvent):
            self.stack.pop()
            return True
        if not isinstance(event, events.NodeEvent):
            return True
        parent = self.stack[-1] if self.stack else None
        if parent is not None and isinstance(parent.container, dict) and parent.expect_key:
            return self.key(parent, event, pos)
        return self.value(parent, event, pos)

    def refused(self, event: events.NodeEvent, pos: tuple[int, int], loc: Loc, *, is_key: bool) -> bool | None:
        """Problems of the node itself. True: stop; False: skip the node; None: fine."""
        if isinstance(event, events.AliasEvent) or getattr(event, "anchor", None):
            self.fail("E108", "YAML anchors and aliases are not allowed", pos, loc,
                      "write the value out; aliases hide what each building block gets")
            return True
        if is_key and isinstance(event, events.ScalarEvent) and event.value == "<<" and _is_plain(event):
            self.fail("E108", "YAML merge keys ('<<') are not allowed", pos, loc,
                      "write the keys out; merges hide what each building block gets")
            return True
        if getattr(event, "tag", None) is not None:
            shown = str(getattr(event, "tag", "")).replace("tag:yaml.org,2002:", "!!")
            self.fail("E115", f"explicit YAML tag {shown!r} is not allowed", pos, loc,
                      "quote the value to make it a string; tags give one line two meanings")
        elif isinstance(event, events.ScalarEvent) and _is_plain(event) and AMBIGUOUS_PLAIN.match(event.value):
            self.fail("E114", f"unquoted {event.value!r} means different things in YAML 1.1 and 1.2", pos, loc,
                      _ambiguity_hint(event.value))
        return None

    def key(self, parent: _Frame, event: events.NodeEvent, pos: tuple[int, int]) -> bool:
        parent.expect_key = False
        parent.key = None
        if not isinstance(event, events.ScalarEvent):
            loc: Loc = (*parent.loc, "?")
            if self.refused(event, pos, loc, is_key=True):
                return False
            self.fail("E113", "mapping keys must be plain strings", pos, parent.loc, "write the key as a string")
            return self.open(event, loc, pos, attach=None)
        loc = (*parent.loc, event.value)
        if self.refused(event, pos, loc, is_key=True):
            return False
        value = resolve_plain(event.value) if _is_plain(event) else event.value
        if not isinstance(value, str):
            shown = "null" if value is None else str(value).lower() if isinstance(value, bool) else event.value
            self.fail("E113", f"mapping key {shown} is not a string", pos, parent.loc, f"quote it: '{shown}'")
            return True
        first = parent.keys.get(value)
        if first is not None:
            self.fail("E107", f"duplicate key {value!r} (first defined at line {first[0]})", pos, loc,
                      "remove one of them; YAML parsers silently keep the last",
                      related=(SourceLocation(self.name, *first),))
            return True
        parent.keys[value] = pos
        parent.key, parent.key_mark = value, pos
        return True

    def value(self, parent: _Frame | None, event: events.NodeEvent, pos: tuple[int, int]) -> bool:
        if parent is None:
            loc: Loc = ()
        elif isinstance(parent.container, list):
            parent.index += 1
            loc = (*parent.loc, parent.index)
        else:
            parent.expect_key = True
            loc = (*parent.loc, parent.key if parent.key is not None else "?")
        if self.refused(event, pos, loc, is_key=False):
            return False
        keep = parent is None or isinstance(parent.container, list) or parent.key is not None
        if keep and parent is not None:
            if isinstance(parent.container, dict):
                self.key_pos[loc] = parent.key_mark
            self.value_pos[loc] = pos
        if isinstance(event, events.ScalarEvent):
            if keep:
                self.attach(parent, resolve_plain(event.value) if _is_plain(event) else event.value)
            return True
        return self.open(event, loc, pos, attach=parent if keep else None)

    def open(self, event: events.NodeEvent, loc: Loc, pos: tuple[int, int], attach: _Frame | None) -> bool:
        container: dict[str, Any] | list[Any] = {} if isinstance(event, events.MappingStartEvent) else []
        if attach is not None or not self.stack:
            self.attach(attach, container)
        self.stack.append(_Frame(container, loc))
        if len(self.stack) > MAX_DEPTH:
            self.fail("E112", f"nesting deeper than {MAX_DEPTH} levels", pos, loc, "flatten the structure")
            return False
        return True

    def attach(self, parent: _Frame | None, value: Any) -> None:
        if parent is None:
            self.root = value
        elif isinstance(parent.container, list):
            parent.container.append(value)
        elif parent.key is not None:
            parent.container[parent.key] = value


def _parser() -> YAML:
    # typ="safe" uses libyaml's C parser when ruamel.yaml.clib is installed (about 10x faster
    # on large specs); the events, and so the result, are the same as the pure-Python parser's.
    return YAML(typ="safe")


def _compose(text: str, name: str) -> tuple[Any, dict[Loc, tuple[int, int]], dict[Loc, tuple[int, int]]]:
    composer = _Composer(name)
    try:
        for event in _parser().parse(io.StringIO(text)):
            if not composer.feed(event):
                break
    except YAMLError as exc:
        composer.problems.append(_syntax_error(exc, name, text).diagnostics[0])
    if composer.problems:
        raise SpecError(composer.problems)
    return composer.root, composer.key_pos, composer.value_pos
