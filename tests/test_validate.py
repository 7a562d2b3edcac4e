"""`govstack-gen validate`: passes on every example and valid case, and finds what is broken in
a committed tree (a wrong CR field, an unknown core field, a broken overlay, a lost safety
property) with located messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from govstack_gen.cli import main
from govstack_gen.validation.check import validate_tree
from govstack_gen.validation.schemas import SchemaSet, load_crds
from helpers import CASES, CRDS, EXAMPLES, kustomize_command

SPECS = sorted(EXAMPLES.glob("*/environment.yaml")) + sorted((CASES / "valid").glob("*/environment.yaml"))
MINIMAL = CASES / "valid" / "minimal" / "environment.yaml"


@pytest.fixture(autouse=True)
def kustomize(monkeypatch: pytest.MonkeyPatch) -> None:
    command = kustomize_command()
    if command[1] == "build":
        monkeypatch.setenv("KUSTOMIZE", command[0])


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_every_example_is_valid(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(spec), "--crds", str(CRDS), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] and report["errors"] == [] and report["warnings"] == []
    assert report["unchecked"] == [] and report["objects"] > 10
    engine_kinds = {"Application", "AppProject"} if "engine: argocd" in spec.read_text() else {"HelmRelease", "Kustomization"}
    assert {"Namespace", "NetworkPolicy", *engine_kinds} <= set(report["kinds"])


def render_minimal(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    assert main(["render", str(MINIMAL), "-o", str(tree)]) == 0
    return tree


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_broken_tree_is_reported_with_locations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = render_minimal(tmp_path)
    release = tree / "building-blocks/base/cache/helmrelease-cache.yaml"
    namespace = tree / "platform/base/cache/namespace-cache.yaml"
    edit(release, "  interval:", "  intervall: 5m\n  interval:")
    edit(namespace, "  labels:", "  lables: {}\n  labels:")
    edit(namespace, "enforce: restricted", "enforce: privileged")
    capsys.readouterr()
    assert main(["validate", str(MINIMAL), "--tree", str(tree), "--crds", str(CRDS)]) == 1
    out = capsys.readouterr().out.replace(str(tree), "TREE")
    lines = [line for line in out.splitlines() if not line.startswith("  ")]
    assert lines == [
        "error[E702]: TREE/building-blocks/base/cache/helmrelease-cache.yaml:"
        f"{line_of(release, 'intervall')}:3: $.spec.intervall: "
        "unknown field 'intervall' (did you mean 'interval'?)",
        f"error[E701]: TREE/platform/base/cache/namespace-cache.yaml:{line_of(namespace, 'lables')}:3:"
        " $.metadata.lables: unknown field 'lables' (did you mean 'labels'?)",
        f"error[E705]: TREE/platform/base/cache/namespace-cache.yaml:{line_of(namespace, 'enforce:')}"
        ":41: $.metadata.labels.pod-security.kubernetes.io/enforce: pod security must enforce restricted (baseline at least)",
        "invalid: 19 objects (12 kinds) from 3 overlays; 19 checked against Kubernetes 1.35 and CRDs; 3 errors, 0 warnings",
        "for more about an error, try `govstack-gen explain E702` (or another code above)",
    ]
    assert "hint: HelmRelease cache/cache does not match its CRD" in out


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_broken_overlay_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = render_minimal(tmp_path)
    with (tree / "building-blocks/dev/cache/kustomization.yaml").open("a") as handle:
        handle.write("patches:\n- path: missing-patch.yaml\n")
    assert main(["validate", str(MINIMAL), "--tree", str(tree), "--crds", str(CRDS), "--format", "json"]) == 1
    [error] = json.loads(capsys.readouterr().out)["errors"]
    assert error["code"] == "E704" and error["file"] == f"{tree}/building-blocks/dev/cache/kustomization.yaml"
    assert "missing-patch.yaml" in error["message"] and "kustomize build failed" in error["message"]


def test_kubernetes_version_matters() -> None:
    """A field newer than the chosen version is unknown: volumeAttributesClassName (1.29+)."""
    from govstack_gen.validation.check import _schema_errors

    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "x", "namespace": "cache"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                      "volumeAttributesClassName": "fast"}}
    assert _schema_errors(claim, SchemaSet("1.35")) == []
    assert _schema_errors(claim, SchemaSet("v1.25.3")) == [
        (("spec", "volumeAttributesClassName"), "unknown field 'volumeAttributesClassName'")]


def test_unknown_kinds_are_warnings_until_crds_are_given(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(MINIMAL)]) == 0
    out = capsys.readouterr().out
    assert "warning[E703]" in out and "1 HelmRelease object (helm.toolkit.fluxcd.io/v2) of this overlay not checked: no schema" in out


def test_flux_components_in_the_repository_are_picked_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(MINIMAL.parent, repo, ignore=shutil.ignore_patterns("expected"))
    components = repo / "clusters" / "dev" / "flux-system" / "gotk-components.yaml"
    components.parent.mkdir(parents=True)
    deployment = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: source-controller\n"
    components.write_text("".join(p.read_text() + deployment for p in sorted((CRDS / "flux").glob("*.yaml"))))
    assert main(["validate", str(repo / "environment.yaml"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["unchecked"] == []


def test_bad_arguments_and_missing_tools(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["validate", str(MINIMAL), "--kube-version", "1.12"]) == 2
    assert "--kube-version: no schemas for Kubernetes 1.12: this installation has 1.25 to" in capsys.readouterr().err
    assert main(["validate", str(MINIMAL), "--crds", str(tmp_path / "nope")]) == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n")
    assert main(["validate", str(MINIMAL), "--crds", str(broken)]) == 1
    assert "error[E706]" in capsys.readouterr().out
    monkeypatch.setenv("KUSTOMIZE", str(tmp_path / "no-kustomize"))
    assert main(["validate", str(MINIMAL)]) == 1
    assert "error[E707]" in capsys.readouterr().out


def test_invalid_spec_is_reported_in_text(capsys: pytest.CaptureFixture[str]) -> None:
    spec = CASES / "invalid" / "dependency-cycle" / "environment.yaml"
    assert main(["validate", str(spec)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("error[E304]: environment.yaml:")
    assert lines[-2:] == ["invalid: 1 error before anything could be rendered and checked",
                          "for more about this error, try `govstack-gen explain E304`"]


def test_invalid_spec_is_reported_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    spec = CASES / "invalid" / "dependency-cycle" / "environment.yaml"
    assert main(["validate", str(spec), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["valid"] and report["objects"] == 0
    assert {e["code"] for e in report["errors"]} == {"E304"}


def test_thousand_objects_are_checked_with_compiled_schemas() -> None:
    """Each schema is compiled once: the validators are reused across objects (the speed
    figure itself is measured in bench/bench_validate.py)."""
    schemas = SchemaSet(crds=load_crds(sorted(CRDS.rglob("*.yaml")))[0])
    first = schemas.validator(("v1", "Namespace"))
    assert first is schemas.validator(("v1", "Namespace"))
    assert schemas.validator(("example.com/v1", "Widget")) is None


def test_validate_tree_api_deduplicates_stages(tmp_path: Path) -> None:
    from govstack_gen.pipeline import load_and_resolve
    from govstack_gen.render import layout
    from govstack_gen.render.targets import render_files

    spec = EXAMPLES / "sandbox-k3s" / "environment.yaml"
    env = load_and_resolve(spec)
    stages = {s.name: layout.stage_entry_points(s.name, [b.id for b in env.blocks]) for s in env.stages}
    schemas = SchemaSet(crds=load_crds(sorted(CRDS.rglob("*.yaml")))[0])
    result = validate_tree(render_files(env), stages, schemas, kustomize_command())
    assert not result.diagnostics
    assert len(result.overlays) == sum(len(f) for f in stages.values())
    # Namespaces are the same in every stage: each is checked once.
    assert result.kinds["Namespace"] == len(env.blocks)
