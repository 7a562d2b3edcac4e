"""Colour on terminals only, as the ecosystem's CLIs do: each diagnostic's severity, its hints
and notes, when the stream is a terminal (`--color auto`, the default), never when NO_COLOR is
set or TERM is dumb (https://no-color.org), always with `--color always`, never with `never`.
Piped output and files stay plain text, byte for byte what the tests compare."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TextIO, cast

__all__ = ["paint", "wants_colour"]

_RESET = "\033[0m"
_SEVERITY = re.compile(r"^(error|warning)(\[E\d{3}\])")
_STYLE = {"error": "\033[1;31m", "warning": "\033[1;33m", "hint": "\033[36m", "note": "\033[2m"}


def wants_colour(mode: str, stream: TextIO, environ: Mapping[str, str]) -> bool:
    if mode != "auto":
        return mode == "always"
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint_line(line: str) -> str:
    found = _SEVERITY.match(line)
    if found:
        return f"{_STYLE[found[1]]}{found[1]}{found[2]}{_RESET}{line[found.end():]}"
    for word in ("hint", "note"):
        if line.startswith(f"  {word}:"):
            return f"  {_STYLE[word]}{word}:{_RESET}{line[len(word) + 3:]}"
    return line


class _Painter:
    """A text stream that writes through to another, colouring whole lines."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._stream.write(paint_line(line) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(paint_line(self._pending))
            self._pending = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()


def paint(stream: TextIO, mode: str, environ: Mapping[str, str]) -> TextIO:
    """`stream` itself, or a painter in front of it when colour is wanted there."""
    return cast(TextIO, _Painter(stream)) if wants_colour(mode, stream, environ) else stream
