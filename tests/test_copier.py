"""The copier template bootstraps an environment repository that renders at once."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from copier import run_copy

from govstack_gen.cli import main
from helpers import ROOT


def copy(dst: Path, **data: object) -> None:
    with warnings.catch_warnings():
        # The template is this working tree; uncommitted edits during development are expected.
        warnings.filterwarnings("ignore", message=".*dirty.*", category=Warning)
        warnings.filterwarnings("ignore", message=".*DirtyLocal.*", category=Warning)
        run_copy(str(ROOT), dst, data=data, defaults=True, vcs_ref="HEAD", quiet=True)


def test_copy_with_defaults_renders_and_checks(tmp_path: Path) -> None:
    repo = tmp_path / "env"
    copy(repo)
    assert (repo / ".copier-answers.yml").exists()
    assert (repo / "environment.schema.json").read_text() == (ROOT / "docs" / "environment.schema.json").read_text()
    assert main(["render", str(repo / "environment.yaml")]) == 0
    assert (repo / "clusters" / "dev" / "kustomization.yaml").exists()
    assert main(["render", str(repo / "environment.yaml"), "--check"]) == 0


def test_copy_with_answers(tmp_path: Path) -> None:
    repo = tmp_path / "env"
    copy(repo, env_name="ng-prod", platform="eks", base_domain="Gov.Example.NG", stages=["staging", "prod"],
         git_url="ssh://git@github.com/gov/ng-prod.git")
    text = (repo / "environment.yaml").read_text()
    assert "domain: staging.gov.example.ng" in text and "domain: gov.example.ng" in text
    assert main(["render", str(repo / "environment.yaml")]) == 0
    assert sorted(p.name for p in (repo / "clusters").iterdir()) == ["prod", "staging"]


@pytest.mark.parametrize("answers", [{"env_name": "Bad_Name"}, {"git_url": "git@github.com:gov/x.git"}, {"stages": []}])
def test_invalid_answers_are_refused(tmp_path: Path, answers: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        copy(tmp_path / "env", **answers)
    assert not (tmp_path / "env" / "environment.yaml").exists()
