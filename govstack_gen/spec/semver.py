"""Semantic versions, compared by precedence (semver.org §11): what catalog entries and the
version operators of requirements order by."""

from __future__ import annotations

import re

__all__ = ["parse_version", "version_key"]

# "3", "3.6", "3.6.0", "v1.2.3-rc.1+build": missing minor/patch count as 0, build metadata is ignored.
_VERSION_RE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")

VersionKey = tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]


def parse_version(text: str) -> VersionKey | None:
    """A sortable key, or None when `text` is not a version."""
    match = _VERSION_RE.match(text)
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    # A release sorts after its pre-releases; identifiers compare numerically when numeric.
    pre_key = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")) if pre else ()
    return int(major), int(minor or 0), int(patch or 0), 0 if pre else 1, pre_key


def version_key(text: str) -> VersionKey:
    """For sorting versions already known to be valid."""
    key = parse_version(text)
    if key is None:
        raise ValueError(f"not a version: {text!r}")
    return key
