"""Same spec, same bytes: whatever the hash seed, the working directory or the output path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import EXAMPLES, read_tree

SPEC = EXAMPLES / "sandbox-k3s" / "environment.yaml"


def render_in_subprocess(out: Path, seed: str, cwd: Path) -> dict[str, bytes]:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    subprocess.run([sys.executable, "-m", "govstack_gen", "render", str(SPEC), "--output", str(out)],
                   cwd=cwd, env=env, check=True, capture_output=True)
    return read_tree(out)


def test_byte_identical_under_different_hash_seeds_and_paths(tmp_path: Path) -> None:
    trees = [
        render_in_subprocess(tmp_path / "a", "0", tmp_path),
        render_in_subprocess(tmp_path / "deeper" / "b", "12345", Path("/")),
        render_in_subprocess(tmp_path / "c", "random", tmp_path),
    ]
    assert trees[0] == trees[1] == trees[2]
    assert len(trees[0]) > 50
    for content in trees[0].values():
        assert str(tmp_path).encode() not in content  # no absolute paths of this machine
