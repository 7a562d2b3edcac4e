"""Golden trees: every valid case renders byte for byte to its `expected/` folder.

A case is a folder under tests/cases/valid/. Its spec is the folder's environment.yaml, or,
for a folder named like an example, examples/<name>/environment.yaml (so the shipped examples
are always covered). `pytest --update-golden` rewrites an expected/ that differs from the
current output and fails that test; review the git diff like any change to the product, then
rerun (scripts/update-expectations does both, for every kind of expectation).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from expectations import Expectations
from govstack_gen.cli import main
from govstack_gen.write_plan import INPUTS
from helpers import CASES, EXAMPLES, read_tree

VALID = sorted(p for p in (CASES / "valid").iterdir() if p.is_dir())


def spec_of(case: Path) -> Path:
    own = case / "environment.yaml"
    return own if own.exists() else EXAMPLES / case.name / "environment.yaml"


def test_every_example_has_a_golden_case() -> None:
    examples = {p.parent.name for p in EXAMPLES.glob("*/environment.yaml")}
    assert examples and examples <= {case.name for case in VALID}


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.name)
def test_golden_tree(case: Path, expectations: Expectations, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["render", str(spec_of(case)), "--output", str(out)]) == 0
    (out / INPUTS).unlink()  # a digest of govstack-gen's own code: changes with every commit
    files = read_tree(out)
    expected_dir = case / "expected"
    problems = tree_problems(read_tree(expected_dir) if expected_dir.exists() else {}, files)
    expectations.tree(expected_dir, out, same=not problems)
    assert not problems, "golden tree differs (run scripts/update-expectations if intended):\n" + "\n".join(problems)


def tree_problems(expected: dict[str, bytes], files: dict[str, bytes]) -> list[str]:
    problems = []
    for rel in sorted(set(files) | set(expected)):
        if rel not in expected:
            problems.append(f"unexpected file {rel}")
        elif rel not in files:
            problems.append(f"missing file {rel}")
        elif files[rel] != expected[rel]:
            diff = difflib.unified_diff(
                expected[rel].decode().splitlines(keepends=True), files[rel].decode().splitlines(keepends=True),
                f"expected/{rel}", f"rendered/{rel}",
            )
            problems.append("".join(diff))
    return problems
