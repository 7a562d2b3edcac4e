"""The kustomize components in overlays/ work on every rendered example."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from govstack_gen.pipeline import load_and_resolve
from govstack_gen.render.targets import render_files
from helpers import EXAMPLES, ROOT, kustomize_build, validate_object, write_tree

SPECS = sorted(EXAMPLES.glob("*/environment.yaml"))


def wrap(tmp: Path, target: Path, component: str) -> Path:
    """A kustomization applying one shipped component to a rendered folder (kustomize wants relative paths)."""
    folder = tmp / f"with-{component}"
    folder.mkdir()
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {os.path.relpath(target, folder)}\n"
        f"components:\n  - {os.path.relpath(ROOT / 'overlays' / component, folder)}\n"
    )
    return folder


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_components_apply_to_every_example(spec: Path, tmp_path: Path) -> None:
    env = load_and_resolve(spec)
    write_tree(tmp_path / "tree", render_files(env))
    stage = env.stages[0].name
    built = kustomize_build(wrap(tmp_path, tmp_path / "tree" / "clusters" / stage, "maintenance"))
    flux = [o for o in built if o["kind"] == "Kustomization"]
    assert flux and all(o["spec"]["suspend"] is True for o in flux)
    release = kustomize_build(wrap(tmp_path, tmp_path / "tree" / "building-blocks" / stage / env.blocks[0].id, "drift-detection"))
    helm = [o for o in release if o["kind"] == "HelmRelease"]
    assert helm and all(o["spec"]["driftDetection"] == {"mode": "enabled"} for o in helm)
    assert not [e for o in built + release for e in validate_object(o)]
