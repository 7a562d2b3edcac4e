"""What `validate --charts` finds today in every example and valid case, against ../shared/charts.

Two oracles: the known defects of the shipped catalog, each asserted on its own from what the
charts are known to do (the list the chart-checks issue measured by hand with `helm template`),
and the whole report of each spec recorded in tests/cases/charts/<case>.txt, so that any change
of what is found shows as a diff to review. The recorded reports shrink as the catalog is fixed;
they were written from `govstack-gen validate SPEC --charts --chart-dir ../shared/charts --offline`
and read line by line.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest

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
def test_recorded_report(spec: Path, capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory) -> None:
    code, text = report(spec, capsys)
    text = text.replace(str(tmp_path_factory.getbasetemp() / "cache"), "CACHE")
    expected = (RECORDED / f"{case_name(spec)}.txt").read_text()
    diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "recorded", "now"))
    assert not diff, diff
    assert code == (1 if "error[" in text else 0)


def findings(spec: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    _, text = report(spec, capsys, "json")
    doc = json.loads(text)
    return list(doc["errors"]) + list(doc["warnings"])


def has(found: list[dict[str, Any]], code: str, *parts: str) -> bool:
    return any(d["code"] == code and all(p in d["message"] for p in parts) for d in found)


def test_the_known_defects_of_the_k3s_example(capsys: pytest.CaptureFixture[str]) -> None:
    found = findings(EXAMPLES / "sandbox-k3s" / "environment.yaml", capsys)
    # Kinds the helm-reconciler Role forbids: Baserow's NetworkPolicies, Joget's PV and ClusterRoleBinding.
    for policy in ("digital-registries-postgresql", "digital-registries-redis", "digital-registries-minio-provisioning"):
        assert has(found, "E723", f"NetworkPolicy/{policy}", "helm-reconciler Role may not create")
    assert has(found, "E723", "registration:", "PersistentVolume/joget-dx8-tomcat9-pv", "cluster-wide")
    assert has(found, "E723", "registration:", "ClusterRoleBinding/joget-dx8-tomcat9-clusterrolebinding", "cluster-wide")
    # Pods the restricted level rejects: Baserow's six Deployments and its migrate Job, Joget.
    baserow = {d["message"].split(" violates")[0] for d in found if d["code"] == "E724" and "baserow" in d["message"]}
    assert baserow == {f"digital-registries: Deployment/digital-registries-baserow-{name}" for name in (
        "backend-asgi", "backend-wsgi", "celery-beat-worker", "celery-export-worker", "celery-worker", "frontend")} | {
        "digital-registries: Job/digital-registries-baserow-migrate"}
    assert has(found, "E724", "registration:", "Deployment/joget-dx8-tomcat9")
    # Payments cannot even render: its fin-engine dependency is not in the chart.
    assert has(found, "E722", "payments:", "fin-engine")
    # Data on volumes the spec does not know: Baserow's MinIO and Redis.
    assert has(found, "E725", "PersistentVolumeClaim/digital-registries-minio")
    assert has(found, "E725", "StatefulSet/digital-registries-redis-master", "redis-data-digital-registries-redis-master-0")
    # Routes to Services that do not exist.
    assert has(found, "E727", "IngressRoute/app routes to Service 'baserow-frontend', which the chart does not create")
    assert has(found, "E727", "registration:", "Service 'joget'")
    # Quotas below what Baserow's pods request.
    assert has(found, "E726", "digital-registries", "requests.cpu 1.25 in all, above the namespace's quota of 1")
    # Images: Joget's :latest.
    assert has(found, "E729", "registration:", "jogetworkflow/joget-dx8-tomcat9:latest", "not pinned")
    # Fixed in the catalog since the chart checks came: Redis under the restricted level; the
    # information mediator's nine claims (bound to static volumes), its quota and the subsystems
    # value no template read; the JMX exporter's image.
    for block in ("cache", "information-mediator", "messaging"):
        assert not [d for d in found if d["message"].startswith(f"{block}:")], block
    assert not [d for d in found if "subsystems" in d["message"]]
    # Located at the field responsible, in the entry that writes it.
    route = next(d for d in found if d["code"] == "E727" and "baserow-frontend" in d["message"])
    assert (route["file"], route["path"]) == ("<govstack-gen>/catalog/digital-registries-1.26.1.yaml", "spec.routes[0].service")


def test_baserow_on_rds_ignores_the_external_database(capsys: pytest.CaptureFixture[str]) -> None:
    found = findings(CASES / "valid" / "eks-rds" / "environment.yaml", capsys)
    for key in ("host", "port", "user", "existingSecret"):
        assert has(found, "E728", f"digital-registries: values key 'externalPostgresql.{key}'", "the chart does not read it")


def test_argo_cd_trees_are_held_to_their_app_projects(capsys: pytest.CaptureFixture[str]) -> None:
    found = findings(CASES / "valid" / "sandbox-k3s-argocd" / "environment.yaml", capsys)
    assert has(found, "E723", "registration:", "PersistentVolume/joget-dx8-tomcat9-pv")
    assert has(found, "E723", "NetworkPolicy/digital-registries-redis", "helm-reconciler Role may not create and AppProject "
               "digital-registries does not permit")


def test_shared_charts_are_there() -> None:
    assert (SHARED / "charts" / "SOURCES.md").is_file()
