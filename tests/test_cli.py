"""The command line as a user meets it: exit codes, messages, start-up cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import govstack_gen.pipeline
from govstack_gen.cli import main
from helpers import CASES

SPEC = CASES / "valid" / "minimal" / "environment.yaml"
HEAVY = ("pydantic", "ruamel", "jinja2", "govstack_gen.spec.model", "govstack_gen.render")


COMMANDS = ["render", "schema", "validate", "diff", "audit", "bom", "graph"]


@pytest.mark.parametrize("argv", [["--help"], *([c, "--help"] for c in COMMANDS)])
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from govstack_gen.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as exc:\n    assert exc.code == 0\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage:" in capsys.readouterr().err


def test_bad_option_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["render", "--no-such-option"])
    assert exc.value.code == 2


def test_missing_spec_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(tmp_path / "nope.yaml"), "-o", str(tmp_path / "out")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_unreadable_spec_is_a_located_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "environment.yaml"
    spec.write_text(SPEC.read_text())

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", denied)
    assert main(["render", str(spec), "-o", str(tmp_path / "out")]) == 1
    assert "error[E101]: environment.yaml: cannot read the spec: Permission denied" in capsys.readouterr().err


def test_internal_error_has_no_traceback_unless_debug(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(spec: Path) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(govstack_gen.pipeline, "load_located", broken)
    assert main(["render", str(SPEC), "-o", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "Traceback" not in err and "boom" not in err
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "render", str(SPEC), "-o", str(tmp_path / "out")])


def test_console_script_and_module_entry_points(tmp_path: Path) -> None:
    module = subprocess.run([sys.executable, "-m", "govstack_gen", "--version"], capture_output=True, text=True, check=True)
    assert module.stdout.startswith("govstack-gen ")
    script = Path(sys.executable).parent / "govstack-gen"
    if not script.exists():  # installed elsewhere on PATH (e.g. a user install)
        script = Path(subprocess.run(["which", "govstack-gen"], capture_output=True, text=True, check=True).stdout.strip())
    result = subprocess.run([str(script), "render", str(SPEC), "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "created" in result.stderr and result.stdout == ""


def test_invalid_spec_exit_code_and_summary(tmp_path: Path) -> None:
    spec = tmp_path / "environment.yaml"
    spec.write_text(SPEC.read_text().replace("type: generic", "type: gke"))
    result = subprocess.run([sys.executable, "-m", "govstack_gen", "render", str(spec), "-o", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.endswith("1 error; nothing was written\nfor more about this error, try `govstack-gen explain E204`\n")
    assert "Traceback" not in result.stderr


def test_public_api_is_lazy_and_complete() -> None:
    code = (
        "import sys, govstack_gen\n"
        "assert not any(m.startswith(('pydantic', 'ruamel')) for m in sys.modules)\n"
        "for name in govstack_gen.__all__:\n    getattr(govstack_gen, name)\n"
        "assert 'pydantic' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
