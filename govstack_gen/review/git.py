"""Read a rendered tree as it is at a git ref (a branch, a tag, a commit), without checking it out."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["GitError", "tree_at"]


class GitError(RuntimeError):
    pass


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        result = subprocess.run(["git", "-C", str(cwd), *args], input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if result.returncode != 0:
        raise GitError(result.stderr.decode("utf-8", "replace").strip() or f"git {args[0]} failed")
    return result.stdout


def tree_at(ref: str, root: Path, tops: set[str]) -> dict[str, bytes]:
    """{path relative to root: bytes} of the YAML files under `tops` (top-level folders of the
    tree) at `ref`, read from the repository that contains `root`."""
    probe = root if root.exists() else root.parent
    toplevel = Path(_git(probe, "rev-parse", "--show-toplevel").decode().strip())
    prefix = root.resolve().relative_to(toplevel.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    try:
        _git(toplevel, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GitError:
        raise GitError(f"{ref!r} is neither a folder nor a commit, branch or tag of {toplevel}") from None
    listing = _git(toplevel, "ls-tree", "-r", "-z", "--name-only", ref, "--", *(prefix + t for t in sorted(tops)))
    paths = [p for p in listing.decode().split("\0") if p.endswith((".yaml", ".yml"))]
    if not paths:
        return {}
    # One git process for every blob: `cat-file --batch` answers "<sha> blob <size>\n<bytes>\n" per name.
    batch = _git(toplevel, "cat-file", "--batch", stdin="".join(f"{ref}:{p}\n" for p in paths).encode())
    files, pos = {}, 0
    for path in paths:
        header_end = batch.index(b"\n", pos)
        size = int(batch[pos:header_end].split()[2])
        files[path[len(prefix):]] = batch[header_end + 1: header_end + 1 + size]
        pos = header_end + 1 + size + 1
    return files
