"""What a path inside a git repository may be (gitops.path, a git chart's path), without
pydantic: the spec types validate with it, and `render`'s quick path reads gitops.path with it
before anything is validated."""

from __future__ import annotations

import posixpath

__all__ = ["repo_path"]


def repo_path(value: str) -> str | None:
    """The canonical form of a relative path inside a repository ('.' for its top), or None
    when `value` is not one (absolute, '..', '//', a trailing '/', a backslash, blanks)."""
    if value in ("", ".", "./"):
        return "."
    candidate = value[2:] if value.startswith("./") else value
    bad = (
        value.startswith("/")
        or "\\" in value
        or "\x00" in value
        or any(c.isspace() for c in value)
        or ".." in candidate.split("/")
        or posixpath.normpath(candidate) != candidate
    )
    return None if bad else candidate
