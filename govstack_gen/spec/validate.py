"""Validate the plain data of a spec against the models, mapping pydantic's errors back to
`file:line:col`, the spec path, and a hint (did-you-mean for unknown keys)."""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from govstack_gen.errors import Diagnostic, SourceLocation, SpecError, format_path
from govstack_gen.spec.load import Loc, SpecDocument

__all__ = ["kind_of", "validate_as"]

M = TypeVar("M", bound=BaseModel)


def validate_as(model: type[M], doc: SpecDocument, skip: tuple[Loc, ...] = ()) -> M:
    """The document as `model`; pydantic's errors become located diagnostics (those of a missing
    field under a `skip` prefix are left out: their cause is reported elsewhere)."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        found = [_diagnostic(err, doc, model) for err in exc.errors(include_url=False)]
        raise SpecError([d for d in found if not _skipped(d, skip)]) from None


def _skipped(diagnostic: Diagnostic, skip: tuple[Loc, ...]) -> bool:
    return diagnostic.code == "E202" and any(diagnostic.path.startswith(format_path(loc) + ".") for loc in skip)


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


def _diagnostic(err: ErrorDetails, doc: SpecDocument, model: type[BaseModel]) -> Diagnostic:
    loc = _data_loc(doc.data, err["loc"])
    # pydantic ends the path of a mapping key it refuses with "[key]": the problem is the key.
    at_key = bool(err["loc"]) and err["loc"][-1] == "[key]"
    kind = err["type"]
    ctx = err.get("ctx") or {}
    hint = ""
    if kind.startswith("gsg_"):
        code, message, hint = kind[4:], str(ctx.get("message", err["msg"])), str(ctx.get("hint", ""))
    elif kind == "extra_forbidden":
        code, message = "E201", f"unknown field {loc[-1]!r}"
        allowed = _allowed_keys(err["loc"][:-1], model)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        close = close or [a for a in allowed if a.lower() == str(loc[-1]).lower()]
        hint = f"did you mean {close[0]!r}?" if close else ("allowed fields: " + ", ".join(allowed) if allowed else "")
        return Diagnostic(code, message, *doc.place(loc, key=True), hint)
    elif kind == "missing":
        code, message = "E202", f"missing required field {loc[-1]!r}"
        where, path = doc.place(loc[:-1], key=True) if loc[:-1] else (SourceLocation(doc.name, 1, 1), "")
        return Diagnostic(code, message, where, _child(path, loc[-1]), hint=f"add '{loc[-1]}:' here")
    else:
        code = _TYPE_CODES.get(kind, "E203")
        message = err["msg"][:1].lower() + err["msg"][1:]
        if code == "E203":
            message = f"{message}, got {kind_of(err.get('input'))}"
        hint = _hint(kind, ctx, err.get("input"))
    return Diagnostic(code, message, *doc.place(loc, key=at_key), hint)


# What to write instead, for pydantic's own kinds of error (its message says what is wrong).
_WRITE = {
    "dict_type": "write a mapping here (key: value lines, or {key: value})",
    "list_type": "write a list here (- item lines, or [a, b])",
    "int_type": "write a whole number here", "int_parsing": "write a whole number here",
    "int_from_float": "write a whole number here",
    "float_type": "write a number here", "float_parsing": "write a number here",
    "bool_type": "write true or false here", "bool_parsing": "write true or false here",
    "string_type": "write a string here",
}
_SCHEMA_HINT = "`govstack-gen schema` shows what the field takes; an editor with the yaml-language-server line checks it as you type"


def _hint(kind: str, ctx: dict[str, Any], value: Any) -> str:
    if kind == "string_type" and isinstance(value, (int, float, bool)):
        return "quote the value so YAML reads it as a string"
    if kind in ("literal_error", "enum", "union_tag_invalid"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected") or ctx.get("expected_tags") or ""))
        close = difflib.get_close_matches(value, choices, n=1, cutoff=0.5) if isinstance(value, str) else []
        return f"did you mean {close[0]!r}?" if close else f"use one of: {', '.join(choices)}" if choices else _SCHEMA_HINT
    if kind == "string_pattern_mismatch":
        return f"write a value that matches {ctx.get('pattern')}"
    if kind in ("too_short", "string_too_short"):
        what = "item" if kind == "too_short" else "character"
        return f"give at least {ctx.get('min_length')} {what}{'s' if ctx.get('min_length') != 1 else ''}"
    if kind == "too_long":
        return f"give at most {ctx.get('max_length')}"
    if kind == "greater_than_equal":
        return f"use {ctx.get('ge')} or more"
    if kind == "less_than_equal":
        return f"use {ctx.get('le')} or less"
    return _WRITE.get(kind, _SCHEMA_HINT)


def _child(path: str, name: str | int) -> str:
    """The spec path of field `name` under `path`."""
    return format_path((name,)) if not path else f"{path}[{name}]" if isinstance(name, int) else f"{path}.{name}"


def kind_of(value: Any) -> str:
    """What a YAML value is, as messages say it: 'a string', 'a mapping', 'null'."""
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
    return kinds.get(type(value), "null" if value is None else type(value).__name__)


def _data_loc(data: Any, loc: tuple[str | int, ...]) -> Loc:
    """Drop the parts pydantic adds that are not in the document (union tags, validator names)."""
    out: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        if part == "[key]":
            break  # the key itself (the path is the key's)
        last = index == len(loc) - 1
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if (isinstance(node, dict) and part in node) or in_list:
            out.append(part)
            node = node[part]
        elif last and isinstance(part, str):
            out.append(part)  # a missing or unknown key: the parent is in the document
        # else: a union tag such as 'RepoChart': not part of the document
    return tuple(out)


def _allowed_keys(loc: tuple[str | int, ...], model: type[BaseModel]) -> list[str]:
    """The YAML keys the model accepts at pydantic's `loc` (with union tags), for hints."""
    target: Any = model
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
