"""Documentation that must stay in step with the code."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from govstack_gen.errors import CODES
from govstack_gen.spec.schema import schema
from helpers import ROOT

DOCS = ROOT / "govstack_gen" / "errors.md"


def test_every_error_code_is_documented() -> None:
    documented = set(re.findall(r"^### (E\d{3})$", DOCS.read_text(), re.MULTILINE))
    assert documented == set(CODES), f"undocumented: {set(CODES) - documented}; stale: {documented - set(CODES)}"


def test_every_code_used_in_the_package_exists() -> None:
    used = set()
    for path in (ROOT / "govstack_gen").rglob("*.py"):
        if path.name != "errors.py":  # the registry itself does not count as a use
            used |= set(re.findall(r'"(E\d{3})"', path.read_text()))
    assert used <= set(CODES)
    # Every documented code is raised somewhere (no dead documentation).
    assert set(CODES) <= used


# The expected outputs tests compare with, by the test that compares them: the spec cases
# (test_invalid), the shell sessions (test_commands) and the chart reports (test_chart_report).
EXPECTED_OUTPUTS = ("tests/cases/invalid/*/expected.txt", "tests/cases/commands/*/expected.txt", "tests/cases/charts/*.txt")


def test_every_documented_code_is_in_an_expected_output() -> None:
    """Not a search of the source: each code must be shown, exactly as a user sees it
    (`error[E...]`/`warning[E...]`), in an output some test compares."""
    shown: dict[str, list[str]] = {}
    for pattern in EXPECTED_OUTPUTS:
        files = sorted(ROOT.glob(pattern))
        assert files, pattern
        for path in files:
            for code in re.findall(r"^(?:error|warning)\[(E\d{3})\]", path.read_text(), re.MULTILINE):
                shown.setdefault(code, []).append(str(path.relative_to(ROOT)))
    documented = set(re.findall(r"^### (E\d{3})$", DOCS.read_text(), re.MULTILINE))
    assert len(documented) > 100
    assert not documented - shown.keys(), f"in no expected output: {sorted(documented - shown.keys())}"


def diagnostics_shown() -> list[tuple[str, list[str]]]:
    """Every diagnostic of the expected outputs: (file, its lines up to the next one or the end)."""
    head = re.compile(r"^(?:error|warning)\[E\d{3}\]")
    found = []
    for pattern in EXPECTED_OUTPUTS:
        for path in sorted(ROOT.glob(pattern)):
            lines = path.read_text().splitlines()
            starts = [i for i, line in enumerate(lines) if head.match(line)]
            for start in starts:
                end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")
                            and (head.match(lines[i]) or lines[i - 1].startswith("  hint:"))), len(lines))
                found.append((str(path.relative_to(ROOT)), lines[start:end]))
    return found


def test_every_diagnostic_shown_has_a_hint() -> None:
    shown = diagnostics_shown()
    assert len(shown) > 250
    missing = [f"{where}: {lines[0][:120]}" for where, lines in shown if not any(ln.startswith("  hint: ") for ln in lines)]
    assert not missing, "\n".join(missing)


def test_explain_prints_every_code(capsys: pytest.CaptureFixture[str]) -> None:
    from govstack_gen.cli import main

    for code, summary in CODES.items():
        assert main(["explain", code.lower()]) == 0
        out = capsys.readouterr().out
        head, _, body = out.partition("\n\n")
        assert head == f"{code}: {summary}" and len(body.strip()) > 20, code
    assert main(["explain"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{code}  {summary}" for code, summary in sorted(CODES.items())]
    assert main(["explain", "E5166"]) == 2
    assert "did you mean E516" in capsys.readouterr().err


def test_committed_json_schema_is_current() -> None:
    committed = json.loads((ROOT / "docs" / "environment.schema.json").read_text())
    assert committed == schema(), "run: govstack-gen schema > docs/environment.schema.json"


def test_schema_command_prints_the_schema() -> None:
    result = subprocess.run([sys.executable, "-m", "govstack_gen", "schema"], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == schema()


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash)?\n(.*?)```", readme, re.DOTALL)
    assert "render examples/sandbox-k3s/environment.yaml" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci, ".ci/run must call exactly the README test command"


def test_examples_and_valid_cases_pass_the_editor_schema() -> None:
    import jsonschema

    from govstack_gen.spec.load import parse_document

    validator = jsonschema.Draft202012Validator(json.loads((ROOT / "docs" / "environment.schema.json").read_text()))
    specs = sorted((ROOT / "examples").glob("*/environment.yaml")) + sorted((ROOT / "tests/cases/valid").glob("*/environment.yaml"))
    assert specs
    for spec in specs:
        data = parse_document(spec.read_bytes(), spec.name).data
        errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, f"{spec}: {errors}"
    broken = parse_document((ROOT / "tests/cases/invalid/unknown-field-typo/environment.yaml").read_bytes(), "e.yaml").data
    assert any("replcias" in e.message for e in validator.iter_errors(broken))
