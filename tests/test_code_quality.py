"""The style rules of DESIGN.md, enforced: ruff clean and mypy --strict clean."""

from __future__ import annotations

import subprocess
import sys

from helpers import ROOT


def test_ruff_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "govstack_gen", "tests", "bench"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean_on_tests_and_bench() -> None:
    """The tests and benchmarks too: tests/ and tests/e2e/ each have a conftest.py, so they are
    checked as two trees, each with its own import path (as pytest imports them)."""
    import os

    for paths, mypypath in ((["tests", "--exclude", "tests/e2e"], "tests"), (["tests/e2e"], "tests/e2e:tests"), (["bench"], "")):
        result = subprocess.run([sys.executable, "-m", "mypy", "--strict", *paths], cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, "MYPYPATH": mypypath})
        assert result.returncode == 0, result.stdout + result.stderr
