"""Robustness: crash safety under SIGKILL, determinism across hash seeds, hostile input in
bounded memory. (The mutation fuzzer lives in test_loader.py; its long run is `-m fuzz_long`.)"""

from __future__ import annotations

import importlib.util
import os
import random
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


def test_sigkill_at_any_point_leaves_the_old_tree_or_a_completable_new_one(tmp_path: Path) -> None:
    old_spec, new_spec = tmp_path / "old" / "environment.yaml", tmp_path / "new" / "environment.yaml"
    old_spec.parent.mkdir()
    new_spec.parent.mkdir()
    text = synthetic_spec(60)
    old_spec.write_text(text)
    # A new version of the spec: every HelmRelease and Kustomization changes, some files go.
    new_spec.write_text(text.replace("retries: 3", "retries: 5").replace("tag: '1.2.4'", "tag: '1.2.5'"))
    reference = {}
    for name, spec in (("old", old_spec), ("new", new_spec)):
        assert render(spec, tmp_path / f"ref-{name}").wait() == 0
        reference[name] = tree_without_txn(tmp_path / f"ref-{name}")
    assert reference["old"] != reference["new"]
    start = time.perf_counter()
    assert render(new_spec, tmp_path / "timing").wait() == 0  # how long a render of the new spec takes here
    duration = time.perf_counter() - start
    rng = random.Random(20261123)
    outcomes = {"old": 0, "new": 0, "completed by recovery": 0}
    for attempt in range(10):
        out = tmp_path / f"run-{attempt}"
        assert render(old_spec, out).wait() == 0
        process = render(new_spec, out)
        time.sleep(rng.uniform(0.0, duration * 1.1))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if (out / TXN / "COMMIT").exists():
            recover(out)  # what the next command does first
            assert tree_without_txn(out) == reference["new"], f"attempt {attempt}: committed but incomplete"
            outcomes["completed by recovery"] += 1
        else:
            tree = tree_without_txn(out)
            assert tree in (reference["old"], reference["new"]), f"attempt {attempt}: a mix of two trees"
            outcomes["old" if tree == reference["old"] else "new"] += 1
        assert render(new_spec, out).wait() == 0 and tree_without_txn(out) == reference["new"]
    assert sum(outcomes.values()) == 10
    print("outcomes", outcomes)


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
