"""Invalid specs: each case folder under tests/cases/invalid/ holds an environment.yaml and the
exact diagnostics it must produce (expected.txt). The render must exit 1 and write nothing.
`pytest --update-golden` rewrites expected.txt; review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from govstack_gen.cli import main
from helpers import CASES

INVALID = sorted(p for p in (CASES / "invalid").iterdir() if p.is_dir())


def test_enough_invalid_cases() -> None:
    assert len(INVALID) >= 15


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.name)
def test_invalid_case(case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], update_golden: bool) -> None:
    out = tmp_path / "out"
    status = main(["render", str(case / "environment.yaml"), "--output", str(out)])
    captured = capsys.readouterr()
    expected_file = case / "expected.txt"
    if update_golden:
        expected_file.write_text(captured.err)
    assert status == 1
    assert captured.out == ""
    assert not out.exists(), "an invalid spec must not write anything"
    assert "Traceback" not in captured.err
    assert captured.err == expected_file.read_text()
    for line in captured.err.splitlines()[:-1]:
        if line.startswith("error["):
            assert line.split(": ", 2)[1].startswith("environment.yaml"), line  # every error is located
