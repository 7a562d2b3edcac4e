"""`govstack-gen diff`: the objects a spec change adds, changes and removes, per building block
and stage, destructive ones flagged first; against a folder or a git ref."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from govstack_gen.cli import main
from govstack_gen.review.changes import compare
from govstack_gen.review.report import markdown_report
from govstack_gen.review.tree import StageObjects, merge_patch, stage_objects
from helpers import CASES, EXAMPLES, read_tree

K3S = EXAMPLES / "sandbox-k3s" / "environment.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An environment repository with the k3s example rendered and committed."""
    root = tmp_path / "env"
    root.mkdir()
    shutil.copy(K3S, root / "environment.yaml")
    assert main(["render", str(root / "environment.yaml")]) == 0
    git = ["git", "-C", str(root), "-c", "user.email=ci@example.org", "-c", "user.name=ci"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "render"], check=True)
    return root


def edit_spec(repo: Path, *replacements: tuple[str, str]) -> None:
    spec = repo / "environment.yaml"
    text = spec.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    spec.write_text(text)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["diff", *argv, "--format", "json"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def test_no_changes_after_a_render(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["diff", str(repo / "environment.yaml"), "--exit-code"]) == 0
    assert capsys.readouterr().out == f"no changes against {repo}\n"


MESSAGING = '    catalog: {name: messaging, version: "3.6.0"}\n'
REMOVE_VOLUME = (MESSAGING, MESSAGING + "    volumes: [{name: data, $patch: delete}]  # the entry's data volume\n")
BUMP_KAFKA = (MESSAGING, MESSAGING + '    chart: {version: "26.3.0"}\n')


def test_a_spec_change_shows_added_changed_removed_and_destructive(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_spec(repo, BUMP_KAFKA, REMOVE_VOLUME, ("replicaCount: 2", "replicaCount: 3"))
    before = read_tree(repo)
    report = run_json(capsys, str(repo / "environment.yaml"))
    assert read_tree(repo) == before  # diff writes nothing
    assert report["summary"] == "0 added, 4 changed, 2 removed (2 destructive)"
    assert [(c["kind"], c["name"], c["stages"], c["destructive"]) for c in report["destructive"]] == [
        ("PersistentVolume", "sandbox.messaging.data", ["dev", "prod"],
         "removed: the volume is never pruned: it stays with its data, no longer managed"),
        ("PersistentVolumeClaim", "messaging-data", ["dev", "prod"],
         "removed: the claim is never pruned: it stays bound to the data, no longer managed"),
    ]
    changed = {(c["kind"], c["name"], tuple(c["stages"])): c["fields"] for c in report["changes"] if c["action"] == "changed"}
    assert changed[("OCIRepository", "messaging", ("dev",))] == [{"path": "spec.ref.tag", "old": "26.2.0", "new": "26.3.0"}]
    assert changed[("HelmRelease", "digital-registries", ("prod",))] == [
        {"path": "spec.values.baserow-backend-wsgi.replicaCount", "old": 2, "new": 3}]
    assert {c["buildingBlock"] for c in report["changes"]} == {"messaging", "digital-registries"}


def test_against_a_git_ref_equals_against_the_folder(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_spec(repo, BUMP_KAFKA, REMOVE_VOLUME)
    by_folder = run_json(capsys, str(repo / "environment.yaml"))
    by_ref = run_json(capsys, str(repo / "environment.yaml"), "--against", "main")
    assert by_ref["against"] == f"{repo} at main"
    assert by_ref["changes"] == by_folder["changes"] and by_ref["changes"]
    capsys.readouterr()
    assert main(["diff", str(repo / "environment.yaml"), "--against", "no-such-branch"]) == 2
    assert "--against: 'no-such-branch' is neither a folder nor a commit, branch or tag" in capsys.readouterr().err


def test_a_renamed_release_is_destructive(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """information-mediator has an explicit namespace (from its catalog entry): renaming it keeps
    the namespace, and Flux would uninstall the old release and install the new one."""
    spec = repo / "environment.yaml"
    spec.write_text(spec.read_text().replace("- id: information-mediator", "- id: mediator"))
    report = run_json(capsys, str(repo / "environment.yaml"))
    reasons = {(c["kind"], c["name"]): c["destructive"] for c in report["destructive"]}
    assert reasons[("HelmRelease", "information-mediator")] == (
        "renamed to mediator: Flux uninstalls information-mediator and installs mediator")
    assert reasons[("Kustomization", "information-mediator")] == "removed: Flux prunes everything it applied"
    added = {(c["kind"], c["name"]) for c in report["changes"] if c["action"] == "added"}
    assert {("HelmRelease", "mediator"), ("Kustomization", "mediator")} <= added


def test_markdown_fits_a_pull_request_comment(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_spec(repo, REMOVE_VOLUME, ("replicaCount: 2", "replicaCount: 3"))
    capsys.readouterr()
    assert main(["diff", str(repo / "environment.yaml"), "--format", "markdown", "--exit-code"]) == 1
    full = capsys.readouterr().out
    assert full.startswith("### govstack-gen diff: 0 added, 3 changed, 2 removed (2 destructive)\n")
    assert "> [!CAUTION]\n> **2 destructive changes**" in full and "<details><summary><b>messaging</b>" in full
    old, new = stage_objects(read_tree(repo)), _render(repo)
    short = markdown_report(compare(old, new), ["dev", "prod"], "x", [], limit=700)
    assert len(short) <= 700 and "> **2 destructive changes**" in short
    assert short.endswith("_... cut at 700 characters: run `govstack-gen diff` for the rest._\n")
    assert short.count("```") % 2 == 0


def _render(repo: Path) -> StageObjects:
    from govstack_gen.pipeline import load_and_resolve
    from govstack_gen.render.targets import render_files

    return stage_objects(render_files(load_and_resolve(repo / "environment.yaml")))


def _stage(*objects: dict[str, Any]) -> StageObjects:
    from govstack_gen.review.tree import identity

    return StageObjects({"dev": {identity(o): o for o in objects}})


def _obj(kind: str, spec: dict[str, Any], api: str = "v1") -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": "x", "namespace": "ns"}, "spec": spec}


@pytest.mark.parametrize(("kind", "old", "new", "reason"), [
    ("PersistentVolumeClaim", {"storageClassName": "a"}, {"storageClassName": "b"},
     "spec.storageClassName cannot change after creation: the apply fails (delete and recreate, migrating data)"),
    ("PersistentVolumeClaim", {"resources": {"requests": {"storage": "8Gi"}}}, {"resources": {"requests": {"storage": "4Gi"}}},
     "a claim cannot shrink"),
    ("PersistentVolumeClaim", {"resources": {"requests": {"storage": "4Gi"}}}, {"resources": {"requests": {"storage": "8Gi"}}}, ""),
    ("PersistentVolume", {"local": {"path": "/a"}}, {"local": {"path": "/b"}},
     "spec cannot change after creation: the apply fails (delete and recreate, migrating data)"),
    ("PersistentVolume", {"capacity": {"storage": "1Gi"}}, {"capacity": {"storage": "2Gi"}}, ""),
    ("HelmRelease", {"releaseName": "a"}, {"releaseName": "b"},
     "spec.releaseName changed: Helm uninstalls the release and installs it again"),
    ("HelmRelease", {"values": {"a": 1}}, {"values": {"a": 2}}, ""),
])
def test_immutable_fields(kind: str, old: dict[str, Any], new: dict[str, Any], reason: str) -> None:
    [change] = compare(_stage(_obj(kind, old)), _stage(_obj(kind, new)))
    assert change.action == "changed" and change.destructive == reason


def test_removing_a_building_block_under_argo_cd(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its Application goes (no resources finalizer: Argo CD orphans what it synced, as the
    README says) and its namespace and data stay: each is listed as destructive, with what
    really happens."""
    spec = tmp_path / "environment.yaml"
    spec.write_text((CASES / "valid" / "sandbox-k3s-argocd" / "environment.yaml").read_text())
    before = tmp_path / "before"
    assert main(["render", str(spec), "--output", str(before)]) == 0
    text = spec.read_text()
    start = text.index("  - id: monitoring\n")
    spec.write_text(text[:start] + text[text.index("\n\n", start) + 1:])
    report = run_json(capsys, str(spec), "--against", str(before))
    destructive = {(c["kind"], c["name"]): c["destructive"] for c in report["destructive"]}
    assert destructive[("Application", "monitoring")] == (
        "removed: Argo CD deletes the Application; what it synced stays, no longer synced or pruned")
    assert destructive[("Namespace", "observability")].startswith("removed: the namespace is never pruned")
    assert not any(kind == "Kustomization" for kind, _ in destructive)


def test_merge_patch_follows_rfc_7386() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2]}, {"a": {"b": None, "d": 3}, "l": [3]}) == {
        "a": {"c": 2, "d": 3}, "l": [3]}


def test_text_report_lists_destructive_changes_first(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_spec(repo, REMOVE_VOLUME)
    capsys.readouterr()
    assert main(["diff", str(repo / "environment.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "DESTRUCTIVE (2):",
        "  ! PersistentVolume sandbox.messaging.data [all stages]: removed: the volume is never pruned: it stays with its data, "
        "no longer managed",
        "  ! PersistentVolumeClaim messaging/messaging-data [all stages]: removed: the claim is never pruned: it stays bound to "
        "the data, no longer managed",
    ]
    assert "      spec.values.controller.persistence: {\"existingClaim\": \"messaging-data\"} -> (none)" in lines
    assert lines[-1] == f"0 added, 2 changed, 2 removed (2 destructive) against {repo}"


def test_a_database_leaving_rds_is_destructive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES / "valid" / "eks-rds"
    root = tmp_path / "env"
    shutil.copytree(case, root, ignore=shutil.ignore_patterns("expected"))
    assert main(["render", str(root / "environment.yaml"), "--output", str(root / "tree")]) == 0
    spec = root / "environment.yaml"
    text = spec.read_text().replace("      placement: rds\n", "      placement: in-chart\n")
    # Its controller goes too: the spec refuses settings of an add-on nothing uses (E619).
    text = re.sub(r"  # The ACK RDS controller.*\n  rdsController:\n    roleArn: .*\n", "", text)
    assert "rdsController" not in text and "placement: rds" not in text
    spec.write_text(text)
    capsys.readouterr()
    assert main(["diff", str(spec), "--against", str(root / "tree"), "--format", "json"]) == 0
    reasons = {(c["kind"], c["name"]): c["destructive"] for c in json.loads(capsys.readouterr().out)["destructive"]}
    assert reasons[("DBInstance", "digital-registries")] == (
        "removed: the RDS instance and its data stay in AWS, unmanaged: delete them there or put it back")


def test_an_rds_engine_change_is_destructive() -> None:
    instance: dict[str, Any] = {"apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBInstance",
                "metadata": {"name": "db", "namespace": "registry", "labels": {"govstack.dev/building-block": "registry"}},
                "spec": {"engine": "postgres", "engineVersion": "15", "dbInstanceIdentifier": "env-dev-registry"}}
    changed = {**instance, "spec": {**instance["spec"], "engine": "mysql", "engineVersion": "8.0"}}
    [change] = compare(_stage(instance), _stage(changed))
    assert change.destructive == "spec.engine changed: RDS cannot change it in place (a new instance, the data migrated by hand)"
