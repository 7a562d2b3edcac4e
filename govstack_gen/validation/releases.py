"""The Helm releases a stage's cluster would install, read from the objects kustomize built for
it, exactly as the engine reads them: Flux HelmReleases (release name, namespace, chart from its
source, values after the stage's patches, valuesFrom, post-renderers) and Argo CD Applications
(release name, destination namespace, Helm source, values; no post-renderer, as Argo CD has
none)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from govstack_gen.resolve import deep_merge
from govstack_gen.spec.types import values_path
from govstack_gen.validation.charts import ChartRef

__all__ = ["Release", "releases"]

Obj = dict[str, Any]
GOVSTACK_BLOCK = "govstack.dev/building-block"


@dataclass(frozen=True)
class Release:
    stage: str
    engine: str  # flux | argocd
    block: str  # building block id (the object's label)
    name: str  # the Helm release name
    namespace: str
    chart: ChartRef
    values: Obj
    patches: tuple[Obj, ...] = ()  # Flux kustomize post-renderer patches, in order
    project: str | None = None  # Argo CD: the Application's AppProject
    values_from: tuple[str, ...] = ()  # values Flux reads from the cluster at install (placeholders here)

    @property
    def label(self) -> str:
        return f"{self.block} ({self.stage})"


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def releases(stage: str, engine: str, objects: list[Obj]) -> Iterator[Release]:
    """The releases among a stage's built objects, sorted by building block (an object that two
    of the stage's folders build, as Argo CD's app of apps and the block's own, counts once)."""
    found = {(r.block, r.name, r.namespace): r for r in (_flux(stage, objects) if engine == "flux" else _argo(stage, objects))}
    yield from (found[key] for key in sorted(found))


def _flux(stage: str, objects: list[Obj]) -> Iterator[Release]:
    sources = {(str(o.get("kind")), str(_meta(o).get("namespace")), str(_meta(o).get("name"))): o for o in objects
               if str(o.get("apiVersion", "")).startswith("source.toolkit.fluxcd.io/")}
    for obj in objects:
        if obj.get("kind") != "HelmRelease" or not str(obj.get("apiVersion", "")).startswith("helm.toolkit.fluxcd.io/"):
            continue
        meta, spec = _meta(obj), obj.get("spec") or {}
        namespace = str(meta.get("namespace", "default"))
        target = spec.get("targetNamespace") or namespace
        # helm-controller's name: releaseName, else [targetNamespace-]name.
        name = spec.get("releaseName") or (f"{spec['targetNamespace']}-{meta.get('name')}" if spec.get("targetNamespace")
                                           else str(meta.get("name")))
        chart = _flux_chart(spec, namespace, sources)
        if chart is None:
            continue
        values = copy.deepcopy(spec.get("values") or {})
        placeholders = []
        for item in spec.get("valuesFrom") or []:
            # Read from a ConfigMap or Secret in the cluster at install time: a placeholder that
            # names it stands in, so a chart that ignores the key is still seen to ignore it.
            if isinstance(item, dict) and item.get("targetPath"):
                placeholder = f"{item.get('kind')}/{item.get('name')}:{item.get('valuesKey', 'values.yaml')}"
                _set(values, values_path(str(item["targetPath"])), placeholder)
                placeholders.append(str(item["targetPath"]))
        patches = tuple(p for r in spec.get("postRenderers") or [] for p in ((r.get("kustomize") or {}).get("patches") or []))
        yield Release(stage, "flux", str(meta.get("labels", {}).get(GOVSTACK_BLOCK, meta.get("name"))), str(name), str(target),
                      chart, values, patches, values_from=tuple(placeholders))


def _flux_chart(spec: Obj, namespace: str, sources: dict[tuple[str, str, str], Obj]) -> ChartRef | None:
    if isinstance(spec.get("chartRef"), dict):
        ref = spec["chartRef"]
        source = sources.get((str(ref.get("kind")), str(ref.get("namespace") or namespace), str(ref.get("name"))))
        if source is None:
            return None
        url = str(source["spec"].get("url", ""))
        tag = (source["spec"].get("ref") or {}).get("tag") or (source["spec"].get("ref") or {}).get("digest") or ""
        registry, _, name = url.rpartition("/")
        return ChartRef(registry, name, str(tag))
    chart = ((spec.get("chart") or {}).get("spec")) or {}
    ref = chart.get("sourceRef") or {}
    source = sources.get((str(ref.get("kind")), str(ref.get("namespace") or namespace), str(ref.get("name"))))
    if source is None:
        return None
    url = str(source["spec"].get("url", ""))
    if source.get("kind") == "GitRepository":
        git_ref = source["spec"].get("ref") or {}
        version = git_ref.get("commit") or git_ref.get("tag") or git_ref.get("semver") or git_ref.get("branch") or ""
        path = str(chart.get("chart", "")).removeprefix("./")
        return ChartRef(url, path.rstrip("/").rsplit("/", 1)[-1], str(version), path)
    return ChartRef(url, str(chart.get("chart", "")), str(chart.get("version", "")))


def _argo(stage: str, objects: list[Obj]) -> Iterator[Release]:
    for obj in objects:
        if obj.get("kind") != "Application" or not str(obj.get("apiVersion", "")).startswith("argoproj.io/"):
            continue
        meta, spec = _meta(obj), obj.get("spec") or {}
        source = spec.get("source") or {}
        helm = source.get("helm")
        if not isinstance(helm, dict) and not source.get("chart"):
            continue  # a plain folder of manifests (the platform, the root): no chart
        helm = helm or {}
        values = _argo_values(helm)
        url = str(source.get("repoURL", ""))
        if source.get("chart"):
            registry = url if "://" in url else f"oci://{url}"  # Argo CD names OCI registries without the scheme
            chart = ChartRef(registry, str(source["chart"]), str(source.get("targetRevision", "")))
        else:
            path = str(source.get("path", "")).rstrip("/")
            chart = ChartRef(url, path.rsplit("/", 1)[-1], str(source.get("targetRevision", "")), path)
        destination = spec.get("destination") or {}
        name = helm.get("releaseName") or meta.get("name")
        block = str(meta.get("labels", {}).get(GOVSTACK_BLOCK, meta.get("name")))
        yield Release(stage, "argocd", block, str(name), str(destination.get("namespace", "default")), chart, values,
                      project=str(spec.get("project", "default")))


def _argo_values(helm: Obj) -> Obj:
    """valuesObject over values (a YAML string), as Argo CD merges them."""
    from ruamel.yaml import YAML

    values: Obj = {}
    if isinstance(helm.get("values"), str):
        loaded = YAML(typ="safe").load(helm["values"])
        values = loaded if isinstance(loaded, dict) else {}
    if isinstance(helm.get("valuesObject"), dict):
        values = deep_merge(values, helm["valuesObject"])
    return values


def _set(values: Obj, path: list[str], value: Any) -> None:
    node = values
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value
