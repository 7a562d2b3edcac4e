"""The files tests compare their output with (golden trees, expected diagnostics, recorded
reports, generated variants), and what --update-golden does with them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

UPDATED = pytest.StashKey[list[str]]()


class Expectations:
    """The expected files a test compares its output with. Under --update-golden a file that
    differs is rewritten and the test fails ("updated ...: review and rerun"), so an update run
    is never green: what the output now is becomes the expectation only once a person has read
    the diff and a plain run agrees."""

    def __init__(self, update: bool, updated: list[str]) -> None:
        self.update = update
        self.updated = updated

    def text(self, path: Path, actual: str) -> str:
        """The expected text of `path`: the file, or, updating, `actual` after writing it."""
        if self.update and (not path.is_file() or path.read_text() != actual):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual)
            self._updated(path)
        return path.read_text()

    def tree(self, expected: Path, actual: Path, same: bool) -> None:
        """Under --update-golden, a golden tree that is not `same` as `actual` is replaced by it."""
        if self.update and not same:
            shutil.rmtree(expected, ignore_errors=True)
            shutil.copytree(actual, expected)
            self._updated(expected)

    def _updated(self, path: Path) -> None:
        rel = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        self.updated.append(rel)
        pytest.fail(f"updated {rel}: review the diff and rerun without --update-golden", pytrace=False)
