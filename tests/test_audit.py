"""`govstack-gen audit`: hand edits, deletions and additions in a rendered tree are found from
the ownership manifest; a clean tree passes; nothing is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from govstack_gen.cli import main
from helpers import CASES, read_tree

MINIMAL = CASES / "valid" / "minimal" / "environment.yaml"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    assert main(["render", str(MINIMAL), "-o", str(root)]) == 0
    return root


def test_a_fresh_render_is_clean(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["audit", str(tree)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"{tree}: clean (26 generated files)\n"


def test_edits_deletions_and_additions_are_reported(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (tree / "clusters/dev/kustomization.yaml").open("a") as handle:
        handle.write("# tweak\n")
    (tree / "platform/base/cache/limitrange-cache.yaml").unlink()
    (tree / "building-blocks/base/cache/secret-extra.yaml").write_text("kind: Secret\n")
    (tree / "platform/dev/hand-made").mkdir()
    (tree / "platform/dev/hand-made/route.yaml").write_text("kind: IngressRoute\n")
    (tree / "README.md").write_text("not generated: the root is the operators' own\n")
    before = read_tree(tree)
    capsys.readouterr()
    assert main(["audit", str(tree), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["clean"] and report["owned"] == 26
    # Located at the file, named once (the location), not again in the message.
    assert [(f["code"], f["file"], f["message"]) for f in report["findings"]] == [
        ("E401", f"{tree}/clusters/dev/kustomization.yaml", "edited by hand since the last render"),
        ("E406", f"{tree}/platform/base/cache/limitrange-cache.yaml", "deleted by hand"),
        ("E402", f"{tree}/building-blocks/base/cache/secret-extra.yaml", "added by hand in a generated folder"),
        ("E402", f"{tree}/platform/dev/hand-made/route.yaml", "added by hand in a generated folder"),
    ]
    assert read_tree(tree) == before  # audit only reads


def test_an_environment_repository_is_audited_through_its_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(MINIMAL.parent, repo, ignore=shutil.ignore_patterns("expected"))
    assert main(["render", str(repo / "environment.yaml")]) == 0
    monkeypatch.chdir(repo)
    capsys.readouterr()
    assert main(["audit"]) == 0
    assert "clean (26 generated files)" in capsys.readouterr().err


def test_a_folder_that_was_never_rendered_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(tmp_path)]) == 2
    assert "has no .govstack-gen/manifest.json: not a tree rendered by govstack-gen" in capsys.readouterr().err


def test_a_pending_render_is_reported(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / ".govstack-gen" / "txn").mkdir()
    assert main(["audit", str(tree)]) == 1
    assert "error[E406]" in capsys.readouterr().out
