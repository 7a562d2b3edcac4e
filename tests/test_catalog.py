"""The building-block catalog and the dependency model: entries merged under the environment's
building blocks, requirements as label selectors with version comparisons, influences, and the
order they give both engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from govstack_gen.catalog import load_catalog, merge
from govstack_gen.cli import main
from govstack_gen.pipeline import load_and_resolve
from govstack_gen.render.targets import render_files
from govstack_gen.resolve import depths
from govstack_gen.spec.model import ExternalSpec, GitChart, Selector
from govstack_gen.spec.requirements import describe, matches
from govstack_gen.spec.semver import parse_version
from helpers import CASES, EXAMPLES, SANDBOX_COMMIT, SHARED

K3S = EXAMPLES / "sandbox-k3s" / "environment.yaml"
SANDBOX = {"information-mediator", "messaging", "digital-registries", "cache", "monitoring"}
APPS = CASES / "catalogs" / "apps"  # the tests' own payments and registration entries (made-up charts)


def with_apps(tmp_path: Path) -> Path:
    """The k3s example with the tests' payments and registration building blocks added (the
    shipped catalog has neither: their sandbox charts cannot be installed under the rules)."""
    import shutil

    shutil.copytree(APPS, tmp_path / "catalog")
    spec = tmp_path / "environment.yaml"
    text = K3S.read_text().replace("buildingBlocks:\n  - id:", "catalogs: [catalog]\nbuildingBlocks:\n  - id:", 1)
    text = text.replace("\n  - id: cache\n", "\n  - id: payments\n    catalog: {name: payments}\n\n  - id: registration\n"
                        "    catalog: {name: registration}\n\n  - id: cache\n", 1)
    spec.write_text(text)
    return spec
EXTERNAL = {"govstack-messaging", "consent"}


def test_the_shipped_catalog_holds_the_sandbox_building_blocks_and_a_monitoring_module() -> None:
    catalog = load_catalog()
    assert {e.name for e in catalog.entries if e.section == "buildingBlocks"} >= SANDBOX
    assert {e.name for e in catalog.entries if e.section == "externalServices"} == EXTERNAL
    for entry in catalog.entries:
        assert entry.source == f"<govstack-gen>/catalog/{entry.name}-{entry.version}.yaml"  # one file per entry and version
        assert entry.labels["version"] == entry.version
        assert isinstance(entry.spec, ExternalSpec) or entry.spec.resources.limits.memory  # every block brings a budget
    monitoring = catalog.find("monitoring", None)
    assert not isinstance(monitoring, str) and monitoring.labels["provides-monitoring"] == "true"
    influencing = {e.name for e in catalog.entries if not isinstance(e.spec, ExternalSpec)
                   and any(i.target.match_labels.get("provides-monitoring") for i in e.spec.influences)}
    assert "messaging" in influencing


def test_an_environment_of_every_shipped_entry_renders(tmp_path: Path) -> None:
    entries = list(load_catalog().latest())
    blocks = "\n".join(f"  - id: {e.name}\n    catalog: {{name: {e.name}}}" for e in entries if e.section == "buildingBlocks")
    external = "\n".join(f"  - id: {e.name}\n    catalog: {{name: {e.name}}}\n    url: https://{e.name}.example.org\n"
                          "    cidrs: [192.0.2.0/24]" for e in entries if e.section == "externalServices")
    spec = tmp_path / "environment.yaml"
    spec.write_text(K3S.read_text().split("\nbuildingBlocks:\n")[0] + "\nbuildingBlocks:\n" + blocks + "\nexternalServices:\n"
                    + external + "\n")
    assert main(["render", str(spec), "--output", str(tmp_path / "out")]) == 0


@pytest.mark.parametrize(("base", "over", "merged"), [
    ({"values": {"a": {"b": 1, "c": 2}}}, {"values": {"a": {"c": 3}}}, {"values": {"a": {"b": 1, "c": 3}}}),
    ({"routes": [{"name": "app", "port": 80}, {"name": "api", "port": 81}]}, {"routes": [{"name": "api", "host": "x"}]},
     {"routes": [{"name": "app", "port": 80}, {"name": "api", "port": 81, "host": "x"}]}),
    ({"volumes": [{"name": "data", "size": "8Gi"}]}, {"volumes": [{"name": "data", "$patch": "delete"}]}, {"volumes": []}),
    ({"chart": {"repo": "https://a", "name": "x", "version": "1.0.0"}}, {"chart": {"version": "1.1.0"}},
     {"chart": {"repo": "https://a", "name": "x", "version": "1.1.0"}}),
    ({"chart": {"repo": "https://a", "name": "x", "version": "1.0.0"}}, {"chart": {"git": "https://g", "path": "p", "version": "v1.0.0"}},
     {"chart": {"git": "https://g", "path": "p", "version": "v1.0.0"}}),
    ({"dependsOn": ["a"], "network": {"connectsTo": ["a"]}}, {"dependsOn": ["b"]}, {"dependsOn": ["b"], "network": {"connectsTo": ["a"]}}),
], ids=["values-deep", "named-list-by-name", "patch-delete", "chart-version", "chart-source-replaced", "plain-list-replaced"])
def test_the_environment_overrides_its_entry(base: dict[str, Any], over: dict[str, Any], merged: dict[str, Any]) -> None:
    assert merge(base, over) == merged
    assert base == merge(base, {})  # the entry itself is never changed


LABELS = {"provides-event-streaming": "true", "version": "3.6.0", "tier": "gold"}


@pytest.mark.parametrize(("selector", "matched"), [
    ({"matchLabels": {"provides-event-streaming": "true"}}, True),
    ({"matchLabels": {"provides-event-streaming": "false"}}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold", "silver"]}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["gold"]}]}, False),
    ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, True),  # absent: not in
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False),
    ({"matchExpressions": [{"key": "version", "operator": ">=", "values": ["3.6.0"]}]}, True),
    ({"matchExpressions": [{"key": "version", "operator": ">", "values": ["3.6.0"]}]}, False),
    ({"matchExpressions": [{"key": "version", "operator": "<", "values": ["3.10.0"]}]}, True),  # numeric, not text order
    ({"matchExpressions": [{"key": "version", "operator": ">=", "values": ["3.6.0-rc.1"]}]}, True),  # a release follows its rc
    ({"matchExpressions": [{"key": "tier", "operator": ">=", "values": ["1.0.0"]}]}, False),  # not a version: no match
])
def test_selectors(selector: dict[str, Any], matched: bool) -> None:
    assert matches(Selector.model_validate(selector), LABELS) is matched


def test_describe_prints_a_selector_as_people_write_it() -> None:
    selector = Selector.model_validate({"matchLabels": {"provides-event-streaming": "true"}, "matchExpressions": [
        {"key": "version", "operator": ">=", "values": ["3.0.0"]}, {"key": "zone", "operator": "DoesNotExist"}]})
    assert describe(selector) == "provides-event-streaming=true, version>=3.0.0, !zone"


VERSIONS = st.builds(lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-rc.{pre}" if pre is not None else ""),
                     st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.none() | st.integers(0, 5))


@given(VERSIONS, VERSIONS)
def test_version_operators_agree_with_each_other(a: str, b: str) -> None:
    def holds(op: str) -> bool:
        return matches(Selector.model_validate({"matchExpressions": [{"key": "version", "operator": op, "values": [b]}]}),
                       {"version": a})

    assert sum([holds("<"), holds("=="), holds(">")]) == 1  # exactly one order holds
    assert holds(">=") == (holds(">") or holds("==")) and holds("<=") == (holds("<") or holds("=="))
    key_a, key_b = parse_version(a), parse_version(b)
    assert key_a is not None and key_b is not None and holds("<") == (key_a < key_b)


def test_requirements_become_the_order_of_both_engines(tmp_path: Path) -> None:
    env = load_and_resolve(with_apps(tmp_path))
    block = {b.id: b for b in env.blocks}
    assert block["payments"].depends_on == ("information-mediator", "messaging")  # strong requirements
    assert block["digital-registries"].depends_on == ("information-mediator",)
    assert block["registration"].depends_on == ("digital-registries", "information-mediator")  # the registries: weak, present
    assert block["registration"].weak == ("digital-registries",)
    assert depths(env) == {"cache": 0, "information-mediator": 0, "messaging": 0, "monitoring": 0,
                           "digital-registries": 1, "payments": 1, "registration": 2}
    # A requirement is a flow: the requiring block may call its providers (network policies).
    assert set(block["payments"].connects_to) == {"information-mediator", "messaging"}
    # And hands the chart its provider's address (urlKey), from the provider's endpoint.
    assert block["payments"].values["kafka"] == {"bootstrapServers": "messaging-kafka.messaging.svc.cluster.local:9092"}
    assert [(w.key, w.what) for w in block["payments"].written] == [("kafka.bootstrapServers", "the address of messaging")]


def test_git_charts_pin_the_commit_of_the_chart_snapshot() -> None:
    """sandbox-deployment tags no releases: its charts are pinned to the commit the snapshot in
    ../shared/charts was taken from (SOURCES.md), which the source controllers can fetch."""
    sources = (SHARED / "charts" / "SOURCES.md").read_text()
    short = {line.split("(")[1].split(")")[0] for line in sources.splitlines()
             if line.startswith("| sandbox/") and "GovStackWorkingGroup/sandbox-deployment" in line}
    assert short == {SANDBOX_COMMIT[:12]}
    git = [e for e in load_catalog().entries if not isinstance(e.spec, ExternalSpec) and isinstance(e.spec.chart, GitChart)]
    assert {e.name for e in git} == {"information-mediator", "digital-registries"}
    assert {e.spec.chart.version for e in git if not isinstance(e.spec, ExternalSpec) and isinstance(e.spec.chart, GitChart)} == {
        SANDBOX_COMMIT}


def test_influences_change_the_influenced_blocks_config_and_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(with_apps(tmp_path)), "--output", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "influenced: information-mediator <- digital-registries, payments\n" in err
    assert "influenced: monitoring <- messaging\n" in err
    release = yaml.safe_load((tmp_path / "out/building-blocks/base/information-mediator/helmrelease-information-mediator.yaml")
                             .read_text())
    assert release["metadata"]["annotations"]["govstack.dev/influenced-by"] == "digital-registries, payments"
    # The sandbox chart has no value for its subsystems: those influences only open the way.
    assert release["spec"]["values"]["sandbox-im-xroad-ss"] == {"dbStorage": "5Gi"}
    prometheus = yaml.safe_load((tmp_path / "out/building-blocks/base/monitoring/helmrelease-monitoring.yaml").read_text())
    jobs = prometheus["spec"]["values"]["serverFiles"]["prometheus.yml"]["scrape_configs"]
    assert [j["job_name"] for j in jobs] == ["prometheus", "messaging"]
    assert jobs[1]["static_configs"] == [{"targets": ["messaging-kafka-jmx-metrics.messaging.svc:5556"],
                                          "labels": {"environment": "sandbox"}}]
    # Influence with connect: monitoring may call messaging, and messaging lets it in.
    policies = tmp_path / "out/platform/base"
    assert (policies / "monitoring/networkpolicy-allow-to-messaging.yaml").is_file()
    assert (policies / "messaging/networkpolicy-allow-from-monitoring.yaml").is_file()
    assert (policies / "information-mediator/networkpolicy-allow-to-payments.yaml").is_file()
    assert (policies / "payments/networkpolicy-allow-from-information-mediator.yaml").is_file()


def test_a_user_catalog_folder_adds_and_shadows_entries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "catalog").mkdir()
    shipped = (Path(__file__).parent.parent / "govstack_gen/catalog/entries/messaging-3.6.0.yaml").read_text()
    (tmp_path / "catalog/messaging-3.6.0.yaml").write_text(shipped.replace('version: "26.2.0"', 'version: "26.2.1"'))
    (tmp_path / "catalog/messaging-3.7.0.yaml").write_text(
        shipped.replace('version: "3.6.0"  # Kafka', 'version: "3.7.0"  # Kafka').replace('version: "26.2.0"', 'version: "28.0.0"'))
    spec = tmp_path / "environment.yaml"
    spec.write_text(K3S.read_text().replace("buildingBlocks:\n  - id:", "catalogs: [catalog]\nbuildingBlocks:\n  - id:", 1))
    env = load_and_resolve(spec)
    assert env.block("messaging").chart.version == "26.2.1"  # catalog: {name: messaging, version: "3.6.0"}: the shadowing entry
    spec.write_text(spec.read_text().replace('catalog: {name: messaging, version: "3.6.0"}', "catalog: {name: messaging}"))
    assert load_and_resolve(spec).block("messaging").chart.version == "28.0.0"  # no version: the newest
    capsys.readouterr()
    assert main(["catalog", str(spec), "--format", "json"]) == 0
    listed = [(e["name"], e["version"], e["file"]) for e in json.loads(capsys.readouterr().out)["entries"] if e["name"] == "messaging"]
    assert listed == [("messaging", "3.6.0", "catalog/messaging-3.6.0.yaml"), ("messaging", "3.7.0", "catalog/messaging-3.7.0.yaml")]


def test_the_graph_tells_requirements_weak_requirements_and_influences_apart(tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(with_apps(tmp_path))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "  bb_messaging --> bb_payments" in lines
    assert "  bb_digital_registries -.-> bb_registration" in lines
    assert "  bb_messaging -. influences .-> bb_monitoring" in lines


def test_the_rds_case_renders_ack_objects_and_flux_values_from() -> None:
    env = load_and_resolve(CASES / "valid/eks-rds/environment.yaml")
    files = render_files(env)
    instance = yaml.safe_load(files["building-blocks/prod/digital-registries/dbinstance-digital-registries.yaml"])
    assert instance["metadata"]["annotations"]["services.k8s.aws/deletion-policy"] == "retain"
    assert instance["spec"]["dbInstanceIdentifier"] == "govstack-rds-prod-digital-registries"
    assert {k: instance["spec"][k] for k in ("deletionProtection", "publiclyAccessible", "storageEncrypted", "allocatedStorage")} == {
        "deletionProtection": True, "publiclyAccessible": False, "storageEncrypted": True, "allocatedStorage": 50}
    assert instance["spec"]["masterUserPassword"] == {"key": "password", "name": "registries-db", "namespace": "digital-registries"}
    release = yaml.safe_load(files["building-blocks/base/digital-registries/helmrelease-digital-registries.yaml"])
    # Baserow takes its database from the backend's environment: the endpoint and the password
    # reach it through Flux valuesFrom (the password from the credentials Secret, never in git).
    assert [(v["kind"], v["valuesKey"], v["targetPath"]) for v in release["spec"]["valuesFrom"]] == [
        ("ConfigMap", "host", "backendConfigMap.DATABASE_HOST"), ("ConfigMap", "port", "backendConfigMap.DATABASE_PORT"),
        ("Secret", "password", "backendSecrets.DATABASE_PASSWORD")]
    assert release["spec"]["values"]["postgresql"] == {"enabled": False}
    assert release["spec"]["values"]["backendConfigMap"]["DATABASE_USER"] == "baserow"
    assert "DATABASE_PASSWORD" not in release["spec"]["values"].get("backendSecrets", {})
    # No in-chart volume for a database on RDS.
    assert not any("digital-registries-database" in path and "persistentvolume" in path for path in files)


def test_external_services_meet_requirements_without_being_deployed(tmp_path: Path) -> None:
    env = load_and_resolve(with_apps(tmp_path))
    registration = env.block("registration")
    assert [s.id for s in registration.external] == ["messaging-gateway"]
    assert "messaging-gateway" not in registration.depends_on  # nothing to wait for
    files = render_files(env)
    policy = yaml.safe_load(files["platform/base/registration/networkpolicy-allow-to-messaging-gateway.yaml"])
    assert policy["spec"]["egress"] == [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}]}]
    assert not any("messaging-gateway" in path and "helmrelease" in path for path in files)
    # A requirement can hand the chart the service's address.
    spec = tmp_path / "environment.yaml"
    spec.write_text(spec.read_text().replace(
        "  - id: registration\n    catalog: {name: registration}\n",
        "  - id: registration\n    catalog: {name: registration}\n    requires:\n      weak:\n"
        "        - {matchLabels: {provides-messaging: \"true\"}, urlKey: notifications.gatewayUrl}\n"))
    values = load_and_resolve(spec).block("registration").values
    assert values["notifications"] == {"gatewayUrl": "https://messaging.sandbox.example.org/api"}


def test_the_namespace_placeholder_is_the_blocks_own_namespace(tmp_path: Path) -> None:
    """`${block.namespace}` in any string of a building block (its values, its entry's endpoint)
    is the namespace it is deployed to, which is its id unless it names another."""
    spec = tmp_path / "environment.yaml"
    spec.write_text(K3S.read_text().replace(
        "  - id: cache\n    catalog: {name: cache}\n",
        "  - id: cache\n    namespace: kv\n    catalog: {name: cache}\n"
        "    values: {commonLabels: {served-from: \"${block.namespace}\", release: \"${block.id}\"}}\n", 1))
    block = {b.id: b for b in load_and_resolve(spec).blocks}
    assert block["cache"].values["commonLabels"] == {"served-from": "kv", "release": "cache"}
    assert block["cache"].endpoint == "cache-redis-master.kv.svc.cluster.local:6379"
