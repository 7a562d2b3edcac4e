"""Robustness: crash safety under SIGKILL, determinism across hash seeds, hostile input in
bounded memory. (The mutation fuzzer lives in test_loader.py; its long run is `-m fuzz_long`.)"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from govstack_gen.writer import recover
from helpers import EXAMPLES, ROOT, read_tree


def synthetic_spec(blocks: int) -> str:
    """The benchmark's generator of large environments (bench/bench_render.py)."""
    spec = importlib.util.spec_from_file_location("bench_render", ROOT / "bench" / "bench_render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.synthetic_spec(blocks))


TXN = ".govstack-gen/txn"


def tree_without_txn(root: Path) -> dict[str, bytes]:
    return {rel: data for rel, data in read_tree(root).items() if not rel.startswith(TXN)}


def render(spec: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "govstack_gen", "render", str(spec), "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# Runs a render that SIGKILLs itself at a chosen point of the writer's transaction: the test
# instruments the writer from outside (the product has no hook for it). Points: the n-th staged
# file written (before the commit); the n-th rename, the commit's being the first (inside the
# window between the commit and the end of the moves); the transaction's folder removed (after
# it); "count" prints how many files the render stages and renames.
KILLER = """
import os, shutil, signal, sys
import govstack_gen.writer as writer
point, n = sys.argv[1], int(sys.argv[2])
seen = {"write": 0, "replace": 0}
def step(kind):
    seen[kind] += 1
    if point != "count" and seen[kind] == n:
        os.kill(os.getpid(), signal.SIGKILL)
real_write, real_replace, real_rmtree = writer.write_file, os.replace, shutil.rmtree
def write_file(path, content, *, sync=False):
    real_write(path, content, sync=sync)
    if path.parent.name == "files" and point == "staging":
        step("write")
def replace(source, target):
    real_replace(source, target)
    if point == "moving" or point == "count":
        step("replace")
def rmtree(path, *args, **kwargs):
    real_rmtree(path, *args, **kwargs)
    if point == "after" and str(path).endswith("txn"):
        os.kill(os.getpid(), signal.SIGKILL)
writer.write_file, writer.os.replace, writer.shutil.rmtree = write_file, replace, rmtree
from govstack_gen.cli import main
status = main(sys.argv[3:])
if point == "count":
    print(seen["replace"])
sys.exit(status)
"""


def killed_render(spec: Path, out: Path, point: str, n: int = 1) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", KILLER, point, str(n), "render", str(spec), "--output", str(out)],
                          capture_output=True, text=True, check=False, timeout=300)


@pytest.fixture
def two_specs(tmp_path: Path) -> tuple[Path, Path, dict[str, dict[str, bytes]]]:
    """An environment of 60 building blocks and a new version of it (every HelmRelease and
    Kustomization changes), with the tree each renders to."""
    old_spec, new_spec = tmp_path / "old" / "environment.yaml", tmp_path / "new" / "environment.yaml"
    old_spec.parent.mkdir()
    new_spec.parent.mkdir()
    text = synthetic_spec(60)
    old_spec.write_text(text)
    new_spec.write_text(text.replace("retries: 3", "retries: 5").replace("tag: '1.2.4'", "tag: '1.2.5'"))
    reference = {}
    for name, spec in (("old", old_spec), ("new", new_spec)):
        assert render(spec, tmp_path / f"ref-{name}").wait() == 0
        reference[name] = tree_without_txn(tmp_path / f"ref-{name}")
    assert reference["old"] != reference["new"]
    return old_spec, new_spec, reference


def test_sigkill_before_inside_and_after_the_commit_window(tmp_path: Path,
                                                           two_specs: tuple[Path, Path, dict[str, dict[str, bytes]]]) -> None:
    """Killed while staging, the old tree stays; killed between the commit and the last move,
    recovery completes the new one; killed after, the new one is there."""
    old_spec, new_spec, reference = two_specs
    counting = tmp_path / "count"
    assert render(old_spec, counting).wait() == 0
    result = killed_render(new_spec, counting, "count")
    assert result.returncode == 0, result.stderr
    renames = int(result.stdout.split()[-1])  # the commit and one per staged file
    assert renames > 60 and tree_without_txn(counting) == reference["new"]
    points = [("staging", 1, "old"), ("staging", renames // 2, "old"), ("staging", renames - 1, "old"),
              ("moving", 1, "completed by recovery"), ("moving", renames // 2, "completed by recovery"),
              ("moving", renames - 1, "completed by recovery"), ("after", 1, "new")]
    outcomes = {"old": 0, "new": 0, "completed by recovery": 0}
    for attempt, (point, n, expected) in enumerate(points):
        out = tmp_path / f"run-{attempt}"
        assert render(old_spec, out).wait() == 0
        killed = killed_render(new_spec, out, point, n)
        assert killed.returncode == -signal.SIGKILL, (point, n, killed.stderr)
        if (out / TXN / "COMMIT").exists():
            assert recover(out)  # what the next render does first
            assert tree_without_txn(out) == reference["new"], f"{point} {n}: committed but incomplete"
            outcome = "completed by recovery"
        else:
            tree = tree_without_txn(out)
            assert tree in (reference["old"], reference["new"]), f"{point} {n}: a mix of two trees"
            outcome = "old" if tree == reference["old"] else "new"
        assert outcome == expected, (point, n, outcome)
        outcomes[outcome] += 1
        assert render(new_spec, out).wait() == 0 and tree_without_txn(out) == reference["new"]
    assert all(outcomes.values()), outcomes
    print("outcomes", outcomes)


def test_recovery_refuses_a_commit_whose_staged_files_were_damaged(tmp_path: Path,
                                                                  two_specs: tuple[Path, Path, dict[str, dict[str, bytes]]]
                                                                  ) -> None:
    """A power cut on a disk that loses data it had reported stored: after the commit, a staged
    file is truncated. Rolling forward would put it in place; recovery refuses (E408), changes
    nothing, and says how to go on."""
    old_spec, new_spec, reference = two_specs
    out = tmp_path / "out"
    assert render(old_spec, out).wait() == 0
    assert killed_render(new_spec, out, "moving", 3).returncode == -signal.SIGKILL  # the commit and two moves done
    staged = sorted((out / TXN / "files").iterdir())
    assert len(staged) > 60
    victim = staged[len(staged) // 2]
    victim.write_bytes(victim.read_bytes()[:10])
    before = read_tree(out)
    result = subprocess.run([sys.executable, "-m", "govstack_gen", "render", str(new_spec), "--output", str(out)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    (note, line, hint, summary, explain) = result.stderr.splitlines()
    assert note.startswith("influenced: ")  # the spec is loaded and checked before the tree is touched
    assert line.startswith(f"error[E408]: {victim}: the interrupted render cannot be completed: ")
    assert line.endswith(" is 10 bytes that do not match the commit")
    assert hint == (f"  hint: nothing was changed; remove {out / TXN} and render again (with --force if the render then "
                    "reports files edited by hand: those are the ones the interrupted render had moved into place)")
    assert (summary, explain) == ("1 error; nothing was written", "for more about this error, try `govstack-gen explain E408`")
    assert read_tree(out) == before
    # As the hint says; the two files already moved hold what the render writes, and the
    # manifest, moved last, still owns the old ones: no --force needed.
    shutil.rmtree(out / TXN)
    again = subprocess.run([sys.executable, "-m", "govstack_gen", "render", str(new_spec), "--output", str(out)],
                           capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert tree_without_txn(out) == reference["new"]


def test_ten_renders_under_different_hash_seeds_are_byte_identical(tmp_path: Path) -> None:
    spec = EXAMPLES / "sandbox-eks" / "environment.yaml"
    trees = []
    for seed in range(10):
        out = tmp_path / f"seed-{seed}"
        env = dict(os.environ, PYTHONHASHSEED=str(seed * 7919))
        subprocess.run([sys.executable, "-m", "govstack_gen", "render", str(spec), "--output", str(out)],
                       env=env, check=True, capture_output=True)
        trees.append(read_tree(out))
    assert all(tree == trees[0] for tree in trees)


HOSTILE = {
    "alias-bomb": "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
                  + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10)),
    "deep-nesting": "a: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep-mappings": "".join("  " * i + f"k{i}:\n" for i in range(3000)),
    "nul-bytes": "apiVersion: govstack.dev/v1alpha2\nkind: \x00Environment\n",
    "long-line": "x: " + "a" * 1_500_000 + "\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_yaml_fails_fast_in_bounded_memory(name: str, tmp_path: Path) -> None:
    spec = tmp_path / "environment.yaml"
    spec.write_text(HOSTILE[name])
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GiB address space\n"
        "from govstack_gen.cli import main\n"
        f"sys.exit(main(['render', {str(spec)!r}, '--output', {str(tmp_path / 'out')!r}]))\n"
    )
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert time.perf_counter() - start < 10
    assert result.returncode == 1, result.stderr
    assert "error[E1" in result.stderr or "error[E2" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_fifty_megabyte_spec_is_refused_at_once(tmp_path: Path) -> None:
    spec = tmp_path / "environment.yaml"
    with spec.open("wb") as handle:
        handle.write(b"# padding\n" * (5 * 1024 * 1024))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "govstack_gen", "render", str(spec), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True)
    assert time.perf_counter() - start < 5
    assert result.returncode == 1 and "error[E110]" in result.stderr
