from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the expected trees and diagnostics under tests/cases/ from the current output",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def chart_tools(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """helm and kustomize for `validate --charts`, and one render and chart cache for the session's
    tests, none of the user's."""
    from helpers import helm_binary, kustomize_command

    command = kustomize_command()
    if command[1] == "build":
        monkeypatch.setenv("KUSTOMIZE", command[0])
    monkeypatch.setenv("HELM", helm_binary())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
