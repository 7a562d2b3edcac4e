"""What `validate --charts` finds in every example and valid case, against ../shared/charts.

Two oracles: the shipped catalog passes in both examples (each defect the chart checks found in
it when they came, measured by hand with `helm template`, is fixed, with nothing switched off),
and the whole report of each spec recorded in tests/cases/charts/<case>.txt, so that any change
of what is found shows as a diff to review. The reports were written from `govstack-gen validate
SPEC --charts --chart-dir ../shared/charts --offline` and read line by line; every case uses
real charts, so what they still hold is the claims Argo CD trees cannot give a class (E725
warnings).
"""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from expectations import Expectations
from govstack_gen.cli import main
from helpers import CASES, EXAMPLES, ROOT, SHARED

SPECS = sorted(EXAMPLES.glob("*/environment.yaml")) + sorted((CASES / "valid").glob("*/environment.yaml"))
RECORDED = CASES / "charts"


@pytest.fixture(autouse=True)
def tools(chart_tools: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # reports name the spec as given: relative, the same on every machine


def case_name(spec: Path) -> str:
    return f"{spec.parent.parent.name}-{spec.parent.name}"


def report(spec: Path, capsys: pytest.CaptureFixture[str], fmt: str = "text") -> tuple[int, str]:
    capsys.readouterr()
    code = main(["validate", str(spec.relative_to(ROOT)), "--crds", "../shared/crds", "--charts", "--chart-dir", "../shared/charts",
                 "--offline", "--format", fmt])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("spec", SPECS, ids=case_name)
def test_recorded_report(spec: Path, capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory,
                         expectations: Expectations) -> None:
    code, text = report(spec, capsys)
    text = text.replace(str(tmp_path_factory.getbasetemp() / "cache"), "CACHE")
    expected = expectations.text(RECORDED / f"{case_name(spec)}.txt", text)
    diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "recorded", "now"))
    assert not diff, diff
    assert code == (1 if "error[" in text else 0)


def findings(spec: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    _, text = report(spec, capsys, "json")
    doc = json.loads(text)
    return list(doc["errors"]) + list(doc["warnings"])


def has(found: list[dict[str, Any]], code: str, *parts: str) -> bool:
    return any(d["code"] == code and all(p in d["message"] for p in parts) for d in found)


@pytest.mark.parametrize("spec", [EXAMPLES / "sandbox-k3s" / "environment.yaml", EXAMPLES / "sandbox-eks" / "environment.yaml"],
                         ids=lambda p: p.parent.name)
def test_the_catalog_passes_in_both_examples(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What the chart checks found in the shipped catalog when they came (kinds the Role forbids,
    pods Pod Security rejects, claims of the charts' own, routes to Services that do not exist,
    quotas below the requests, images Bitnami no longer serves, values no template reads) is
    fixed: every release renders and meets every rule, with nothing switched off."""
    code, text = report(spec, capsys)
    assert code == 0 and text.endswith("; 0 errors, 0 warnings\n"), text
    assert "chart releases rendered and checked" in text


def test_argo_cd_variants_pass_with_the_claims_they_cannot_class(capsys: pytest.CaptureFixture[str]) -> None:
    """Argo CD has no post-renderer: the information mediator's nine claims, which its chart
    creates without a class, bind by their volumes' claimRef alone, and validate says so."""
    for case in ("sandbox-k3s-argocd", "sandbox-eks-argocd"):
        found = findings(CASES / "valid" / case / "environment.yaml", capsys)
        assert [d["code"] for d in found] == ["E725"] * 9
        assert all(d["severity"] == "warning" and d["message"].startswith("information-mediator: the chart creates "
                                                                              "PersistentVolumeClaim/pvc-sandbox-xroad-") for d in found)


def test_baserow_on_rds_reads_the_external_database(capsys: pytest.CaptureFixture[str]) -> None:
    """On RDS the Baserow chart takes its database from the backend's environment: every key
    govstack-gen writes for it is read, and the environment's own entry (the sandbox's USCT
    chart, at Pod Security baseline with its reason) meets every rule too."""
    found = findings(CASES / "valid" / "eks-rds" / "environment.yaml", capsys)
    assert found == []



def consent_spec(tmp_path: Path, block: str) -> Path:
    """The k3s example running the tests' consent entry (the real consentbb chart) instead of
    using a consent service outside the cluster."""
    text = (EXAMPLES / "sandbox-k3s" / "environment.yaml").read_text()
    external = ("  - id: consent\n    catalog: {name: consent}\n    url: https://consent.sandbox.example.org\n"
                "    cidrs: [198.51.100.16/28]\n")
    assert external in text
    text = text.replace(external, "").replace("\nexternalServices:\n", f"\n{block}externalServices:\n", 1)
    text = text.replace("\nbuildingBlocks:\n", "\ncatalogs: [catalog]\nbuildingBlocks:\n", 1)
    shutil.copytree(CASES / "catalogs" / "consent", tmp_path / "catalog", dirs_exist_ok=True)
    spec = tmp_path / "environment.yaml"
    spec.write_text(text)
    return spec


def consent_findings(spec: Path, capsys: pytest.CaptureFixture[str], *chart_dirs: Path) -> list[dict[str, Any]]:
    capsys.readouterr()
    dirs = [arg for d in (*chart_dirs, SHARED / "charts") for arg in ("--chart-dir", str(d))]
    main(["validate", str(spec), "--crds", "../shared/crds", "--charts", *dirs, "--offline", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    return list(doc["errors"]) + list(doc["warnings"])


def test_consent_cannot_ship_for_one_defect_of_its_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The GovStack Consent chart (consentbb 2023.12.4) renders its MongoDB container's
    `resources` key twice: helm-controller reads every chart's output with kustomize (its origin
    labels are a post-renderer of every HelmRelease), which refuses that, so Flux cannot install
    it, and validate says so. That is all: the same chart with that one line
    removed meets every rule with the entry (Pod Security at its baseline, quota, both claims on
    the static volumes, routes, and each credential, passed from its Secret, read by the chart)."""
    block = "  - id: consent\n    catalog: {name: consent}\n"
    found = consent_findings(consent_spec(tmp_path, block), capsys)
    assert [d["code"] for d in found] == ["E722"]
    assert "post-renderer" in found[0]["message"] and 'mapping key "resources" already defined' in found[0]["message"]
    fixed = tmp_path / "fixed"
    shutil.copytree(SHARED / "charts" / "consentbb-2023.12.4" / "consentbb", fixed / "consentbb", ignore=shutil.ignore_patterns("*.tgz"))
    mongo = fixed / "consentbb" / "templates" / "mongo" / "deploy.yaml"
    text = mongo.read_text()
    assert text.count("          resources: {}\n") == 1
    mongo.write_text(text.replace("          resources: {}\n", ""))
    assert consent_findings(consent_spec(tmp_path, block), capsys, fixed) == []
    # Each key the Secret hands over is seen to be read: one the chart does not read is E728.
    unread = block + "    secrets:\n      - name: consent-credentials\n        valuesFrom: {api.configuration.Nothing: admin-password}\n"
    found = consent_findings(consent_spec(tmp_path, unread), capsys, fixed)
    assert [(d["code"], "api.configuration.Nothing" in d["message"]) for d in found] == [("E728", True)]

def test_shared_charts_are_there() -> None:
    assert (SHARED / "charts" / "SOURCES.md").is_file()


def test_the_readme_catalog_table_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's table of shipped entries says what each entry is: a row per deployable entry
    naming its chart and version, every volume, its Pod Security level, and the repository of
    every image its chart renders (from `bom --charts` of both examples, which run every entry)."""
    from govstack_gen.catalog import load_catalog
    from govstack_gen.spec.model import ExternalSpec, GitChart

    readme = (ROOT / "README.md").read_text()
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in readme.splitlines() if line.startswith("| ")}
    images: dict[str, set[str]] = {}
    for example in ("sandbox-k3s", "sandbox-eks"):
        capsys.readouterr()
        assert main(["bom", f"examples/{example}/environment.yaml", "--charts", "--chart-dir", "../shared/charts", "--offline",
                     "--format", "json"]) == 0
        for image in json.loads(capsys.readouterr().out)["images"]:
            images.setdefault(image["buildingBlock"], set()).add(image["image"].rsplit("@", 1)[0].rsplit(":", 1)[0])
    entries = [e for e in load_catalog().latest() if not isinstance(e.spec, ExternalSpec)]
    assert {f"{e.name} {e.version}" for e in entries} == {key for key in rows if key[0].islower() and " " in key
                                                           and key.split()[-1][0].isdigit()}
    for entry in entries:
        row = rows[f"{entry.name} {entry.version}"]
        assert not isinstance(entry.spec, ExternalSpec)
        chart = entry.spec.chart
        assert (f"`{chart.path}` at commit {chart.version[:8]}" if isinstance(chart, GitChart)
                else f"{chart.name} {chart.version}") in row, entry.name
        for volume in entry.spec.volumes:
            assert volume.name in row, (entry.name, volume.name)
        assert f"| {entry.spec.pod_security.level}" in row, entry.name
        assert images.get(entry.name) and all(image in row for image in images[entry.name]), (entry.name, images.get(entry.name))
