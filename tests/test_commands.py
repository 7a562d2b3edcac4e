"""Command cases: what a user sees at the shell, for the diagnostics a spec alone cannot show
(the output tree, the files beside it, the tools, the charts).

Each folder under tests/cases/commands/ holds `steps.sh`, a short session run by bash in a copy
of the folder, and `expected.txt`, its exact transcript: every `gg ...` step (govstack-gen) is
echoed as `$ govstack-gen ...`, followed by what the command printed (stdout and stderr, in the
order written) and `[exit N]` when it did not exit 0. Other lines of steps.sh set the scene
(edit a file, plant a link) and print nothing. Paths are shown relative to the case, or as $ROOT
(this repository), $SHARED (../shared), $CACHE, $KUSTOMIZE and $HELM (the
pinned tools). `pytest --update-golden` rewrites a transcript
that differs, and fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from expectations import Expectations
from helpers import CASES, ROOT, SHARED

COMMANDS = sorted(p for p in (CASES / "commands").iterdir() if p.is_dir())

# A step that sets the scene and fails stops the session (set -e): the transcript would lie.
PRELUDE = """\
set -euo pipefail
gg() {
  printf '$ govstack-gen %s\\n' "$*"
  local status=0
  "$PYTHON" -m govstack_gen "$@" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then echo "[exit $status]"; fi
}
"""


def test_enough_command_cases() -> None:
    assert len(COMMANDS) >= 8
    for case in COMMANDS:
        assert (case / "steps.sh").is_file() and (case / "expected.txt").is_file(), case


@pytest.fixture(scope="session")
def session_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from helpers import helm_binary, kustomize_command

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVSTACK", "PYTEST", "NO_COLOR", "FORCE_COLOR"))}
    command = kustomize_command()
    assert command[1] == "build", "the command cases need the standalone kustomize (scripts/install-tools)"
    env.update(PYTHON=sys.executable, PYTHONUNBUFFERED="1", NO_COLOR="1", ROOT=str(ROOT), SHARED=str(SHARED),
               KUSTOMIZE=command[0], HELM=helm_binary(), XDG_CACHE_HOME=str(tmp_path_factory.mktemp("cache")))
    return env


@pytest.mark.parametrize("case", COMMANDS, ids=lambda p: p.name)
def test_command_case(case: Path, tmp_path: Path, session_env: dict[str, str], expectations: Expectations) -> None:
    work = tmp_path / case.name
    shutil.copytree(case, work, ignore=shutil.ignore_patterns("expected.txt"))
    script = PRELUDE + (work / "steps.sh").read_text()
    result = subprocess.run(["bash", "-c", script], cwd=work, env=session_env, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0 and result.stderr == "", f"steps.sh itself failed:\n{result.stderr}"
    transcript = result.stdout.replace(str(work), ".")
    for name in ("XDG_CACHE_HOME", "KUSTOMIZE", "HELM", "SHARED", "ROOT"):  # most specific first
        transcript = transcript.replace(session_env[name], f"${name.removeprefix('XDG_').removesuffix('_HOME')}")
    assert "Traceback" not in transcript
    steps = re.findall(r"^gg ", (case / "steps.sh").read_text(), re.MULTILINE)
    assert steps and transcript.count("$ govstack-gen ") == len(steps), "every step ran"
    assert transcript == expectations.text(case / "expected.txt", transcript)
