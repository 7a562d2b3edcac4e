"""A release's chart rendered as the engine installs it: `helm template` with the release's name,
namespace, values and the run's Kubernetes version, then, for Flux, its kustomize post-renderer
(the release's patches and the labels helm-controller adds to every object), run by the same
kustomize binary `validate` builds the overlays with.

Renders are cached on disk by what decides their output (the chart's content digest, the values,
the release name and namespace, the engine, the patches, the Kubernetes version, the helm version), so a
re-run only renders what changed; releases render in parallel, bounded by the cores.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govstack_gen.validation.charts import ChartStore
from govstack_gen.validation.helm import helm_template
from govstack_gen.validation.releases import Release

__all__ = ["Rendered", "Renderer", "chart_digest", "default_render_cache"]

Obj = dict[str, Any]
KUSTOMIZE_TIMEOUT_S = 120
CACHE_FORMAT = "1"  # bump when what a cached render holds changes


@dataclass(frozen=True)
class Rendered:
    release: Release
    objects: tuple[Obj, ...] = ()
    chart: Path | None = None  # where the chart was found
    missing: str = ""  # the chart was not found: what was tried
    error: str = ""  # helm or the post-renderer failed: their message


def default_render_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "govstack-gen" / "renders"


def chart_digest(path: Path) -> str:
    """The chart's content: every file under its folder (names and bytes), or the package."""
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
        return digest.hexdigest()
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            file = Path(folder) / name
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() if not file.is_symlink() or file.exists() else b"")
    return digest.hexdigest()


def _load_all(text: str) -> list[Obj]:
    """A chart's manifests read as Kubernetes reads them (sigs.k8s.io/yaml, not strict, as Argo
    CD and the API server do): of a key written twice, the last value counts."""
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import SafeConstructor

    class LastKeyWins(SafeConstructor):
        def check_mapping_key(self, *_: Any) -> bool:
            return True  # the mapping takes the value again, replacing the earlier one

    yaml = YAML(typ="safe")
    yaml.Constructor = LastKeyWins
    return [doc for doc in yaml.load_all(text) if isinstance(doc, dict)]


@dataclass
class Renderer:
    store: ChartStore
    helm: str
    helm_version: str
    kustomize: tuple[str, ...]
    kube_version: str
    cache: Path | None = None  # where renders are kept; None: not kept
    jobs: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    _digests: dict[Path, str] = field(default_factory=dict, init=False, repr=False)

    def render_all(self, releases: Iterable[Release]) -> list[Rendered]:
        found = [(release, self.store.find(release.chart)) for release in releases]  # sequential: fetching writes the cache
        for _, chart in found:
            if isinstance(chart, Path) and chart not in self._digests:
                self._digests[chart] = chart_digest(chart)
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            return list(pool.map(lambda pair: self._render(*pair), found))

    def render_with(self, release: Release, chart: Path, values: Obj, *, again: bool = False) -> Rendered:
        """The same release with other values (for probing which values the chart reads);
        again=True is a second, independent render of them (kept apart in the cache), to see
        what a chart's random values make differ."""
        return self._render(dataclasses.replace(release, values=values), chart, "again" if again else "")

    def _key(self, release: Release, chart: Path, salt: str = "") -> str:
        material = json.dumps([CACHE_FORMAT, self._digests.get(chart) or chart_digest(chart), release.name, release.namespace,
                               release.engine, release.values, release.patches, self.kube_version, self.helm_version, salt], sort_keys=True)
        return hashlib.sha256(material.encode()).hexdigest()

    def _render(self, release: Release, chart: Path | str, salt: str = "") -> Rendered:
        if isinstance(chart, str):
            return Rendered(release, missing=chart)
        key = self._key(release, chart, salt)
        cached = self._cached(key)
        if cached is not None:
            return Rendered(release, tuple(cached.get("objects", [])), chart, error=str(cached.get("error", "")))
        objects, error = self._template(release, chart)
        self._keep(key, {"objects": objects, "error": error})
        return Rendered(release, tuple(objects), chart, error=error)

    def _template(self, release: Release, chart: Path) -> tuple[list[Obj], str]:
        from ruamel.yaml.error import YAMLError

        template = helm_template(self.helm, chart, release.name, release.namespace, release.values, self.kube_version)
        if template.error:
            return [], template.error
        try:
            # helm-controller reads every chart's output with kustomize (its origin labels are a
            # post-renderer of every HelmRelease, patches or not), which refuses YAML that helm and
            # Argo CD accept, such as a key written twice.
            if release.engine == "flux" and template.manifest.strip():
                return _post_render(self.kustomize, template.manifest, release.patches), ""
            return _load_all(template.manifest), ""
        except PostRenderFailed as exc:
            return [], f"post-renderer: {exc}"
        except YAMLError as exc:
            return [], f"its output is not YAML: {' '.join(str(exc).split())}"

    def _cached(self, key: str) -> Obj | None:
        if self.cache is None:
            return None
        try:
            loaded = json.loads((self.cache / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return loaded if isinstance(loaded, dict) else None

    def _keep(self, key: str, entry: Obj) -> None:
        if self.cache is None:
            return
        try:
            self.cache.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.cache, suffix=".tmp", delete=False, encoding="utf-8") as handle:
                json.dump(entry, handle)
            os.replace(handle.name, self.cache / f"{key}.json")
        except OSError:
            pass  # a cache that cannot be written only costs time


class PostRenderFailed(RuntimeError):
    pass


def _post_render(kustomize: tuple[str, ...], manifest: str, patches: tuple[Obj, ...]) -> list[Obj]:
    """Flux's kustomize post-renderer: the chart's manifests as the one resource of a
    kustomization with the release's patches."""
    from govstack_gen.yaml_io import dumps

    with tempfile.TemporaryDirectory(prefix="govstack-gen-postrender-") as tmp:
        root = Path(tmp)
        (root / "helm-output.yaml").write_text(manifest, encoding="utf-8")
        (root / "kustomization.yaml").write_text(dumps({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                                        "resources": ["helm-output.yaml"], "patches": list(patches)}),
                                                 encoding="utf-8")
        result = subprocess.run([*kustomize, str(root)], capture_output=True, check=False, timeout=KUSTOMIZE_TIMEOUT_S)
        if result.returncode != 0:
            raise PostRenderFailed(result.stderr.decode("utf-8", "replace").strip().replace(str(root) + os.sep, ""))
    return _load_all(result.stdout.decode("utf-8", "replace"))

