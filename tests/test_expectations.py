"""--update-golden cannot make a run green: it rewrites what differs, fails each test that
rewrote something (naming the file), and is refused under CI. Run on a copy of the repository,
so the real expectations are never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

CASE = "duplicate-id"


def repository_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".hypothesis", ".mypy_cache", ".pytest_cache",
                                                             ".ruff_cache", "*.egg-info", "__pycache__"))
    return copy


def pytest_in(repo: Path, *args: str, ci: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=repo, env=env,
                          capture_output=True, text=True, check=False, timeout=300)


def test_an_update_run_rewrites_what_differs_and_fails_saying_so(tmp_path: Path) -> None:
    repo = repository_copy(tmp_path)
    expected = repo / "tests" / "cases" / "invalid" / CASE / "expected.txt"
    good = expected.read_text()
    expected.write_text("not what the render prints\n")
    select = ["tests/test_invalid.py", "-k", CASE]
    assert pytest_in(repo, *select).returncode == 1  # the planted difference shows
    updated = pytest_in(repo, "--update-golden", *select)
    assert updated.returncode == 1, updated.stdout
    assert f"updated tests/cases/invalid/{CASE}/expected.txt: review the diff and rerun without --update-golden" in updated.stdout
    assert "updated 1 files: review the diff and rerun" in updated.stdout
    assert expected.read_text() == good
    again = pytest_in(repo, "--update-golden", *select)  # nothing differs any more: nothing rewritten, green
    assert again.returncode == 0 and "updated" not in again.stdout, again.stdout
    assert pytest_in(repo, *select).returncode == 0


def test_an_update_run_is_refused_under_ci(tmp_path: Path) -> None:
    repo = repository_copy(tmp_path)
    before = (repo / "tests" / "cases" / "invalid" / CASE / "expected.txt").read_text()
    (repo / "tests" / "cases" / "invalid" / CASE / "expected.txt").write_text("stale\n")
    refused = pytest_in(repo, "--update-golden", "tests/test_invalid.py", "-k", CASE, ci="true")
    assert refused.returncode == 4  # pytest's usage error
    assert "--update-golden rewrites the expectations the tests compare with, so it is refused when CI is set" in refused.stderr
    assert (repo / "tests" / "cases" / "invalid" / CASE / "expected.txt").read_text() == "stale\n" != before
    script = subprocess.run(["scripts/update-expectations"], cwd=repo, env={**os.environ, "CI": "1"}, capture_output=True,
                            text=True, check=False, timeout=60)
    assert script.returncode == 2 and "refused when CI is set" in script.stderr
