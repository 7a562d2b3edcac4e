"""Flux and Argo CD renders of the same spec mean the same: the same namespaces, RBAC, storage,
routes and policies, and per building block and stage the same chart, version and values.

The Argo CD variants of the examples live in tests/cases/valid/<example>-argocd/ (golden trees
like any case); this module also keeps each variant equal to its example with the engine changed
and SOPS-encrypted Secrets turned into external ones (Argo CD does not decrypt SOPS).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from expectations import Expectations
from govstack_gen.pipeline import load_and_resolve
from govstack_gen.render.targets import render_files
from helpers import CASES, EXAMPLES, kustomize_build, write_tree

NAMES = sorted(p.parent.name for p in EXAMPLES.glob("*/environment.yaml"))
ENGINE_ANNOTATIONS = ("kustomize.toolkit.fluxcd.io/prune", "argocd.argoproj.io/sync-options")


def argocd_variant(example: str) -> str:
    text = (EXAMPLES / example / "environment.yaml").read_text()
    if re.search(r"^  engine: flux$", text, re.M):
        text = re.sub(r"^  engine: flux$", "  engine: argocd", text, count=1, flags=re.M)
    else:
        text = text.replace("\ngitops:\n", "\ngitops:\n  engine: argocd\n", 1)
    text = text.replace("source: sops}", "source: external}")
    return (f"# Generated from examples/{example}/environment.yaml with gitops.engine: argocd and SOPS secrets "
            "as external ones (tests/test_parity.py keeps it so).\n" + text)


@pytest.mark.parametrize("example", NAMES)
def test_every_example_has_an_argocd_variant(example: str, expectations: Expectations) -> None:
    variant = CASES / "valid" / f"{example}-argocd" / "environment.yaml"
    assert expectations.text(variant, argocd_variant(example)) == argocd_variant(example), "run scripts/update-expectations"


def chart_of(release: dict[str, Any], objects: list[dict[str, Any]]) -> tuple[str, str]:
    """(chart, version) a Flux HelmRelease installs: from its chart template, or the OCIRepository
    its chartRef names (the registry path ends with the chart's name)."""
    if "chartRef" not in release["spec"]:
        return release["spec"]["chart"]["spec"]["chart"], release["spec"]["chart"]["spec"]["version"]
    [source] = [o for o in objects if o["kind"] == "OCIRepository" and o["metadata"]["name"] == release["spec"]["chartRef"]["name"]]
    return source["spec"]["url"].rsplit("/", 1)[1], source["spec"]["ref"]["tag"]


def build(spec: Path, root: Path) -> tuple[Any, dict[str, dict[str, list[dict[str, Any]]]]]:
    """stage -> folder kind ('platform' or a building block) -> built objects."""
    env = load_and_resolve(spec)
    write_tree(root, render_files(env))
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for stage in env.stages:
        out[stage.name] = {"platform": kustomize_build(root / f"platform/{stage.name}"),
                           "addons": kustomize_build(root / f"addons/{stage.name}"),
                           "entry": kustomize_build(root / f"clusters/{stage.name}")}
        for block in env.blocks:
            out[stage.name][block.id] = kustomize_build(root / f"building-blocks/{stage.name}/{block.id}")
    return env, out


def platform_objects(objects: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The platform layer without what only Flux needs (its reconcilers' accounts and roles) and
    without the engines' own keep-the-data annotations."""
    out = {}
    for obj in objects:
        meta = obj["metadata"]
        if meta["name"].startswith("bb-") or meta["name"] == "flux-reconciler":
            continue
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in ENGINE_ANNOTATIONS}
        meta = {**meta, "annotations": annotations} if annotations else {k: v for k, v in meta.items() if k != "annotations"}
        out[(obj["kind"], meta.get("namespace", ""), meta["name"])] = {**obj, "metadata": meta}
    return out


def flux_release(objects: list[dict[str, Any]]) -> tuple[str, str, str, dict[str, Any]]:
    """(source, chart, version, values) of a Flux building block."""
    [release] = [o for o in objects if o["kind"] == "HelmRelease"]
    [source] = [o for o in objects if o["kind"] in ("HelmRepository", "OCIRepository", "GitRepository")]
    values = release["spec"].get("values", {})
    if source["kind"] == "OCIRepository":
        repo, _, chart = source["spec"]["url"].removeprefix("oci://").rpartition("/")
        return repo, chart, source["spec"]["ref"]["tag"], values
    if source["kind"] == "GitRepository":
        ref = source["spec"]["ref"]
        return source["spec"]["url"], release["spec"]["chart"]["spec"]["chart"], ref.get("commit") or ref["tag"], values
    chart = release["spec"]["chart"]["spec"]
    return source["spec"]["url"], chart["chart"], chart["version"], values


def argo_release(objects: list[dict[str, Any]]) -> tuple[str, str, str, dict[str, Any]]:
    [app] = [o for o in objects if o["kind"] == "Application"]
    source = app["spec"]["source"]
    return source["repoURL"], source.get("chart") or source["path"], source["targetRevision"], source["helm"]["valuesObject"]


@pytest.mark.parametrize("example", NAMES)
def test_flux_and_argocd_renders_mean_the_same(example: str, tmp_path: Path) -> None:
    env, flux = build(EXAMPLES / example / "environment.yaml", tmp_path / "flux")
    _, argo = build(CASES / "valid" / f"{example}-argocd" / "environment.yaml", tmp_path / "argo")
    assert flux.keys() == argo.keys()
    for stage in flux:
        flux_platform, argo_platform = platform_objects(flux[stage]["platform"]), platform_objects(argo[stage]["platform"])
        assert flux_platform.keys() == argo_platform.keys()
        for key in flux_platform:
            assert flux_platform[key] == argo_platform[key], (stage, key)
        kinds = {k[0] for k in flux_platform}
        assert {"Namespace", "RoleBinding", "NetworkPolicy", "ResourceQuota", "PersistentVolumeClaim", "IngressRoute"} <= kinds
        for block in env.blocks:
            assert flux_release(flux[stage][block.id]) == argo_release(argo[stage][block.id]), (stage, block.id)
        # The add-ons layer: the same objects (Traefik's configuration, the add-ons' namespaces,
        # Traefik's volume), and each chart installed with the same chart, version and values.
        flux_addons, argo_addons = platform_objects(flux[stage]["addons"]), platform_objects(argo[stage]["addons"])
        assert {k for k in flux_addons if k[0] not in ("HelmRepository", "OCIRepository", "HelmRelease")} == argo_addons.keys()
        assert all(flux_addons[key] == argo_addons[key] for key in argo_addons), stage
        flux_charts = {o["metadata"]["name"]: o for o in flux[stage]["addons"] if o["kind"] == "HelmRelease"}
        argo_charts = {o["metadata"]["name"]: o for o in argo[stage]["entry"] if o["kind"] == "Application"
                       and o["spec"]["project"] == "addons" and "chart" in o["spec"]["source"]}
        # The oracle: what the spec asks to install (Traefik where it is not k3s's, cert-manager
        # for tlsSecret, the EFS driver for an efs backend, the Karpenter controller asked for), none
        # provided in these examples.
        spec = yaml.safe_load((EXAMPLES / example / "environment.yaml").read_text())
        ingress, backends = spec.get("ingress") or {}, (spec.get("storage") or {}).get("backends") or []
        expected = ({"traefik"} if ingress and not (spec["platform"]["type"] == "k3s" and ingress.get("namespace", "kube-system")
                                                    == "kube-system") else set())
        expected |= {"cert-manager"} if ingress.get("certManager") else set()
        expected |= {"aws-efs-csi-driver"} if any(b["type"] == "efs" for b in backends) else set()
        expected |= {"karpenter"} if ((spec["platform"].get("nodePools") or {}).get("worker", {}).get("karpenter") or {}).get(
            "controller") else set()
        assert flux_charts.keys() == argo_charts.keys() == expected, stage
        for name in expected:
            release, app = flux_charts[name], argo_charts[name]
            source = app["spec"]["source"]
            assert chart_of(release, flux[stage]["addons"]) == (source["chart"], source["targetRevision"])
            assert release["spec"]["values"] == app["spec"]["source"]["helm"]["valuesObject"]
            assert release["spec"]["targetNamespace"] == app["spec"]["destination"]["namespace"]
