"""Where a release's chart is found: folders and packaged charts given with --chart-dir, the
local chart cache, or fetched into that cache (helm pull, git clone) when a network is there.

A chart from a Helm repository or an OCI registry is found by its name and version (those of
its Chart.yaml). A chart from a git folder is pinned by the git ref, not by its Chart.yaml
version, so it is found by the folder's name (the last part of `path`) or its chart name; of
several such folders, the one whose Chart.yaml version the release tag names (kafka/26.2.0).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from govstack_gen.spec.types import tag_version
from govstack_gen.validation.helm import helm_pull

__all__ = ["ChartRef", "ChartStore", "default_cache"]

GIT_TIMEOUT_S = 120


@dataclass(frozen=True)
class ChartRef:
    """A chart as a release names it."""

    source: str  # Helm repository URL, oci://registry/path (without the chart name) or git URL
    name: str  # chart name; for git, the folder's name
    version: str  # chart version; for git, the ref (tag or commit)
    path: str | None = None  # git: the chart's folder in the repository

    @property
    def git(self) -> bool:
        return self.path is not None

    def __str__(self) -> str:
        if self.git:
            return f"{self.source}//{self.path}@{self.version}"
        return f"{self.name} {self.version} ({self.source})"


@dataclass(frozen=True)
class _Found:
    path: Path
    name: str
    version: str
    folder: str  # the folder's (or package's) name


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("GOVSTACK_GEN_CHARTS") or Path(base) / "govstack-gen" / "charts")


def _read_chart_yaml(text: str) -> tuple[str, str] | None:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML(typ="safe").load(text)
    except YAMLError:
        return None
    if not isinstance(doc, dict) or not doc.get("name") or doc.get("version") is None:
        return None
    return str(doc["name"]), str(doc["version"])


def _package_chart(path: Path) -> tuple[str, str] | None:
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar.getmembers():
                if member.name.count("/") == 1 and member.name.endswith("/Chart.yaml"):
                    handle = tar.extractfile(member)
                    return _read_chart_yaml(handle.read().decode("utf-8", "replace")) if handle else None
    except (OSError, tarfile.TarError):
        return None
    return None


def _index(root: Path) -> list[_Found]:
    """Every chart under `root`: folders with a Chart.yaml (their charts/ hold subcharts, not
    charts of their own) and packaged charts (.tgz)."""
    found: list[_Found] = []
    if root.is_file() and root.suffix in (".tgz", ".gz"):
        meta = _package_chart(root)
        return [_Found(root, meta[0], meta[1], meta[0])] if meta else []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        here = Path(folder)
        if "Chart.yaml" in files:
            meta = _read_chart_yaml((here / "Chart.yaml").read_text(encoding="utf-8", errors="replace"))
            if meta:
                found.append(_Found(here, meta[0], meta[1], here.name))
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(files):
            if name.endswith(".tgz"):
                meta = _package_chart(here / name)
                if meta:
                    found.append(_Found(here / name, meta[0], meta[1], meta[0]))
    return found


@dataclass
class ChartStore:
    """Finds charts; fetches into the cache only when `fetch` is on."""

    dirs: list[Path]
    cache: Path | None = None
    fetch: bool = False
    helm: str = "helm"
    # A chart known under another name: a mirrored chart (render --mirror) is the same chart as
    # the one at its source, found there.
    aliases: dict[ChartRef, ChartRef] = field(default_factory=dict)
    _indexed: list[_Found] | None = field(default=None, init=False, repr=False)
    _failed: dict[ChartRef, str] = field(default_factory=dict, init=False, repr=False)

    def _charts(self) -> list[_Found]:
        if self._indexed is None:
            roots = [*self.dirs, *([self.cache] if self.cache and self.cache.exists() else [])]
            self._indexed = [f for root in roots for f in _index(root)]
        return self._indexed

    def _match(self, ref: ChartRef) -> Path | None:
        for found in self._charts():
            if ref.git:
                if self.cache and _git_folder(self.cache, ref) == found.path:
                    return found.path
                continue
            if (found.name, found.version) == (ref.name, ref.version):
                return found.path
        if ref.git:  # a folder given with --chart-dir: by its name, the one its tag names first
            named = [f for f in self._charts() if f.folder == ref.name and f.path.is_dir()]
            named = named or [f for f in self._charts() if f.name == ref.name and f.path.is_dir()]
            tagged = [f for f in named if f.version == tag_version(ref.version)]
            if tagged or named:
                return (tagged or named)[0].path
        return None

    def find(self, ref: ChartRef) -> Path | str:
        """The chart's folder or package, or what was tried (for the message)."""
        if ref in self.aliases:  # at its source first, then as the mirror names it
            original = self.find(self.aliases[ref])
            if isinstance(original, Path):
                return original
        found = self._match(ref)
        if found is not None:
            return found
        where = ", ".join(str(d) for d in self.dirs) or "no --chart-dir"
        tried = f"looked in {where}" + (f" and the cache {self.cache}" if self.cache else "")
        if not self.fetch or self.cache is None:
            return tried + "; fetching is off (--offline)" if self.cache else tried
        if ref not in self._failed:
            self._failed[ref] = self._fetch(ref)
            self._indexed = None
        found = self._match(ref)
        return found if found is not None else f"{tried}; fetching failed: {self._failed[ref]}"

    def _fetch(self, ref: ChartRef) -> str:
        assert self.cache is not None
        if ref.git:
            return _git_fetch(self.cache, ref)
        if ref.source.startswith("oci://"):
            return helm_pull(self.helm, [f"{ref.source}/{ref.name}", "--version", ref.version], self.cache)
        return helm_pull(self.helm, [ref.name, "--repo", ref.source, "--version", ref.version], self.cache)


def _git_folder(cache: Path, ref: ChartRef) -> Path:
    digest = hashlib.sha256(ref.source.encode()).hexdigest()[:16]
    return cache / "git" / digest / ref.version / posixpath.basename(ref.path or "chart")


def _git_fetch(cache: Path, ref: ChartRef) -> str:
    """A shallow clone of the ref; the chart folder copied into the cache (dependencies as the
    repository holds them)."""
    target = _git_folder(cache, ref)
    with tempfile.TemporaryDirectory(prefix="govstack-gen-git-") as tmp:
        clone = Path(tmp) / "repo"
        steps = [["git", "init", "-q", str(clone)],
                 ["git", "-C", str(clone), "fetch", "-q", "--depth", "1", ref.source, ref.version],
                 ["git", "-C", str(clone), "checkout", "-q", "FETCH_HEAD"]]
        for step in steps:
            try:
                result = subprocess.run(step, capture_output=True, check=False, timeout=GIT_TIMEOUT_S,
                                        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
            except subprocess.TimeoutExpired:
                return f"git took longer than {GIT_TIMEOUT_S} s"
            if result.returncode != 0:
                return result.stderr.decode("utf-8", "replace").strip() or f"git exit status {result.returncode}"
        source = clone / (ref.path or "")
        if not (source / "Chart.yaml").is_file():
            return f"{ref.path} at {ref.version} holds no Chart.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target, dirs_exist_ok=True)
    return ""
