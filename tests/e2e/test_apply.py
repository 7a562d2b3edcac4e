"""Every rendered tree, applied for real: a kube-apiserver admits every object of every stage
of every example and valid case, for both engines, applied as the engine would apply it (with
Flux: the platform layer with the controller's rights, each building block impersonating its
own reconciler; with Argo CD: the app of apps and the platform layer), and a second apply
changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ROOT, APIServer

from govstack_gen.cli import main
from govstack_gen.pipeline import load_and_resolve
from govstack_gen.render.addons import stage_releases
from govstack_gen.render.targets import render_files

pytestmark = pytest.mark.e2e

SPECS = sorted((ROOT / "examples").glob("*/environment.yaml")) + sorted((ROOT / "tests/cases/valid").glob("*/environment.yaml"))
CASES = [(spec, stage.name) for spec in SPECS for stage in load_and_resolve(spec).stages]
# Apply order within one layer, as kustomize-controller sorts: definitions and namespaces
# first, then cluster-wide objects, then what lives in namespaces.
FIRST = ["CustomResourceDefinition", "Namespace", "StorageClass", "CSIDriver", "ClusterRole", "ClusterRoleBinding",
         "PersistentVolume", "ServiceAccount", "Role", "RoleBinding"]


def kustomize(directory: Path) -> list[dict[str, Any]]:
    from helpers import kustomize_build

    return kustomize_build(directory)


def ordered(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(objects, key=lambda o: FIRST.index(o["kind"]) if o["kind"] in FIRST else len(FIRST))


def rendered(root: Path) -> dict[str, bytes]:
    """The output tree, without the spec beside it."""
    from helpers import read_tree

    return {rel: content for rel, content in read_tree(root).items() if rel != "environment.yaml"}


def render(spec: Path, root: Path) -> None:
    from helpers import write_tree

    write_tree(root, render_files(load_and_resolve(spec)))


def apply_stage(api: APIServer, spec: Path, stage: str, root: Path) -> list[dict[str, Any]]:
    """Apply a stage as its engine would; returns every object applied."""
    env = load_and_resolve(spec)
    if env.gitops.engine == "argocd":
        return _apply_argocd_stage(api, env, stage, root)
    api.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}])  # flux bootstrap's
    entry = ordered(kustomize(root / f"clusters/{stage}"))
    addons = _addons(root, stage)
    platform = ordered(kustomize(root / f"platform/{stage}"))
    api.apply(entry)
    if addons:  # the add-ons layer first, as the platform's dependsOn has it
        assert {"name": "addons"} in next(o for o in entry if o["metadata"]["name"] == "platform")["spec"]["dependsOn"]
        api.apply(addons)
    api.apply(platform)
    applied = entry + addons + platform
    by_id = {b.id: b for b in env.blocks}
    for block_id in _dependency_order(env):
        objects = ordered(kustomize(root / f"building-blocks/{stage}/{block_id}"))
        # Its SOPS Secrets, as the secrets layer applies them once decrypted (same reconciler).
        objects = [_decrypted(ref.name, by_id[block_id].namespace) for ref in by_id[block_id].spec.secrets
                   if ref.source == "sops"] + objects
        # The building block's Kustomization impersonates its own reconciler: the apply proves
        # the Role we render grants enough, and nothing more is needed.
        api.kubectl("apply", "--server-side", "--field-manager=govstack-gen-e2e",
                    f"--as=system:serviceaccount:flux-system:bb-{block_id}", "-f", "-",
                    stdin="\n---\n".join(yaml.safe_dump(o) for o in objects))
        assert all(o["metadata"]["namespace"] == by_id[block_id].namespace for o in objects)
        applied += objects
    return applied


def _decrypted(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "stringData": {"password": "e2e-only"}}


def _apply_argocd_stage(api: APIServer, env: Any, stage: str, root: Path) -> list[dict[str, Any]]:
    """As Argo CD would: the root app of apps (its AppProjects, Applications and the health check),
    then the platform Application's objects; each Application's chart is not rendered here (no
    repo-server), the Applications themselves are what the tree holds."""
    api.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}])  # Argo CD's installation
    entry = ordered(kustomize(root / f"clusters/{stage}"))  # includes every building block's overlay
    addons = _addons(root, stage)
    platform = ordered(kustomize(root / f"platform/{stage}"))
    api.apply(entry)
    api.apply(addons)
    api.apply(platform)
    apps = {o["metadata"]["name"]: o for o in entry if o["kind"] == "Application"}
    # The add-ons folder's Application, and one per chart of the add-ons layer (Traefik where it
    # is ours, cert-manager, the EFS CSI driver): each an Application of the add-ons project.
    charts = {name for name, app in apps.items() if app["spec"]["project"] == "addons" and "chart" in app["spec"]["source"]}
    assert charts == {r.name for r in stage_releases(env, stage)}
    layers = {"addons", *charts} if addons else set()
    assert set(apps) == {"root", "platform", *layers, *(b.id for b in env.blocks)}
    if addons:  # the add-ons' waves come before the platform's
        platform_wave = int(apps["platform"]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        assert all(int(apps[name]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) < platform_wave for name in layers)
    return entry + addons + platform


def _addons(root: Path, stage: str) -> list[dict[str, Any]]:
    """The stage's add-ons layer (Traefik's configuration, the add-ons' namespaces, the ACME
    volume; with Flux the add-ons' sources and HelmReleases, the stage's own among them)."""
    folder = root / "addons" / stage
    return ordered(kustomize(folder)) if folder.is_dir() else []


def _dependency_order(env: Any) -> list[str]:
    done: list[str] = []
    pending = {b.id: set(b.depends_on) for b in env.blocks}
    while pending:
        ready = sorted(b for b, deps in pending.items() if deps <= set(done))
        done += ready
        for b in ready:
            del pending[b]
    return done


@pytest.mark.parametrize(("spec", "stage"), CASES, ids=[f"{s.parent.name}-{st}" for s, st in CASES])
def test_every_object_is_admitted_and_a_second_apply_changes_nothing(cluster: APIServer, spec: Path, stage: str,
                                                                     tmp_path: Path) -> None:
    root = tmp_path / "tree"
    render(spec, root)
    applied = apply_stage(cluster, spec, stage, root)
    assert len(applied) > 10
    kinds = {o["kind"] for o in applied}
    engine = {"Application", "AppProject"} if load_and_resolve(spec).gitops.engine == "argocd" else {"HelmRelease", "Kustomization"}
    assert {"Namespace", "NetworkPolicy", "RoleBinding", *engine} <= kinds
    again = cluster.diff(applied)
    assert again.returncode == 0, f"a second apply would change:\n{again.stdout}{again.stderr}"
    names = cluster.kubectl("get", "-f", "-", "-o", "name", stdin="\n---\n".join(yaml.safe_dump(o) for o in applied))
    assert len(names.stdout.split()) == len(applied)  # every object is there


def test_a_re_render_applies_cleanly_or_is_refused_by_our_checks(cluster: APIServer, tmp_path: Path) -> None:
    # A folder of its own: the API server of this test keeps its logs under tmp_path/apiserver,
    # and writes them while the test runs (a tree compared byte for byte must not include them).
    root = tmp_path / "env"
    root.mkdir()
    spec = root / "environment.yaml"
    spec.write_text((ROOT / "examples/sandbox-k3s/environment.yaml").read_text())
    assert root not in cluster.workdir.parents
    assert main(["render", str(spec)]) == 0
    apply_stage(cluster, spec, "dev", root)
    # A chart upgrade and new values: applied in place.
    messaging = '    catalog: {name: messaging, version: "3.6.0"}\n'
    spec.write_text(spec.read_text().replace(messaging, messaging + '    chart: {version: "26.3.0"}\n'
                                             "    values: {controller: {replicaCount: 2}}\n"))
    assert main(["render", str(spec)]) == 0
    applied = apply_stage(cluster, spec, "dev", root)
    assert cluster.diff(applied).returncode == 0
    source = cluster.kubectl("get", "ocirepository", "messaging", "-n", "messaging", "-o", "jsonpath={.spec.ref.tag}")
    assert source.stdout == "26.3.0"
    # What the API server would refuse (a bound claim resized on a local volume) or what would
    # orphan data (a building block renamed): our own checks refuse both, and write nothing.
    text = spec.read_text()
    resized = text.replace(messaging, messaging + "    volumes: [{name: data, size: 10Gi}]\n")
    renamed = text.replace("- id: messaging\n", "- id: events\n").replace("      messaging:\n", "      events:\n")
    for changed in (resized, renamed):
        before = rendered(root)
        spec.write_text(changed)
        assert main(["render", str(spec)]) == 1
        assert rendered(root) == before


def test_the_harness_catches_what_only_the_api_server_knows(cluster: APIServer) -> None:
    """A HelmRelease with both chart and chartRef passes the offline schema (CEL rules are
    not evaluated offline) and is rejected by the API server."""
    from govstack_gen.validation.check import _schema_errors
    from govstack_gen.validation.schemas import SchemaSet, load_crds

    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "broken"}}])
    release = {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "x", "namespace": "broken"},
               "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "x"},
                        "chart": {"spec": {"chart": "x", "sourceRef": {"kind": "HelmRepository", "name": "x"}}}}}
    schemas = SchemaSet(crds=load_crds(sorted((ROOT.parent / "shared/crds/flux").glob("*.yaml")))[0])
    assert _schema_errors(release, schemas) == []
    result = cluster.apply([release], check=False)
    assert result.returncode != 0 and "either chart or chartRef must be set" in result.stderr
    # And an immutable field: a PersistentVolume's source cannot change once created.
    volume: dict[str, Any] = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-x"},
              "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/srv/a"}}}
    cluster.apply([volume])
    volume["spec"]["hostPath"] = {"path": "/srv/b"}
    result = cluster.apply([volume], check=False)
    assert result.returncode != 0 and "immutable" in result.stderr


def test_a_tree_with_an_object_the_api_server_rejects_fails(cluster: APIServer, tmp_path: Path) -> None:
    """The same path as the per-example test, on a tree with one broken object: it fails."""
    spec = ROOT / "tests/cases/valid/minimal/environment.yaml"
    root = tmp_path / "tree"
    render(spec, root)
    release = root / "building-blocks/base/cache/helmrelease-cache.yaml"
    release.write_text(release.read_text().replace("\nspec:\n", "\nspec:\n  chartRef: {kind: HelmChart, name: cache}\n", 1))
    with pytest.raises(AssertionError, match="either chart or chartRef must be set"):
        apply_stage(cluster, spec, "dev", root)
