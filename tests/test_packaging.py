"""The ways a user installs govstack-gen, run for real from a clean copy of the repository (what
is committed, with its tags): the sdist and the wheel built and checked as the release workflow
does, the wheel installed in a fresh virtualenv and used; and a repository made by copier, whose
GitHub workflow steps run here: actionlint finds nothing, its install step installs govstack-gen
from the template's own git commit (no package index for it), and its CI script passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from copier import run_copy

from govstack_gen.errors import CODES
from helpers import CASES, EXAMPLES, ROOT, SHARED, helm_binary, kustomize_command, read_tree

ENV = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
           GIT_COMMITTER_EMAIL="t@example.org", PIP_DISABLE_PIP_VERSION_CHECK="1")


def run(*argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env or ENV, capture_output=True, text=True, check=False,
                          timeout=timeout)


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("clean") / "govstack-gen"
    result = run("git", "clone", "--quiet", ROOT, src)
    assert result.returncode == 0, result.stderr
    return src


def fresh_venv(path: Path) -> Path:
    """A virtualenv with nothing of this one (no system site-packages); its bin folder."""
    result = run(sys.executable, "-m", "venv", path)
    assert result.returncode == 0, result.stderr
    return path / "bin"


def test_the_wheel_built_from_a_clean_copy_installs_and_works(clean_copy: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = run(sys.executable, "-m", "build", "--outdir", dist, clean_copy)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,), (sdist,) = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    checked = run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    entries = sorted(p.name for p in (ROOT / "govstack_gen" / "catalog" / "entries").glob("*.yaml"))
    assert len(entries) >= 5
    with zipfile.ZipFile(wheel) as archive:
        inside = archive.namelist()
    for name in ["govstack_gen/errors.md", "govstack_gen/py.typed", "govstack_gen/_version.py",
                 *(f"govstack_gen/catalog/entries/{e}" for e in entries)]:
        assert name in inside, name
    with tarfile.open(sdist) as archive:
        in_sdist = {Path(*Path(n).parts[1:]).as_posix() for n in archive.getnames()}
    assert {"govstack_gen/errors.md", "pyproject.toml", "README.md"} <= in_sdist

    version = wheel.name.split("-")[1]
    bin_dir = fresh_venv(tmp_path / "venv")
    installed = run(bin_dir / "pip", "install", "--quiet", wheel)
    assert installed.returncode == 0, installed.stderr[-3000:]
    gen = bin_dir / "govstack-gen"
    assert run(gen, "--version").stdout == f"govstack-gen {version}\n"
    where = run(bin_dir / "python", "-c", "import govstack_gen; print(govstack_gen.__file__)", cwd=tmp_path).stdout
    assert where.startswith(str(tmp_path / "venv")), where  # the wheel's code, not this checkout's
    examples = sorted(EXAMPLES.glob("*/environment.yaml"))
    assert examples
    for spec in examples:
        out = tmp_path / "out" / spec.parent.name
        rendered = run(gen, "render", spec, "--output", out)
        assert rendered.returncode == 0, rendered.stderr
        golden = read_tree(CASES / "valid" / spec.parent.name / "expected")
        assert {rel: content for rel, content in read_tree(out).items() if rel in golden} == golden
    listed = run(gen, "explain").stdout.splitlines()
    assert listed == [f"{code}  {summary}" for code, summary in sorted(CODES.items())]
    shipped = run(bin_dir / "python", "-c", "import json; from govstack_gen.commands.explain import explanations; "
                  "print(json.dumps(sorted(explanations())))", cwd=tmp_path)
    assert json.loads(shipped.stdout) == sorted(CODES), shipped.stderr
    assert run(gen, "explain", "E516").stdout.startswith(f"E516: {CODES['E516']}\n\nThe render would move or drop data")
    assert json.loads(run(gen, "schema").stdout) == json.loads((ROOT / "docs" / "environment.schema.json").read_text())


def actionlint() -> str:
    result = run(ROOT / "scripts" / "install-tools", "actionlint")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_projects_release_workflow_is_clean() -> None:
    result = run(actionlint(), ROOT / ".github" / "workflows" / "release.yml")
    assert result.returncode == 0, result.stdout


def test_a_generated_repository_runs_its_own_workflow(clean_copy: Path, tmp_path: Path) -> None:
    repo = tmp_path / "env"
    run_copy(str(clean_copy), repo, defaults=True, vcs_ref="HEAD", quiet=True)
    workflow = repo / ".github" / "workflows" / "govstack.yml"
    linted = run(actionlint(), workflow, cwd=repo)
    assert linted.returncode == 0, linted.stdout
    steps = [step["run"] for step in yaml.safe_load(workflow.read_text())["jobs"]["render-check"]["steps"] if "run" in step]
    install, ci = steps[0], steps[1]
    commit = run("git", "rev-parse", "HEAD", cwd=clean_copy).stdout.strip()
    assert install == f"pip install 'govstack-gen @ git+file://localhost{clean_copy}@{commit}' yamllint"
    assert ci == "bash scripts/ci.sh"

    bin_dir = fresh_venv(tmp_path / "venv")
    command = kustomize_command()
    env = ENV | {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HELM": helm_binary(),
                 "GOVSTACK_CHART_DIRS": str(SHARED / "charts"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    if command[1] == "build":
        env["KUSTOMIZE"] = command[0]
    installed = run("bash", "-c", install, cwd=repo, env=env)
    assert installed.returncode == 0, installed.stderr[-3000:]
    origin = json.loads(run(bin_dir / "python", "-c", "import importlib.metadata as m; "
                            "print(m.distribution('govstack-gen').read_text('direct_url.json'))", cwd=tmp_path).stdout)
    assert origin["vcs_info"] == {"vcs": "git", "commit_id": commit, "requested_revision": commit}, origin

    for step in (["git", "init", "-q", "-b", "main"], ["govstack-gen", "render"], ["git", "add", "-A"],
                 ["git", "commit", "-qm", "bootstrap"]):
        assert run(*step, cwd=repo, env=env).returncode == 0, step
    result = run("bash", "-c", ci, cwd=repo, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "rendered tree up to date and valid" in result.stdout
