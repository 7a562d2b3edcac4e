"""Invalid specs: each case folder under tests/cases/invalid/ holds an environment.yaml and the
exact diagnostics it must produce (expected.txt). The render must exit 1 and write nothing.
`pytest --update-golden` rewrites an expected.txt that differs (and fails); review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from expectations import Expectations
from govstack_gen.cli import main
from govstack_gen.pipeline import load_and_resolve
from helpers import CASES

INVALID = sorted(p for p in (CASES / "invalid").iterdir() if p.is_dir())


def test_enough_invalid_cases() -> None:
    assert len(INVALID) >= 15


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.name)
def test_invalid_case(case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], expectations: Expectations) -> None:
    out = tmp_path / "out"
    status = main(["render", str(case / "environment.yaml"), "--output", str(out)])
    captured = capsys.readouterr()
    expected = expectations.text(case / "expected.txt", captured.err)
    assert status == 1
    assert captured.out == ""
    assert not out.exists(), "an invalid spec must not write anything"
    assert "Traceback" not in captured.err
    assert captured.err == expected
    for line in captured.err.splitlines()[:-1]:
        if line.startswith("error["):
            # Every error is located: in the spec, or in an entry of the environment's catalog folder.
            assert line.split(": ", 2)[1].startswith(("environment.yaml:", "catalog/")), line


@pytest.mark.parametrize(("key", "value", "secret"), [
    ("password", "hunter2", True),
    ("adminPassword", "x", True),
    ("client_secret", "abc", True),
    ("existingSecret", "payments-db", False),
    ("passwordKey", "password", False),
    ("tokenSecretName", "api-token", False),
    ("secretKeyRef", "x", False),
    ("password", "", False),
    ("enabled", True, False),
    ("key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE", True),
    ("note", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", True),
    ("digest", "sha256:" + "ab" * 32, False),
    ("url", "https://example.org/a/very/long/path/with/Many/Segments/x9Q", False),
    ("hash", "q8Zr3Xv9LmT2bN7yKp4WcE6sHd1JfUa5", True),
])
def test_secret_recognition(key: str, value: object, secret: bool) -> None:
    from govstack_gen.spec.secrets import looks_like_secret

    assert bool(looks_like_secret(key, value)) is secret


def test_git_chart_credentials_are_flux_only(tmp_path: Path) -> None:
    """The git-chart-credentials case with Argo CD: its repository credentials are Argo CD's own
    Secrets, so neither an ssh:// chart without chart.secretRef nor an undeclared one is refused."""
    text = (CASES / "invalid" / "git-chart-credentials" / "environment.yaml").read_text()
    flux_url = "  url: https://git.example.org/gov/sandbox.git\n"
    assert text.count(flux_url) == 1
    spec = tmp_path / "environment.yaml"
    spec.write_text(text.replace(flux_url, "  engine: argocd\n" + flux_url))
    resolved = load_and_resolve(spec)
    assert [block.id for block in resolved.blocks] == ["payments", "registry"]
