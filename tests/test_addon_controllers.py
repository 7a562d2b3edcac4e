"""The add-ons beyond Traefik against their real charts and CRDs (../shared/charts/platform,
../shared/crds): cert-manager with the Certificates of tlsSecret, the EFS CSI driver, the ACK RDS
controller, the Karpenter NodePool of the worker pool and its controller. What the tree writes is rendered with
`helm template` and read back from the chart's own objects; the oracles are the spec's text and
the tree's other objects (routes, volumes, placement patches), never the values we wrote."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_addons import helm_template, render, validate_charts
from test_podsecurity import upstream

from helpers import CASES, ROOT, SHARED, validate_object

PLATFORM_CHARTS = SHARED / "charts/platform"
CERT_MANAGER = PLATFORM_CHARTS / "cert-manager-v1.21.1/cert-manager"
EFS_DRIVER = PLATFORM_CHARTS / "aws-efs-csi-driver-4.4.1/aws-efs-csi-driver"
RDS_CONTROLLER = PLATFORM_CHARTS / "rds-chart-1.11.1/rds-chart"
KARPENTER = PLATFORM_CHARTS / "karpenter-1.14.1/karpenter"
EKS = ROOT / "examples/sandbox-eks/environment.yaml"
EKS_RDS = CASES / "valid/eks-rds/environment.yaml"
PSS = ("restricted", "v1.33")


def spec_of(path: Path) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(path.read_text())
    return spec


def objects_of(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """The Kubernetes objects of the tree (not .sops.yaml, not kustomization.yaml)."""
    return [o for rel, docs in tree.items() for o in docs
            if o and "metadata" in o and not rel.endswith("kustomization.yaml")]


def release(tree: dict[str, Any], name: str, folder: str = "base") -> dict[str, Any]:
    [found] = tree[f"addons/{folder}/helmrelease-{name}.yaml"]
    assert found["spec"]["targetNamespace"] == found["spec"]["storageNamespace"]
    release: dict[str, Any] = found
    return release


def helm_output(chart: Path, namespace: str, values: dict[str, Any], tmp_path: Path, name: str) -> list[dict[str, Any]] | str:
    """What helm renders, or its error."""
    try:
        return helm_template(chart, namespace, values, tmp_path, name)
    except AssertionError as refused:  # helm_template asserts its exit status
        return str(refused)


def pods(objects: list[dict[str, Any]], *kinds: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(kind/name, pod metadata, pod spec) of every workload of those kinds."""
    out = []
    for o in objects:
        if o["kind"] in kinds:
            spec = o["spec"]["template"]
            out.append((f"{o['kind']}/{o['metadata']['name']}", spec.get("metadata") or {}, spec["spec"]))
    assert out, kinds  # no loop below may run empty
    return out


def on_core_pool(spec: dict[str, Any], pod: dict[str, Any]) -> bool:
    """The pod selects every label of the spec's core pool and tolerates each of its taints."""
    core = spec["platform"]["nodePools"]["core"]
    selected = all(pod.get("nodeSelector", {}).get(k) == v for k, v in core["labels"].items())
    tolerated = all(any(_tolerates(t, taint) for t in pod.get("tolerations") or []) for taint in core.get("taints", []))
    return selected and tolerated


def _tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    if toleration.get("effect") not in (None, taint.get("effect", "NoSchedule")):
        return False
    if toleration.get("operator") == "Exists":
        return toleration.get("key") in (None, taint["key"])
    return toleration.get("key") == taint["key"] and toleration.get("value") == taint.get("value")


def restricted_violations(found: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> dict[str, list[str]]:
    """Pod Security admission's own verdicts (k8s.io/pod-security-admission), per pod."""
    verdicts = upstream([(*PSS, meta, pod) for _, meta, pod in found])
    return {name: reasons for (name, _, _), reasons in zip(found, verdicts, strict=True) if reasons}


# -- the EFS CSI driver --------------------------------------------------------------------------


def test_efs_driver_is_installed_with_its_csi_driver_and_its_controller_on_the_core_pool(tmp_path: Path) -> None:
    spec, tree = spec_of(EKS), render(EKS, tmp_path / "out")
    objects = objects_of(tree)
    assert not [o for o in objects if o["kind"] == "CSIDriver"]  # the chart's, never a second of ours
    driver = release(tree, "aws-efs-csi-driver")
    assert driver["spec"]["targetNamespace"] == "kube-system"
    chart = helm_template(EFS_DRIVER, "kube-system", driver["spec"]["values"], tmp_path, "aws-efs-csi-driver")
    csi_names = {o["metadata"]["name"] for o in chart if o["kind"] == "CSIDriver"}
    efs_volumes = [o for o in objects if o["kind"] == "PersistentVolume" and "csi" in o["spec"]]
    assert efs_volumes and {v["spec"]["csi"]["driver"] for v in efs_volumes} <= csi_names
    [(_, _, controller)] = pods(chart, "Deployment")
    assert on_core_pool(spec, controller)
    # The node agent runs wherever the building blocks mount EFS: it tolerates the worker taint.
    [(_, _, node)] = pods(chart, "DaemonSet")
    assert {"operator": "Exists"} in node["tolerations"]
    assert spec["platform"]["nodePools"]["worker"]["taints"]


def test_a_provided_efs_driver_gets_nothing_of_ours(tmp_path: Path) -> None:
    text = EKS.read_text().replace("      storageClassName: gp3\n", "      storageClassName: gp3\n  efsCsiDriver: {provided: true}\n", 1)
    assert "efsCsiDriver" in text
    (tmp_path / "environment.yaml").write_text(text)
    objects = objects_of(render(tmp_path / "environment.yaml", tmp_path / "out"))
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert not {n for n in names if n[0] == "CSIDriver" or "efs" in n[1]}
    assert [o for o in objects if o["kind"] == "PersistentVolume" and o["spec"].get("csi", {}).get("driver") == "efs.csi.aws.com"]


# -- the ACK RDS controller ----------------------------------------------------------------------


def test_ack_rds_controller_runs_as_the_spec_role_in_its_region_on_the_core_pool(tmp_path: Path) -> None:
    spec, tree = spec_of(EKS_RDS), render(EKS_RDS, tmp_path / "out")
    controller = release(tree, "ack-rds-controller")
    [source] = tree["addons/base/ocirepository-ack-rds-controller.yaml"]
    assert source["spec"]["url"] == "oci://public.ecr.aws/aws-controllers-k8s/rds-chart"
    assert source["spec"]["ref"] == {"tag": "1.11.1"}
    [namespace] = tree["addons/base/namespace-ack-system.yaml"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    chart = helm_template(RDS_CONTROLLER, "ack-system", controller["spec"]["values"], tmp_path, "ack-rds-controller")
    [account] = [o for o in chart if o["kind"] == "ServiceAccount"]
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == spec["platform"]["rdsController"]["roleArn"]
    found = pods(chart, "Deployment")
    [(_, _, pod)] = found
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    [container] = pod["containers"]
    flags = " ".join(container.get("args", [])) + " " + " ".join(str(e.get("value")) for e in container.get("env", []))
    assert spec["platform"]["aws"]["region"] in flags
    assert "retain" in flags  # the controller keeps AWS resources of a deleted object
    assert on_core_pool({"platform": {"nodePools": {"core": {"labels": {"node-type": "core"}}}}}, pod)
    assert restricted_violations(found) == {}
    # The DBInstances it reconciles are in the tree: the controller is there because of them.
    assert [o for o in objects_of(tree) if o["kind"] == "DBInstance"]


def test_no_ack_controller_without_an_rds_database(tmp_path: Path) -> None:
    objects = objects_of(render(EKS, tmp_path / "out"))
    assert not [o for o in objects if o["kind"] == "DBInstance"]
    assert not [o for o in objects if o["metadata"]["name"].startswith("ack-") or o["metadata"].get("namespace") == "ack-system"]


# -- cert-manager ----------------------------------------------------------------------------------


def test_cert_manager_installs_its_crds_and_runs_restricted_on_the_core_pool(tmp_path: Path) -> None:
    spec, tree = spec_of(EKS), render(EKS, tmp_path / "out")
    manager = release(tree, "cert-manager")
    chart = helm_template(CERT_MANAGER, "cert-manager", manager["spec"]["values"], tmp_path, "cert-manager")
    crds = {o["metadata"]["name"] for o in chart if o["kind"] == "CustomResourceDefinition"}
    # Every kind of cert-manager's the tree renders has its CRD in the chart's output.
    used = {(o["kind"], o["apiVersion"]) for o in objects_of(tree) if o["apiVersion"].startswith("cert-manager.io/")}
    assert {k for k, _ in used} == {"Certificate", "ClusterIssuer"}
    assert {"certificates.cert-manager.io", "clusterissuers.cert-manager.io"} <= crds
    found = pods(chart, "Deployment", "Job")
    assert len(found) == 4  # controller, webhook, cainjector, startupapicheck
    assert [name for name, _, pod in found if not on_core_pool(spec, pod)] == []
    assert restricted_violations(found) == {}
    accounts = {o["metadata"]["name"]: o for o in chart if o["kind"] == "ServiceAccount"}
    role = spec["ingress"]["certManager"]["roleArn"]
    assert accounts["cert-manager"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role


def test_every_namespace_with_tls_secret_routes_gets_a_certificate_of_exactly_their_hosts(tmp_path: Path) -> None:
    spec, tree = spec_of(EKS), render(EKS, tmp_path / "out")
    secret = spec["ingress"]["tlsSecret"]
    for stage in [s["name"] for s in spec["stages"]]:
        routes = [o for rel, docs in tree.items() if rel.startswith(f"platform/{stage}/") for o in docs
                  if o and o["kind"] == "IngressRoute" and o["spec"].get("tls", {}).get("secretName") == secret]
        wanted: dict[str, set[str]] = {}
        for route in routes:
            for rule in route["spec"]["routes"]:
                wanted.setdefault(route["metadata"]["namespace"], set()).update(re.findall(r"Host\(`([^`]+)`\)", rule["match"]))
        assert wanted  # the example has such routes
        certificates = [o for rel, docs in tree.items() if rel.startswith(f"platform/{stage}/") for o in docs
                        if o and o["kind"] == "Certificate"]
        assert {c["metadata"]["namespace"]: set(c["spec"]["dnsNames"]) for c in certificates} == wanted
        for certificate in certificates:
            assert certificate["spec"]["secretName"] == secret
            assert validate_object(certificate) == []
            [issuer] = tree[f"platform/cluster/clusterissuer-{certificate['spec']['issuerRef']['name']}.yaml"]
            assert certificate["spec"]["issuerRef"]["kind"] == issuer["kind"] == "ClusterIssuer"
    [issuer] = [o for o in objects_of(tree) if o["kind"] == "ClusterIssuer"]
    assert validate_object(issuer) == []
    route53 = issuer["spec"]["acme"]["solvers"][0]["dns01"]["route53"]
    assert route53 == {"region": spec["ingress"]["certManager"]["issuer"]["route53"]["region"],
                       "hostedZoneID": spec["ingress"]["certManager"]["issuer"]["route53"]["hostedZoneId"]}


# -- every value of ours is read ------------------------------------------------------------------


@pytest.mark.parametrize(("chart", "name", "namespace", "spec_path"), [
    (CERT_MANAGER, "cert-manager", "cert-manager", EKS),
    (EFS_DRIVER, "aws-efs-csi-driver", "kube-system", EKS),
    (RDS_CONTROLLER, "ack-rds-controller", "ack-system", EKS_RDS),
    (KARPENTER, "karpenter", "kube-system", EKS),
], ids=["cert-manager", "efs-csi-driver", "ack-rds-controller", "karpenter"])
def test_every_value_we_write_changes_what_the_add_on_chart_renders(chart: Path, name: str, namespace: str, spec_path: Path,
                                                                    tmp_path: Path) -> None:
    folder = "staging" if name == "karpenter" else "base"  # a release per stage's cluster
    values = release(render(spec_path, tmp_path / "out"), name, folder)["spec"]["values"]
    baseline = helm_template(chart, namespace, values, tmp_path, name)
    assert values
    for key in values:
        without = {k: v for k, v in values.items() if k != key}
        # A chart that refuses to render without the key (Karpenter's settings.clusterName) reads it too.
        assert helm_output(chart, namespace, without, tmp_path, name) != baseline, f"{key} changes nothing"


# -- the worker pool's Karpenter NodePool ----------------------------------------------------------


def test_the_worker_node_pool_carries_exactly_what_the_placement_patches_select(tmp_path: Path) -> None:
    spec, tree = spec_of(EKS), render(EKS, tmp_path / "out")
    # The oracle: the post-renderer patches that put every building block's pods on the worker pool.
    placements = []
    for o in objects_of(tree):
        if o["kind"] == "HelmRelease" and o["metadata"]["namespace"] != "flux-system":
            for renderer in o["spec"].get("postRenderers", []):
                for patch in renderer["kustomize"]["patches"]:
                    patched = yaml.safe_load(patch["patch"])
                    if isinstance(patched, dict) and patched.get("kind") in ("Deployment", "StatefulSet", "DaemonSet"):
                        placements.append(patched["spec"]["template"]["spec"])
    assert placements
    stages = [s["name"] for s in spec["stages"]]
    discovery = set()
    for stage in stages:
        [pool] = tree[f"platform/{stage}/nodepool-worker.yaml"]
        [node_class] = tree[f"platform/{stage}/ec2nodeclass-worker.yaml"]
        assert validate_object(pool) == [] and validate_object(node_class) == []
        template = pool["spec"]["template"]
        for pod in placements:
            assert pod["nodeSelector"] == template["metadata"]["labels"]
            taints = template["spec"]["taints"]
            assert all(any(t["key"] == taint["key"] and t.get("value") == taint.get("value") and t["effect"] == taint["effect"]
                           for t in pod["tolerations"]) for taint in taints)
            assert len(taints) == len(pod["tolerations"])
        assert template["spec"]["nodeClassRef"]["name"] == node_class["metadata"]["name"]
        requirement = {r["key"]: r["values"] for r in template["spec"]["requirements"]}
        karpenter = spec["platform"]["nodePools"]["worker"]["karpenter"]
        assert requirement["karpenter.sh/capacity-type"] == karpenter["capacityTypes"]
        assert requirement["karpenter.k8s.aws/instance-family"] == karpenter["instanceFamilies"]
        assert pool["spec"]["limits"] == karpenter["limits"]
        assert node_class["spec"]["amiSelectorTerms"] == [{"alias": karpenter["amiAlias"]}]
        discovery.add(node_class["spec"]["subnetSelectorTerms"][0]["tags"]["karpenter.sh/discovery"])
        assert stage in node_class["spec"]["role"]
    assert discovery == {f"{spec['metadata']['name']}-{s}" for s in stages}  # one cluster per stage


def test_karpenter_crds_refuse_what_our_objects_must_not_be(tmp_path: Path) -> None:
    """The CRD check can fail: the same objects, broken, are refused by Karpenter's schemas."""
    tree = render(EKS, tmp_path / "out")
    [pool] = tree["platform/staging/nodepool-worker.yaml"]
    [node_class] = tree["platform/staging/ec2nodeclass-worker.yaml"]
    broken_pool = copy.deepcopy(pool)
    broken_pool["spec"]["disruption"]["consolidationPolicy"] = "Sometimes"
    broken_class = copy.deepcopy(node_class)
    del broken_class["spec"]["subnetSelectorTerms"]
    assert validate_object(broken_pool) and validate_object(broken_class)


# -- the Karpenter controller ------------------------------------------------------------------------


def expand(text: str, spec: dict[str, Any], stage: str) -> str:
    """The spec's placeholders replaced as README says: the environment's name and the stage's."""
    return text.replace("${environment}", spec["metadata"]["name"]).replace("${stage}", stage)


def test_each_stage_installs_a_karpenter_controller_of_its_own_cluster(tmp_path: Path) -> None:
    """One release per stage (each its cluster), in that stage's add-ons layer only: the chart's
    controller manages the stage's cluster as the stage's role, drains the stage's queue, runs on
    the core pool and never on the nodes it launches. The oracle is the spec's text with its
    placeholders replaced by hand, read back from what the real chart renders."""
    spec, tree = spec_of(EKS), render(EKS, tmp_path / "out")
    controller = spec["platform"]["nodePools"]["worker"]["karpenter"]["controller"]
    assert not [rel for rel in tree if rel.startswith("addons/base/") and "karpenter" in rel]
    stages = [s["name"] for s in spec["stages"]]
    assert len(stages) == 2
    for stage in stages:
        [layer] = tree[f"addons/{stage}/kustomization.yaml"]
        assert layer["resources"] == ["../base", "helmrelease-karpenter.yaml", "ocirepository-karpenter.yaml"]
        [entry] = tree[f"clusters/{stage}/kustomization-addons.yaml"]
        assert entry["spec"]["path"].endswith(f"/addons/{stage}")
        found = release(tree, "karpenter", stage)
        assert found["spec"]["targetNamespace"] == "kube-system"
        chart = helm_template(KARPENTER, "kube-system", found["spec"]["values"], tmp_path, "karpenter")
        workloads = pods(chart, "Deployment")
        [(_, _, pod)] = workloads
        [container] = pod["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["CLUSTER_NAME"] == f"{spec['metadata']['name']}-{stage}"  # the documented default
        assert env["INTERRUPTION_QUEUE"] == expand(controller["interruptionQueue"], spec, stage)
        [account] = [o for o in chart if o["kind"] == "ServiceAccount"]
        assert (account["metadata"]["name"], account["metadata"]["namespace"]) == ("karpenter", "kube-system")
        assert pod["serviceAccountName"] == "karpenter"
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == expand(controller["roleArn"], spec, stage)
        assert on_core_pool(spec, pod)
        terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert {"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"} in terms[0]["matchExpressions"]
        assert restricted_violations(workloads) == {}


def test_the_karpenter_chart_brings_the_crds_of_the_platform_layers_node_pool(tmp_path: Path) -> None:
    """The NodePool and EC2NodeClass of each stage are admitted by the CRDs the chart installs
    with the controller (its crds/ folder, which Flux's install.crds applies), and the same
    objects broken are not."""
    from govstack_gen.validation.check import _schema_errors
    from govstack_gen.validation.schemas import SchemaSet, load_crds

    tree = render(EKS, tmp_path / "out")
    crds = sorted((KARPENTER / "crds").glob("*.yaml"))
    schemas = SchemaSet(crds=load_crds(crds)[0])
    assert release(tree, "karpenter", "prod")["spec"]["install"]["crds"] == "CreateReplace"
    for stage in ("staging", "prod"):
        [pool] = tree[f"platform/{stage}/nodepool-worker.yaml"]
        [node_class] = tree[f"platform/{stage}/ec2nodeclass-worker.yaml"]
        assert _schema_errors(pool, schemas) == [] and _schema_errors(node_class, schemas) == []
        broken = copy.deepcopy(node_class)
        broken["spec"]["metadataOptions"]["httpTokens"] = "sometimes"
        assert _schema_errors(broken, schemas)


def test_without_controller_the_clusters_karpenter_gets_nothing_of_ours(tmp_path: Path) -> None:
    text = EKS.read_text()
    start = text.index("        controller:\n")
    end = text.index("\n", text.index("interruptionQueue:", start)) + 1
    (tmp_path / "environment.yaml").write_text(text[:start] + text[end:])
    tree = render(tmp_path / "environment.yaml", tmp_path / "out")
    assert not [rel for rel in tree if rel.startswith("addons/") and "karpenter" in rel]
    assert tree["platform/staging/nodepool-worker.yaml"]  # the worker pool's nodes are still ours to describe
    [layer] = tree["addons/staging/kustomization.yaml"]
    assert layer["resources"] == ["../base"]


# -- validate --charts on the ACK RDS controller ----------------------------------------------------


@pytest.mark.usefixtures("chart_tools")
def test_validate_charts_refuses_an_rds_controller_chart_that_ignores_our_values(tmp_path: Path,
                                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    charts = tmp_path / "charts"
    shutil.copytree(RDS_CONTROLLER, charts / "rds-chart")
    code, report = validate_charts(EKS_RDS, charts, capsys)
    ours = [d for d in report["errors"] if d["message"].startswith("ack-rds-controller")]
    assert ours == [] and report["chartReleases"] >= 2  # the real chart passes (the blocks' charts are not here)
    template = charts / "rds-chart/templates/service-account.yaml"
    assert template.read_text().count(".Values.serviceAccount.annotations") == 1
    template.write_text(template.read_text().replace(".Values.serviceAccount.annotations", ".Values.serviceAccount.ignored"))
    deployment = charts / "rds-chart/templates/deployment.yaml"
    assert deployment.read_text().count("{{ toYaml .Values.deployment.nodeSelector | nindent 8 }}") == 1
    deployment.write_text(deployment.read_text().replace("{{ toYaml .Values.deployment.nodeSelector | nindent 8 }}", "{}"))
    code, report = validate_charts(EKS_RDS, charts, capsys)
    assert code == 1
    found = sorted((d["code"], d["message"]) for d in report["errors"] if d["message"].startswith("ack-rds-controller"))
    assert found == [
        # The core pool has no taints here: nodeSelector is all the deployment values say.
        ("E728", "ack-rds-controller: values key 'deployment' changes nothing the chart renders"),
        ("E728", "ack-rds-controller: values key 'serviceAccount' changes nothing the chart renders"),
        ("E732", "ack-rds-controller: Deployment/ack-rds-controller-rds-chart does not select the core pool "
                 "(node-type=core missing from its nodeSelector)"),
        ("E732", "ack-rds-controller: no service account of the chart is annotated with the IAM role "
                 "arn:aws:iam::111122223333:role/govstack-rds-ack-rds-controller"),
    ], found
