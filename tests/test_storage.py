"""Storage: the properties every rendered volume has, and the refusal to move or drop data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from govstack_gen.cli import main
from govstack_gen.pipeline import load_and_resolve
from govstack_gen.spec.storage import is_sensitive
from govstack_gen.write_plan import MANIFEST
from helpers import CASES, EXAMPLES, read_tree

SPECS = sorted(EXAMPLES.glob("*/environment.yaml")) + sorted((CASES / "valid").glob("*/environment.yaml"))
K3S = EXAMPLES / "sandbox-k3s" / "environment.yaml"


def objects(root: Path, kind: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted(root.rglob(f"{kind.lower()}-*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if doc.get("kind") == kind and "labels" in doc["metadata"]:  # patches carry no labels
            found.append(doc)
    return found


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_every_volume_is_platform_owned_and_pre_bound(spec: Path, tmp_path: Path) -> None:
    assert main(["render", str(spec), "--output", str(tmp_path)]) == 0
    pvs = {o["metadata"]["name"]: o for o in objects(tmp_path, "PersistentVolume")}
    claims = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects(tmp_path, "PersistentVolumeClaim")}
    argo = "engine: argocd" in spec.read_text()
    guard = ({"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"} if argo
             else {"kustomize.toolkit.fluxcd.io/prune": "disabled"})
    # The claims the charts create themselves (chartClaim, in the spec or its catalog entries).
    env = load_and_resolve(spec)
    resolved = env.blocks
    by_chart = {(b.namespace, v.claim) for b in resolved for v in b.volumes if v.chart_created}
    # Every static volume of the spec has its PV (and a case without any checks that none is
    # rendered), Traefik's ACME volume among them where the add-ons layer renders Traefik.
    acme = {env.acme.volume_name} if env.acme is not None and env.acme.volume_name else set()
    assert set(pvs) == {v.volume_name for b in resolved for v in b.volumes if v.volume_name} | acme
    for name, pv in pvs.items():
        spec_ = pv["spec"]
        assert spec_["persistentVolumeReclaimPolicy"] == "Retain"
        assert set(spec_["claimRef"]) == {"namespace", "name"}  # no uid: binds on first apply
        ref = (spec_["claimRef"]["namespace"], spec_["claimRef"]["name"])
        if ref in by_chart:  # pre-bound to the chart's claim, which govstack-gen does not render
            assert ref not in claims
            continue
        claim = claims[ref]
        assert claim["spec"]["volumeName"] == name
        assert claim["spec"]["storageClassName"] == spec_["storageClassName"]
        assert pv["metadata"]["annotations"] == guard
        if "local" in spec_:
            terms = spec_["nodeAffinity"]["required"]["nodeSelectorTerms"]
            assert len(terms) == 1 and terms[0]["matchExpressions"]
        path = (spec_.get("local") or spec_.get("hostPath") or spec_.get("nfs") or {}).get("path")
        if path is not None:
            assert path.startswith("/") and ".." not in path.split("/") and not is_sensitive(path)
    for claim in claims.values():
        assert claim["metadata"]["annotations"] == guard
    locations = [json.dumps({k: v for k, v in pv["spec"].items() if k in ("local", "hostPath", "nfs", "csi")}, sort_keys=True)
                 for pv in pvs.values()]
    assert len(locations) == len(set(locations))
    # PVs live in the layers the platform's reconciler applies only: the platform layer, and the
    # add-ons layer for Traefik's (no building block's reconciler can delete or repoint one).
    for path in tmp_path.rglob("persistentvolume-*.yaml"):
        assert path.relative_to(tmp_path).parts[0] == ("addons" if path.name.endswith(".acme.yaml") else "platform")


def test_sensitive_paths() -> None:
    for path in ("/", "/etc", "/etc/x", "/var", "/var/lib", "/var/lib/kubelet/pods", "/run", "/srv/docker.sock"):
        assert is_sensitive(path), path
    for path in ("/srv/k8s-data", "/data/govstack", "/mnt/zfs/main", "/var/lib/govstack"):
        assert not is_sensitive(path), path


def test_values_key_receives_the_claim(tmp_path: Path) -> None:
    assert main(["render", str(K3S), "--output", str(tmp_path)]) == 0
    release = yaml.safe_load((tmp_path / "building-blocks/base/cache/helmrelease-cache.yaml").read_text())
    assert release["spec"]["values"]["master"]["persistence"]["existingClaim"] == "cache-data"


def rename_block(text: str, old: str, new: str) -> str:
    return (text.replace(f"id: {old}\n", f"id: {new}\n").replace(f"[{old}, ", f"[{new}, ")
            .replace(f", {old}]", f", {new}]").replace(f"      {old}:\n", f"      {new}:\n"))


def test_renaming_a_block_with_data_is_refused_until_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["render", str(K3S), "--output", str(out)]) == 0
    before = read_tree(out)
    spec = tmp_path / "environment.yaml"
    spec.write_text(rename_block(K3S.read_text(), "messaging", "events"))
    capsys.readouterr()
    assert main(["render", str(spec), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error[E516]" in err
    assert "claim messaging/messaging-data of 'messaging' (local storage-id=main-01:/srv/k8s-data/sandbox/messaging/data)" in err
    assert "is no longer rendered" in err and "--allow-data-move" in err
    assert read_tree(out) == before  # nothing written
    assert main(["render", str(spec), "--output", str(out), "--check"]) == 1
    assert main(["render", str(spec), "--output", str(out), "--allow-data-move"]) == 0
    assert (out / "platform/base/events/persistentvolume-sandbox.events.data.yaml").exists()
    assert not (out / "platform/base/messaging").exists()
    data = json.loads((out / MANIFEST).read_text())["data"]
    assert "events/events-data" in data and "messaging/messaging-data" not in data
    assert main(["render", str(spec), "--output", str(out)]) == 0  # the new state is the reference now


def test_rename_keeping_the_directory_is_named_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["render", str(K3S), "--output", str(out)]) == 0
    spec = tmp_path / "environment.yaml"
    text = rename_block(K3S.read_text(), "messaging", "events")
    keep = '    catalog: {name: messaging, version: "3.6.0"}\n'
    spec.write_text(text.replace(keep, keep + "    volumes: [{name: data, path: sandbox/messaging/data}]\n"))
    capsys.readouterr()
    assert main(["render", str(spec), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "claim messaging/messaging-data of 'messaging' becomes events/events-data (renamed?)" in err
    assert main(["render", str(spec), "--output", str(out), "--allow-data-move"]) == 0
    pv = yaml.safe_load((out / "platform/base/events/persistentvolume-sandbox.events.data.yaml").read_text())
    assert pv["spec"]["local"]["path"] == "/srv/k8s-data/sandbox/messaging/data"  # same data, new objects


def render_then_change(tmp_path: Path, old: str, new: str) -> tuple[Path, Path]:
    """Render the k3s example, then write a spec with one change: (output, new spec)."""
    out = tmp_path / "out"
    assert main(["render", str(K3S), "--output", str(out)]) == 0
    spec = tmp_path / "environment.yaml"
    spec.write_text(K3S.read_text().replace(old, new))
    return out, spec


def test_moving_a_volume_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, spec = render_then_change(tmp_path, "root: /srv/k8s-data", "root: /srv/other-disk")
    capsys.readouterr()
    assert main(["render", str(spec), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert ("claim cache/cache-data would move from local storage-id=main-01:/srv/k8s-data/sandbox/cache/data "
            "to local storage-id=main-01:/srv/other-disk/sandbox/cache/data") in err
    # cache, the registries' database, Redis and files, messaging, monitoring, the information
    # mediator's nine, and Traefik's acme.json
    assert err.count("error[E516]") == 16
    assert ("claim kube-system/traefik-acme would move from local storage-id=main-01:"
            "/srv/k8s-data/sandbox/kube-system/acme to local storage-id=main-01:/srv/other-disk/sandbox/kube-system/acme") in err


def test_changing_a_bound_claim_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = "    catalog: {name: cache}\n"
    out, spec = render_then_change(tmp_path, cache, cache + "    volumes: [{name: data, size: 4Gi}]\n")
    capsys.readouterr()
    assert main(["render", str(spec), "--output", str(out)]) == 1
    assert "claim cache/cache-data would change from (2Gi ReadWriteOnce sandbox.main) to (4Gi ReadWriteOnce sandbox.main)" \
        in capsys.readouterr().err


def test_unrelated_changes_pass(tmp_path: Path) -> None:
    out, spec = render_then_change(tmp_path, "interval: 10m", "interval: 15m")
    assert main(["render", str(spec), "--output", str(out)]) == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "a-b", "a.b"]), min_size=1, max_size=4), min_size=2, max_size=12))
def test_nested_directories_are_found_as_by_comparing_every_pair(paths: list[list[str]]) -> None:
    """The sorted sweep finds exactly the pairs a comparison of every pair finds (the check stays
    linear for thousands of volumes)."""
    from types import SimpleNamespace

    from govstack_gen.spec.storage import _nested

    located = [SimpleNamespace(path="/srv/" + "/".join(p)) for p in paths]

    def overlap(a: str, b: str) -> bool:
        return (a + "/").startswith(b + "/") or (b + "/").startswith(a + "/")

    expected = {(i, j) for i in range(len(located)) for j in range(i + 1, len(located)) if overlap(located[i].path, located[j].path)}
    assert set(_nested(located, list(range(len(located))))) == expected  # type: ignore[arg-type]
