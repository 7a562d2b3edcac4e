"""Load `environment.yaml` into an `Environment`, or raise `SpecError` with every problem found.

Three passes, each refusing what the next one would get wrong:
1. bytes: size, BOM, NUL, UTF-8;
2. YAML events: syntax (tabs in indentation among it), anchors/aliases/merge keys (alias
   bombs), tags, several documents, duplicate keys, nesting depth, YAML 1.1 ambiguities; done on
   the event stream so nothing is expanded or built first;
3. the composed document (YAML 1.2, so `NO` stays a string) becomes plain Python data plus a
   table of positions, and pydantic validates it; its errors are mapped back to `file:line:col`.
"""

from __future__ import annotations

import difflib
import io
import re
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML, events
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from govstack_gen.errors import Diagnostic, SourceLocation, SpecError, format_path
from govstack_gen.spec.model import Environment

__all__ = ["MAX_SPEC_BYTES", "SpecDocument", "load_environment", "parse_document", "validate_document"]

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

    def location(self, loc: Loc, *, key: bool = False) -> SourceLocation:
        table = self.key_pos if key else self.value_pos
        probe = loc
        while probe not in table and probe:
            probe = probe[:-1]
        line, col = table.get(probe, (1, 1))
        return SourceLocation(self.name, line, col)


def load_environment(path: Path, display_name: str | None = None) -> tuple[Environment, SpecDocument]:
    """Read, parse and validate a spec file. Raises SpecError with every problem found."""
    name = display_name or path.name
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError([Diagnostic("E101", f"cannot read the spec: {exc.strerror or exc}", SourceLocation(name),
                                    hint="check the path and the file's permissions")]) from None
    doc = parse_document(raw, name)
    return validate_document(doc), doc


def parse_document(raw: bytes, name: str) -> SpecDocument:
    text = _decode(raw, name)
    _scan_events(text, name)
    tree = _compose(text, name)
    if not isinstance(tree, CommentedMap):
        raise SpecError([Diagnostic("E111", "the spec must be a YAML mapping (apiVersion, kind, ...)", SourceLocation(name, 1, 1),
                                    hint="start from examples/sandbox-k3s/environment.yaml")])
    key_pos: dict[Loc, tuple[int, int]] = {}
    value_pos: dict[Loc, tuple[int, int]] = {(): (1, 1)}
    problems: list[Diagnostic] = []
    data = _plain(tree, (), key_pos, value_pos, problems, name)
    if problems:
        raise SpecError(problems)
    return SpecDocument(name, data, key_pos, value_pos)


def validate_document(doc: SpecDocument) -> Environment:
    try:
        return Environment.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError([_diagnostic(err, doc) for err in exc.errors(include_url=False)]) from None


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


# -- pass 2: events -----------------------------------------------------------------------------


class _Frame:
    """One open mapping or sequence while scanning events, with the spec path it stands at."""

    __slots__ = ("expect_key", "index", "is_map", "key", "keys", "loc")

    def __init__(self, is_map: bool, loc: Loc):
        self.is_map = is_map
        self.expect_key = True
        self.keys: dict[str, tuple[int, int]] = {}
        self.loc = loc
        self.key: str | int = ""
        self.index = -1

    def child_loc(self, event: events.Event) -> Loc:
        """Path of the node this event starts (a key stands for the entry it names)."""
        if not self.is_map:
            self.index += 1
            return (*self.loc, self.index)
        if self.expect_key:
            self.key = event.value if isinstance(event, events.ScalarEvent) else "?"
        return (*self.loc, self.key)


def _explicit_tag(event: events.NodeEvent) -> bool:
    """The parser leaves `tag` unset unless the document wrote one (`!!str`, `!foo`)."""
    return getattr(event, "tag", None) is not None


def _ambiguity_hint(value: str) -> str:
    if value.lower() in ("y", "yes", "on", "n", "no", "off"):
        return f"quote it ('{value}') for the text, or write true/false for a boolean (Helm reads {value} as a boolean)"
    return f"quote it ('{value}') for the text, or write the number without a leading zero or colon"


def _syntax_error(exc: YAMLError, name: str) -> SpecError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    loc = SourceLocation(name, mark.line + 1, mark.column + 1) if mark is not None else SourceLocation(name)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"{context}: {problem}" if context else str(problem)
    if "'\\t'" in str(problem):  # a tab where YAML needs indentation: worth its own code and advice
        hint = "indent with spaces; YAML forbids tabs there"
        return SpecError([Diagnostic("E105", "tab character in indentation", loc, hint=hint)])
    return SpecError([Diagnostic("E106", message, loc, hint="check the indentation and quoting around this position")])


def _scan_events(text: str, name: str) -> None:
    problems: list[Diagnostic] = []
    stack: list[_Frame] = []
    documents = 0
    try:
        for event in YAML(typ="rt").parse(io.StringIO(text)):
            pos = (event.start_mark.line + 1, event.start_mark.column + 1)
            here = SourceLocation(name, *pos)
            if isinstance(event, events.DocumentStartEvent):
                documents += 1
                if documents == 2:
                    problems.append(Diagnostic("E109", "the file holds more than one YAML document", here,
                                               hint="keep one environment per file and remove the '---' separator"))
                    break
                continue
            if not isinstance(event, events.NodeEvent):
                if isinstance(event, events.CollectionEndEvent) and stack:
                    stack.pop()
                continue
            parent = stack[-1] if stack else None
            loc = parent.child_loc(event) if parent is not None else ()
            path = format_path(loc)
            if isinstance(event, events.AliasEvent) or getattr(event, "anchor", None):
                problems.append(Diagnostic("E108", "YAML anchors and aliases are not allowed", here, path,
                                           hint="write the value out; aliases hide what each building block gets"))
                break
            if isinstance(event, events.ScalarEvent) and event.value == "<<" and event.style is None and parent is not None \
                    and parent.is_map and parent.expect_key:
                problems.append(Diagnostic("E108", "YAML merge keys ('<<') are not allowed", here, path,
                                           hint="write the keys out; merges hide what each building block gets"))
                break
            if _explicit_tag(event):
                shown = str(getattr(event, "tag", "")).replace("tag:yaml.org,2002:", "!!")
                problems.append(Diagnostic("E115", f"explicit YAML tag {shown!r} is not allowed", here, path,
                                           hint="quote the value to make it a string; tags give one line two meanings"))
            elif isinstance(event, events.ScalarEvent) and event.style is None and AMBIGUOUS_PLAIN.match(event.value):
                problems.append(Diagnostic("E114", f"unquoted {event.value!r} means different things in YAML 1.1 and 1.2",
                                           here, path, hint=_ambiguity_hint(event.value)))
            if parent is not None and parent.is_map:
                if parent.expect_key and isinstance(event, events.ScalarEvent):
                    first = parent.keys.get(event.value)
                    if first is not None:
                        problems.append(Diagnostic("E107", f"duplicate key {event.value!r} (first defined at line {first[0]})",
                                                   here, path, related=(SourceLocation(name, *first),),
                                                   hint="remove one of them; YAML parsers silently keep the last"))
                    else:
                        parent.keys[event.value] = pos
                elif parent.expect_key:
                    problems.append(Diagnostic("E113", "mapping keys must be plain strings", here, format_path(loc[:-1]),
                                               hint="write the key as a string"))
                parent.expect_key = not parent.expect_key
            if isinstance(event, events.CollectionStartEvent):
                stack.append(_Frame(isinstance(event, events.MappingStartEvent), loc))
                if len(stack) > MAX_DEPTH:
                    problems.append(Diagnostic("E112", f"nesting deeper than {MAX_DEPTH} levels", here, path,
                                               hint="flatten the structure"))
                    break
    except MarkedYAMLError as exc:
        problems.append(_syntax_error(exc, name).diagnostics[0])
    except YAMLError as exc:  # pragma: no cover - ruamel raises MarkedYAMLError for syntax
        problems.append(_syntax_error(exc, name).diagnostics[0])
    if problems:
        raise SpecError(problems)


# -- pass 3: compose and convert ----------------------------------------------------------------


def _compose(text: str, name: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True  # already refused, with both lines, by _scan_events
    try:
        return yaml.load(text)
    except YAMLError as exc:
        raise _syntax_error(exc, name) from None


def _plain(node: Any, loc: Loc, key_pos: dict[Loc, tuple[int, int]], value_pos: dict[Loc, tuple[int, int]],
           problems: list[Diagnostic], name: str) -> Any:
    """ruamel's round-trip objects -> dict/list/str/int/float/bool/None, recording positions."""
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key in node:
            k_line, k_col = node.lc.key(key)
            v_line, v_col = node.lc.value(key)
            if not isinstance(key, str):
                where = SourceLocation(name, k_line + 1, k_col + 1)
                shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
                problems.append(Diagnostic("E113", f"mapping key {shown} is not a string", where,
                                           format_path(loc), hint=f"quote it: '{shown}'"))
                continue
            child = (*loc, key)
            key_pos[child] = (k_line + 1, k_col + 1)
            value_pos[child] = (v_line + 1, v_col + 1)
            out[str(key)] = _plain(node[key], child, key_pos, value_pos, problems, name)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, item in enumerate(node):
            line, col = node.lc.item(index)
            value_pos[(*loc, index)] = (line + 1, col + 1)
            items.append(_plain(item, (*loc, index), key_pos, value_pos, problems, name))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, (datetime, date)):
        # Helm (Go YAML) reads an unquoted date as a string: keep the meaning it has there.
        return node.isoformat()
    return str(node)


# -- pydantic errors -> diagnostics --------------------------------------------------------------

_TYPE_CODES = {
    "extra_forbidden": "E201",
    "missing": "E202",
    "literal_error": "E204",
    "enum": "E204",
    "union_tag_invalid": "E204",
    "string_pattern_mismatch": "E204",
    "too_short": "E213",
    "too_long": "E213",
    "string_too_short": "E204",
    "greater_than_equal": "E213",
    "less_than_equal": "E213",
}


def _diagnostic(err: ErrorDetails, doc: SpecDocument) -> Diagnostic:
    loc = _data_loc(doc.data, err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    hint = ""
    if kind.startswith("gsg_"):
        code, message, hint = kind[4:], str(ctx.get("message", err["msg"])), str(ctx.get("hint", ""))
    elif kind == "extra_forbidden":
        code, message = "E201", f"unknown field {loc[-1]!r}"
        allowed = _allowed_keys(err["loc"][:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        close = close or [a for a in allowed if a.lower() == str(loc[-1]).lower()]
        hint = f"did you mean {close[0]!r}?" if close else ("allowed fields: " + ", ".join(allowed) if allowed else "")
        return Diagnostic(code, message, doc.location(loc, key=True), format_path(loc), hint)
    elif kind == "missing":
        code, message = "E202", f"missing required field {loc[-1]!r}"
        return Diagnostic(code, message, doc.location(loc[:-1], key=True) if loc[:-1] else SourceLocation(doc.name, 1, 1),
                          format_path(loc), hint=f"add '{loc[-1]}:' here")
    else:
        code = _TYPE_CODES.get(kind, "E203")
        message = err["msg"][:1].lower() + err["msg"][1:]
        if code == "E203":
            message = f"{message}, got {_describe(err.get('input'))}"
            if kind == "string_type" and isinstance(err.get("input"), (int, float, bool)):
                hint = "quote the value so YAML reads it as a string"
    return Diagnostic(code, message, doc.location(loc), format_path(loc), hint)


def _describe(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
    return kinds.get(type(value), "null" if value is None else type(value).__name__)


def _data_loc(data: Any, loc: tuple[str | int, ...]) -> Loc:
    """Drop the parts pydantic adds that are not in the document (union tags, validator names)."""
    out: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if (isinstance(node, dict) and part in node) or in_list:
            out.append(part)
            node = node[part]
        elif last and isinstance(part, str):
            out.append(part)  # a missing or unknown key: the parent is in the document
        # else: a union tag such as 'RepoChart': not part of the document
    return tuple(out)


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The YAML keys the model accepts at pydantic's `loc` (with union tags), for hints."""
    target: Any = Environment
    for part in loc:
        target = _step(target, part)
        if target is None:
            return []
    keys: list[str] = []
    for model in _models_of(target):
        keys += [info.alias or field for field, info in model.model_fields.items() if (info.alias or field) not in keys]
    return keys


def _step(annotation: Any, part: str | int) -> Any:
    models = _models_of(annotation)
    chosen = [m for m in models if m.__name__ == part or part in _type_tags(m)]
    if len(models) > 1 and chosen:
        return chosen[0]  # a tag of a discriminated union names the variant pydantic chose
    for model in models:
        for field, info in model.model_fields.items():
            if (info.alias or field) == part:
                return info.annotation
    for arg in _union_args(annotation):
        origin = typing.get_origin(arg)
        args = typing.get_args(arg)
        if origin is list and isinstance(part, int):
            return args[0]
        if origin is dict and isinstance(part, str):
            return args[1]
    return None


def _type_tags(model: type[BaseModel]) -> tuple[Any, ...]:
    """The literal values of a model's `type` field: the tags of a union discriminated by type."""
    field = model.model_fields.get("type")
    return typing.get_args(field.annotation) if field is not None else ()


def _union_args(annotation: Any) -> list[Any]:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for arg in args for a in _union_args(arg)]
    return [annotation]


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    return [a for a in _union_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
