from __future__ import annotations

import os

import pytest

from expectations import UPDATED, Expectations


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the expected files under tests/cases/ that differ from the current output; every test that "
             "rewrote one fails, saying so (review the diff, then rerun without it); refused when CI is set. "
             "scripts/update-expectations updates them all in the order they depend on each other",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--update-golden") and os.environ.get("CI"):
        raise pytest.UsageError("--update-golden rewrites the expectations the tests compare with, so it is refused when "
                                "CI is set: run it on a workstation and commit the reviewed diff")
    config.stash[UPDATED] = []


@pytest.fixture
def expectations(request: pytest.FixtureRequest) -> Expectations:
    return Expectations(bool(request.config.getoption("--update-golden")), request.config.stash[UPDATED])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    updated = config.stash.get(UPDATED, [])
    if updated:
        terminalreporter.section("expectations updated")
        terminalreporter.write_line(f"updated {len(updated)} files: review the diff and rerun")
        for rel in updated:
            terminalreporter.write_line(f"  {rel}")


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
