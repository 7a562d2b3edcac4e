"""The rendered trees, checked with the real tools: kustomize builds every entry point, every
built object passes its schema (CRDs from ../shared/crds, Kubernetes OpenAPI for core kinds),
and what kustomize builds for a stage is what the spec says for that stage.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest

from govstack_gen.pipeline import load_and_resolve
from govstack_gen.render.targets import render_files
from govstack_gen.resolve import Resolved
from helpers import CASES, EXAMPLES, kustomize_build, validate_object, write_tree

SPECS = sorted(EXAMPLES.glob("*/environment.yaml")) + sorted((CASES / "valid").glob("*/environment.yaml"))
FLUX = [s for s in SPECS if load_and_resolve(s).gitops.engine == "flux"]
ARGO = [s for s in SPECS if load_and_resolve(s).gitops.engine == "argocd"]
KEEP = {"flux": ("kustomize.toolkit.fluxcd.io/prune", "disabled"),
        "argocd": ("argocd.argoproj.io/sync-options", "Prune=false,Delete=false")}



def merged(base: Any, over: Any) -> Any:
    """The merge Helm does of a values file over another, written here from its documentation
    (not the product's deep_merge): mappings merge key by key, any other value replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{key: merged(base[key], value) if key in base else value for key, value in over.items()}}
    return over

def spec_id(spec: Path) -> str:
    return spec.parent.name


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, tuple[Resolved, Path]]:
    out = {}
    for spec in SPECS:
        root = tmp_path_factory.mktemp(spec_id(spec))
        env = load_and_resolve(spec)
        write_tree(root, render_files(env))
        out[spec] = (env, root)
    return out


@functools.cache
def _build_cached(folder: Path) -> list[dict[str, Any]]:
    return kustomize_build(folder)


def build(folder: Path) -> list[dict[str, Any]]:
    """kustomize build, once per folder per test run (tests may change what they get)."""
    return copy.deepcopy(_build_cached(folder))


def with_addons(env: Resolved) -> bool:
    """The add-ons layer is there for a Traefik the spec does not call provided, an efs backend
    (its CSI driver), a database on RDS (the ACK controller), cert-manager issuing tlsSecret or
    the Karpenter controller asked for."""
    traefik = env.ingress is not None and not env.ingress.traefik.provided
    efs = any(b.type == "efs" for b in env.backends) and not env.efs_csi_driver.provided
    rds = any(b.spec.database is not None and b.spec.database.placement == "rds" for b in env.blocks)
    certificates = env.ingress is not None and env.ingress.tls_secret is not None and env.ingress.cert_manager is not None
    karpenter = env.node_pools.worker.karpenter is not None and env.node_pools.worker.karpenter.controller is not None
    return traefik or efs or rds or certificates or karpenter


def entry_points(env: Resolved) -> list[str]:
    """Every folder a Flux Kustomization (or an operator) builds."""
    dirs = []
    for stage in env.stages:
        dirs += [f"clusters/{stage.name}", *([f"addons/{stage.name}"] if with_addons(env) else []), f"platform/{stage.name}"]
        dirs += [f"building-blocks/{stage.name}/{block.id}" for block in env.blocks]
    return dirs


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_kustomize_builds_and_objects_validate(spec: Path, trees: dict[Path, tuple[Resolved, Path]]) -> None:
    env, root = trees[spec]
    problems = []
    count = 0
    for folder in entry_points(env):
        for obj in build(root / folder):
            count += 1
            problems += [f"{folder}: {obj['kind']}/{obj['metadata']['name']}: {e}" for e in validate_object(obj)]
    assert count > 0
    assert not problems, "\n".join(problems)


def _built(root: Path, folder: str, kind: str) -> dict[str, Any]:
    return next(o for o in build(root / folder) if o["kind"] == kind)


@pytest.mark.parametrize("spec", FLUX, ids=spec_id)
def test_each_stage_gets_its_values_version_and_replicas(spec: Path, trees: dict[Path, tuple[Resolved, Path]]) -> None:
    env, root = trees[spec]
    for stage in env.stages:
        for block in env.blocks:
            delta = stage.deltas[block.id]
            folder = f"building-blocks/{stage.name}/{block.id}"
            objects = {o["kind"]: o for o in build(root / folder)}
            release = objects["HelmRelease"]
            assert release["spec"]["values"] == merged(block.values, delta.values)
            version = delta.version or block.chart.version
            if block.source_kind == "HelmRepository":
                assert release["spec"]["chart"]["spec"]["version"] == version
            else:
                # A git chart pinned to a commit: ref.commit (a 40-digit SHA), a tag otherwise.
                ref = objects[block.source_kind]["spec"]["ref"]
                assert ref == ({"commit": version} if len(version) == 40 else {"tag": version})
            replicas = delta.replicas if delta.replicas is not None else block.replicas
            patches = release["spec"]["postRenderers"][0]["kustomize"]["patches"]
            placed = [p for p in patches if p["target"]["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
                      and "nodeSelector" in p["patch"]]
            assert len(placed) == 3  # every workload kind lands on the worker pool
            scaled = [p for p in patches if "/spec/replicas" in p["patch"]]
            if replicas is None:
                assert not scaled
            else:
                assert [p["target"] for p in scaled] == [{"kind": "Deployment"}]
                assert scaled[0]["patch"].endswith(f"value: {replicas}\n")


@pytest.mark.parametrize("spec", ARGO, ids=spec_id)
def test_argo_applications_get_each_stages_values_and_version(spec: Path, trees: dict[Path, tuple[Resolved, Path]]) -> None:
    env, root = trees[spec]
    for stage in env.stages:
        for block in env.blocks:
            delta = stage.deltas[block.id]
            built = build(root / f"building-blocks/{stage.name}/{block.id}")
            assert sorted(o["kind"] for o in built) == ["AppProject", "Application"]
            [app] = [o for o in built if o["kind"] == "Application"]
            assert app["spec"]["project"] == block.id
            source = app["spec"]["source"]
            assert source["helm"]["valuesObject"] == merged(block.values, delta.values)
            assert source["targetRevision"] == (delta.version or block.chart.version)
            assert app["spec"]["destination"]["namespace"] == block.namespace
            replicas = delta.replicas if delta.replicas is not None else block.replicas
            assert ("govstack.dev/not-applied" in app["metadata"]["annotations"]) == (replicas is not None)


@pytest.mark.parametrize("spec", ARGO, ids=spec_id)
def test_argo_sync_waves_follow_the_dependency_graph(spec: Path, trees: dict[Path, tuple[Resolved, Path]]) -> None:
    env, root = trees[spec]
    for stage in env.stages:
        built = build(root / f"clusters/{stage.name}")
        waves = {(o["kind"], o["metadata"]["name"]): int(o["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", 0))
                 for o in built}
        assert waves[("Application", "platform")] < min(waves[("Application", b.id)] for b in env.blocks)
        assert max(w for (kind, _), w in waves.items() if kind == "AppProject") < waves[("Application", "platform")]
        for block in env.blocks:
            for dependency in block.depends_on:
                assert waves[("Application", dependency)] < waves[("Application", block.id)]
        root_app = next(o for o in built if o["metadata"]["name"] == "root")
        assert root_app["spec"]["source"]["path"].endswith(f"clusters/{stage.name}")
        assert all(o["spec"]["project"] != "default" for o in built if o["kind"] == "Application")


@pytest.mark.parametrize("spec", FLUX, ids=spec_id)
def test_flux_kustomizations_follow_the_dependency_graph(spec: Path, trees: dict[Path, tuple[Resolved, Path]]) -> None:
    env, root = trees[spec]
    for stage in env.stages:
        built = {o["metadata"]["name"]: o for o in build(root / f"clusters/{stage.name}") if o["kind"] == "Kustomization"}
        with_secrets = {b.id for b in env.blocks if any(s.source == "sops" for s in b.spec.secrets)}
        addons = {"addons"} if with_addons(env) else set()
        assert set(built) == {"platform", *addons, *(b.id for b in env.blocks), *(f"{b}-secrets" for b in with_secrets)}
        assert built["platform"]["spec"].get("dependsOn", []) == [{"name": name} for name in sorted(addons)]
        if addons:
            assert built["addons"]["spec"]["path"].endswith(f"/addons/{stage.name}") and "dependsOn" not in built["addons"]["spec"]
            assert built["addons"]["spec"]["serviceAccountName"] == "kustomize-controller"
        for block_id in with_secrets:  # the SOPS files, decrypted by the block's own reconciler only
            secrets = built[f"{block_id}-secrets"]["spec"]
            assert secrets["path"].endswith(f"secrets/{stage.name}/{block_id}") and secrets["decryption"]["provider"] == "sops"
            assert secrets["serviceAccountName"] == f"bb-{block_id}" and secrets["dependsOn"] == [{"name": "platform"}]
        for block in env.blocks:
            spec_ = built[block.id]["spec"]
            assert "decryption" not in spec_
            extra = [f"{block.id}-secrets"] if block.id in with_secrets else []
            assert [d["name"] for d in spec_["dependsOn"]] == ["platform", *block.depends_on, *extra]
            assert spec_["path"].endswith(f"building-blocks/{stage.name}/{block.id}")
            assert spec_["wait"] is True and spec_["prune"] is True
            assert (root / spec_["path"].removeprefix("./").removeprefix(env.gitops.path.strip("./") + "/")).is_dir()


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_every_object_is_labelled_and_every_file_has_the_header(spec: Path, trees: dict[Path, tuple[Resolved, Path]]) -> None:
    env, root = trees[spec]
    for path in sorted(root.rglob("*.yaml")):
        assert path.read_text().startswith("# Generated by govstack-gen from environment.yaml. DO NOT EDIT"), path
    for folder in entry_points(env):
        for obj in build(root / folder):
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "govstack-gen"
            assert labels["govstack.dev/environment"] == env.name
    for stage in env.stages:
        namespaces = {o["metadata"]["name"]: o for o in build(root / f"platform/{stage.name}") if o["kind"] == "Namespace"}
        assert set(namespaces) == {block.namespace for block in env.blocks}
        key, value = KEEP[env.gitops.engine]
        for namespace in namespaces.values():  # never pruned nor deleted: it holds data
            assert namespace["metadata"]["annotations"][key] == value


# -- the oracles themselves catch mistakes ------------------------------------------------------


def test_schema_validation_catches_a_wrong_custom_resource_field(trees: dict[Path, tuple[Resolved, Path]]) -> None:
    env, root = trees[SPECS[0]]
    release = _built(root, f"building-blocks/{env.stages[0].name}/{env.blocks[0].id}", "HelmRelease")
    release["spec"]["chart"]["spec"]["verison"] = "1.0.0"
    release["spec"]["install"]["remediation"]["retries"] = "three"
    errors = validate_object(release)
    assert any("verison" in e for e in errors) and any("three" in e for e in errors), errors


def test_schema_validation_catches_a_wrong_core_field(trees: dict[Path, tuple[Resolved, Path]]) -> None:
    env, root = trees[SPECS[0]]
    namespace = _built(root, f"platform/{env.stages[0].name}", "Namespace")
    namespace["spec"] = {"finalizerz": []}
    assert validate_object(namespace)


def test_kustomize_build_failure_is_reported(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    with pytest.raises(AssertionError, match="kustomize build"):
        kustomize_build(tmp_path)
