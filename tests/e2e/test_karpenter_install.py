"""The Karpenter controller of a stage, reconciled by the real Flux controllers: the real chart
(karpenter 1.14.1 of ../shared/charts/platform, served by a Helm repository on loopback)
installed by helm-controller from the stage's own add-ons layer (addons/<stage>), with the
stage's cluster name and IAM role, on the core pool, and its CRDs before the platform layer's
NodePool and EC2NodeClass. The cluster starts without Karpenter's CRDs: the platform layer can
only be applied once the chart has brought them.

As in test_traefik_install, no scheduler or kubelet runs: the release is installed without
waiting for readiness (a setting of this test's copy of the tree only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from controlplane import ROOT, APIServer, ControllerManager, FluxControllers, flux_bootstrap, items, wait_ready
from servers import GitServer, HelmRepository, chart_servers, publish_without_wait

from govstack_gen.cli import main
from helpers import helm_binary, kustomize_build

pytestmark = pytest.mark.e2e

KARPENTER = ROOT.parent / "shared" / "charts" / "platform" / "karpenter-1.14.1" / "karpenter"
CRDS = ("nodepools.karpenter.sh", "ec2nodeclasses.karpenter.k8s.aws", "nodeclaims.karpenter.sh")
READY_TIMEOUT = "240s"
ROLE = "arn:aws:iam::111122223333:role/KarpenterController-${environment}-${stage}"
SPEC = """\
apiVersion: govstack.dev/v1alpha2
kind: Environment
metadata:
  name: e2e
platform:
  type: eks
  nodePools:
    core: {{labels: {{node-type: core}}, taints: [{{key: CriticalAddonsOnly, effect: NoSchedule}}]}}
    worker:
      labels: {{node-type: worker}}
      taints: [{{key: govstack.dev/workload, value: building-block, effect: NoSchedule}}]
      karpenter:
        instanceFamilies: [m7i]
        controller:
          chart: {{repo: "{helm}", name: karpenter, version: "1.14.1"}}
          roleArn: "{role}"
storage:
  backends:
    - {{name: block, type: dynamic, storageClassName: gp3}}
gitops:
  url: {git}/env.git
  branch: main
  interval: 1m
stages:
  - name: dev
    domain: dev.example.org
buildingBlocks:
  - id: registry
    resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}
    chart: {{repo: "{helm}", name: greeting, version: "0.1.0"}}
"""


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[GitServer, HelmRepository]]:
    yield from chart_servers(tmp_path, KARPENTER, helm_binary())


def test_helm_controller_installs_the_stages_karpenter_and_its_crds_before_the_node_pool(
        cluster: APIServer, flux_bin: Path, controller_manager: ControllerManager,
        servers: tuple[GitServer, HelmRepository], tmp_path: Path) -> None:
    git, helm = servers
    cluster.kubectl("delete", "crd", "--ignore-not-found", *CRDS)  # the fixture's copies: here only the chart may bring them
    assert not cluster.kubectl("get", "crd", "-o", "name").stdout.count("karpenter")
    repo = tmp_path / "env"
    repo.mkdir()
    (repo / "environment.yaml").write_text(SPEC.format(git=git.url, helm=helm.url, role=ROLE))
    assert main(["render", str(repo / "environment.yaml")]) == 0
    publish_without_wait(repo, "addons/dev/helmrelease-karpenter.yaml", tmp_path / "git" / "env.git")

    flux_bootstrap(cluster, kustomize_build(repo / "clusters" / "dev"))
    controllers = FluxControllers(flux_bin, cluster, tmp_path / "controllers")
    try:
        controllers.check_running()
        wait_ready(cluster, controllers, [("kustomization", "flux-system", "addons"), ("helmrelease", "flux-system", "karpenter"),
                                          ("kustomization", "flux-system", "platform")], READY_TIMEOUT)
        # The CRDs are the chart's, and the platform layer's objects were admitted by them.
        for crd in CRDS:
            assert cluster.kubectl("get", "crd", crd, "-o", "name").stdout.strip() == f"customresourcedefinition.apiextensions.k8s.io/{crd}"
        pool = json.loads(cluster.kubectl("get", "nodepool", "worker", "-o", "json").stdout)
        assert pool["spec"]["template"]["metadata"]["labels"] == {"node-type": "worker"}
        assert pool["spec"]["template"]["spec"]["taints"] == [{"key": "govstack.dev/workload", "value": "building-block",
                                                                "effect": "NoSchedule"}]
        node_class = json.loads(cluster.kubectl("get", "ec2nodeclass", "worker", "-o", "json").stdout)
        assert node_class["spec"]["role"] == "KarpenterNodeRole-e2e-dev"
        # What helm-controller installed, read from the cluster: the controller of this stage's
        # cluster, as this stage's role, on the core pool.
        [deployment] = items(cluster, "deployments", "kube-system")
        assert deployment["metadata"]["name"] == "karpenter"
        pod = deployment["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env["CLUSTER_NAME"] == "e2e-dev"
        assert pod["nodeSelector"]["node-type"] == "core"
        assert {"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
        account = json.loads(cluster.kubectl("get", "serviceaccount", "karpenter", "-n", "kube-system", "-o", "json").stdout)
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE.replace("${environment}-${stage}", "e2e-dev")
        platform = cluster.kubectl("get", "kustomization", "platform", "-n", "flux-system", "-o", "jsonpath={.spec.dependsOn[*].name}")
        assert platform.stdout.split() == ["addons"]
    finally:
        controllers.stop()
