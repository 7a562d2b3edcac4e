"""The writer's promises: owned files only, hand edits refused, all or nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from govstack_gen import writer
from govstack_gen.cli import main
from govstack_gen.write_plan import INPUTS, MANIFEST
from helpers import CASES, read_tree

SPEC = CASES / "valid" / "overrides" / "environment.yaml"
RELEASE = "building-blocks/base/repo-chart/helmrelease-repo-chart.yaml"


def render(spec: Path, out: Path, *flags: str) -> int:
    return main(["render", str(spec), "--output", str(out), *flags])


@pytest.fixture
def out(tmp_path: Path) -> Path:
    target = tmp_path / "out"
    assert render(SPEC, target) == 0
    return target


def test_second_render_changes_nothing_and_rewrites_nothing(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    tree = read_tree(out)
    capsys.readouterr()
    assert render(SPEC, out) == 0
    assert "nothing changed" in capsys.readouterr().err
    assert read_tree(out) == tree
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


def test_manifest_records_every_file_with_its_hash(out: Path) -> None:
    manifest = json.loads((out / MANIFEST).read_text())
    files = {rel for rel in read_tree(out) if rel not in (MANIFEST, INPUTS)}
    assert set(manifest["files"]) == files
    assert all(value.startswith("sha256:") and len(value) == 71 for value in manifest["files"].values())


def test_check_passes_then_names_a_hand_edited_file(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert render(SPEC, out, "--check") == 0
    edited = out / RELEASE
    edited.write_text(edited.read_text() + "# local tweak\n")
    tree = read_tree(out)
    capsys.readouterr()
    assert render(SPEC, out, "--check") == 1
    report = capsys.readouterr()
    assert RELEASE in report.out and "edited by hand" in report.out
    assert render(SPEC, out) == 1  # refuses to overwrite the edit
    assert "error[E401]" in capsys.readouterr().err
    assert read_tree(out) == tree  # nothing written
    assert render(SPEC, out, "--force") == 0
    assert "local tweak" not in edited.read_text()
    assert render(SPEC, out, "--check") == 0


def test_check_lists_missing_files(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Also what the unchanged fast path must notice: a deleted file means a full check."""
    (out / RELEASE).unlink()
    capsys.readouterr()
    assert render(SPEC, out, "--check") == 1
    assert f"create  {RELEASE}" in capsys.readouterr().out
    assert not (out / RELEASE).exists()  # --check writes nothing


def test_never_overwrites_a_file_it_does_not_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    mine = out / RELEASE
    mine.parent.mkdir(parents=True)
    mine.write_text("my own file\n")
    assert render(SPEC, out) == 1
    assert "error[E402]" in capsys.readouterr().err
    assert read_tree(out) == {RELEASE: b"my own file\n"}


def test_adopts_an_identical_unowned_file(out: Path) -> None:
    (out / MANIFEST).unlink()
    assert render(SPEC, out) == 0
    assert render(SPEC, out, "--check") == 0


def test_strays_are_reported_and_left_alone(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stray = out / "clusters" / "dev" / "notes.txt"
    stray.write_text("keep me\n")
    capsys.readouterr()
    assert render(SPEC, out) == 0
    assert "warning[E402]" in capsys.readouterr().err
    assert stray.read_text() == "keep me\n"


def test_removed_building_block_files_are_deleted_but_foreign_files_stay(out: Path, tmp_path: Path) -> None:
    spec = tmp_path / "environment.yaml"
    text = SPEC.read_text()
    cut = text.index("  - id: git-chart")
    dev = ("      git-chart:\n        version: kafka/26.2.0\n        values:\n          extraConfig: |\n"
           "            auto.create.topics.enable=true\n")
    spec.write_text(text[:cut].replace(dev, "").replace("      git-chart:\n        replicas: 0\n", ""))
    foreign = out / "building-blocks" / "base" / "git-chart" / "README.md"
    foreign.write_text("hand-written\n")
    assert render(spec, out) == 1  # its Kafka's volume goes with it: refused until the data is safe (E516)
    assert render(spec, out, "--allow-data-move") == 0
    assert not (out / "building-blocks" / "dev" / "git-chart").exists()  # emptied folders are removed
    assert not (out / "clusters" / "dev" / "kustomization-git-chart.yaml").exists()
    assert foreign.read_text() == "hand-written\n"
    assert sorted(p.name for p in foreign.parent.iterdir()) == ["README.md"]


def test_refuses_to_delete_an_edited_file(out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "environment.yaml"
    spec.write_text(SPEC.read_text().replace("name: overrides", "name: renamed"))
    edited = out / "clusters" / "dev" / "gitrepository-overrides.yaml"
    edited.write_text("edited\n")
    capsys.readouterr()
    assert render(spec, out) == 1
    assert "no longer rendered but was edited by hand" in capsys.readouterr().err
    assert edited.read_text() == "edited\n"


def test_interrupted_write_leaves_the_previous_tree(out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = read_tree(out)
    spec = tmp_path / "environment.yaml"
    spec.write_text(SPEC.read_text().replace('version: "1.9.0"', 'version: "1.9.1"').replace("interval: 5m", "interval: 7m"))
    calls = {"n": 0}
    real = writer.write_file  # type: ignore[attr-defined]  # what the writer calls, replaced below

    def failing_write(path: Path, data: bytes, *, sync: bool = False) -> None:
        calls["n"] += 1
        if calls["n"] == 10:
            raise OSError(28, "No space left on device")
        real(path, data, sync=sync)

    monkeypatch.setattr(writer, "write_file", failing_write)
    assert render(spec, out) == 1  # an OSError mid-write: reported, not a traceback
    monkeypatch.undo()
    after = read_tree(out)
    assert {k: v for k, v in after.items() if not k.startswith(".govstack-gen/txn/")} == before
    assert render(spec, out) == 0  # the next run discards the unfinished transaction
    assert not (out / ".govstack-gen" / "txn").exists()
    assert b"interval: 7m" in (out / "clusters" / "dev" / "gitrepository-overrides.yaml").read_bytes()


def test_committed_transaction_is_completed_by_the_next_run(out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "environment.yaml"
    spec.write_text(SPEC.read_text().replace("interval: 5m", "interval: 7m"))
    moves = {"n": 0}
    real = os.replace

    def dying_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if str(dst).endswith("COMMIT"):
            real(src, dst)
            return
        moves["n"] += 1
        if moves["n"] == 3:
            raise KeyboardInterrupt  # killed half-way through the moves, after the commit point
        real(src, dst)

    monkeypatch.setattr(os, "replace", dying_replace)
    assert render(spec, out) == 1
    monkeypatch.undo()
    assert main(["render", str(spec), "--output", str(out), "--check"]) == 1  # pending is drift
    assert render(spec, out) == 0
    fresh = tmp_path / "fresh"
    assert render(spec, fresh) == 0
    assert read_tree(out) == read_tree(fresh)


def test_corrupt_manifest_is_refused(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (out / MANIFEST).write_text("{not json")
    assert render(SPEC, out) == 1
    assert "error[E405]" in capsys.readouterr().err


def test_output_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert render(SPEC, target) == 1
    assert "error[E404]" in capsys.readouterr().err


def test_refuses_to_write_through_a_symlink_out_of_the_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "clusters").symlink_to(elsewhere)
    assert render(SPEC, out) == 1
    assert "error[E403]" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


def test_default_output_is_the_spec_folder_joined_with_gitops_path(tmp_path: Path) -> None:
    shutil.copy(SPEC, tmp_path / "environment.yaml")
    assert main(["render", str(tmp_path / "environment.yaml")]) == 0
    assert (tmp_path / "envs" / "overrides" / "clusters" / "dev" / "kustomization.yaml").exists()


def test_unchanged_rerender_skips_validation_and_rendering(out: Path) -> None:
    code = (
        "import sys\nfrom govstack_gen.cli import main\n"
        f"assert main(['render', {str(SPEC)!r}, '--output', {str(out)!r}]) == 0\n"
        f"assert main(['render', {str(SPEC)!r}, '--output', {str(out)!r}, '--check']) == 0\n"
        "assert 'pydantic' not in sys.modules, 'the fast path must not load the models'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_new_inputs_with_the_same_tree_only_update_the_inputs(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (out / INPUTS).write_text("sha256:from-an-older-govstack-gen")
    before = {rel: data for rel, data in read_tree(out).items() if rel != INPUTS}
    capsys.readouterr()
    assert render(SPEC, out) == 0
    assert "nothing changed" in capsys.readouterr().err
    assert {rel: data for rel, data in read_tree(out).items() if rel != INPUTS} == before
    assert (out / INPUTS).read_text().startswith("sha256:") and "older" not in (out / INPUTS).read_text()
    assert render(SPEC, out, "--check") == 0



def test_the_staged_files_reach_the_disk_before_the_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Durability, as the system calls show it (a power cut cannot be had in a test): on Linux
    one syncfs of the output's file system before the commit point and one after the moves;
    where there is none, an fsync of every staged file and of the folders naming them."""
    from govstack_gen import fsio

    spec = tmp_path / "environment.yaml"
    spec.write_text(SPEC.read_text())
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync " + os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(source: Any, target: Any) -> None:
        calls.append(f"replace {Path(target).name}")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    syncfs = fsio._libc_syncfs()
    assert syncfs is not None  # this machine is Linux with glibc
    counted: list[int] = []

    def counting(fd: int) -> int:
        counted.append(fd)
        return syncfs(fd)

    monkeypatch.setattr(fsio, "_libc_syncfs", lambda: counting)
    assert render(spec, tmp_path / "a") == 0
    commit = calls.index("replace COMMIT")
    assert len(counted) == 2 and calls[commit + 1].endswith("/.govstack-gen/txn")  # the commit itself, then the moves
    assert not any(c.startswith("fsync") for c in calls[:commit])  # the one syncfs did it
    # Without syncfs: each staged file and the journal, then their folders, all before the commit.
    calls.clear()
    monkeypatch.setattr(fsio, "_libc_syncfs", lambda: None)
    assert render(spec, tmp_path / "b") == 0
    commit = calls.index("replace COMMIT")
    staged = [c for c in calls[:commit] if "/txn/files/" in c]
    written = len(read_tree(tmp_path / "b")) - 1  # every file of the tree was staged (the inputs record is written apart)
    assert len(staged) >= written > 10
    assert any(c.endswith("/txn/COMMIT.tmp") for c in calls[:commit])
    assert [c for c in calls[:commit] if c.endswith(("/txn/files", "/txn"))]
