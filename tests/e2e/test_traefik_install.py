"""The add-ons layer reconciled by the real Flux controllers: the Traefik chart (the real
traefik 41.3.0 of ../shared/charts/platform, served by a Helm repository on loopback) installed
by helm-controller from the rendered HelmRelease, before the platform layer, with the spec's
entry points on its Service, acme.json on the static volume the tree renders (bound at its
predictable path), its pod admitted under the restricted Pod Security level of the namespace
we render, and the platform layer waiting for it.

As in test_install, no scheduler or kubelet runs: the release is installed without waiting
for readiness (a setting of this test's copy of the tree only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from controlplane import ROOT, APIServer, ControllerManager, FluxControllers, flux_bootstrap, items, wait_for, wait_ready
from servers import GitServer, HelmRepository, chart_servers, publish_without_wait

from govstack_gen.cli import main
from helpers import helm_binary, kustomize_build

pytestmark = pytest.mark.e2e

TRAEFIK = ROOT.parent / "shared" / "charts" / "platform" / "traefik-41.3.0" / "traefik"
READY_TIMEOUT = "240s"
SPEC = """\
apiVersion: govstack.dev/v1alpha2
kind: Environment
metadata:
  name: e2e
platform:
  type: generic
storage:
  backends:
    - {{name: main, type: local, root: /srv/k8s-data, node: {{labels: {{storage-id: main-01}}}}}}
ingress:
  traefik:
    chart: {{repo: "{helm}", name: traefik, version: "41.3.0"}}
  certResolvers:
    - {{name: letsencrypt, email: ops@example.org, caServer: "https://acme-staging-v02.api.letsencrypt.org/directory"}}
  certResolver: letsencrypt
  entryPoints:
    - {{name: xroad-messaging, port: 5500}}
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
    tcpRoutes:
      - {{name: messaging, entryPoint: xroad-messaging, service: registry, port: 5500}}
"""


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[GitServer, HelmRepository]]:
    yield from chart_servers(tmp_path, TRAEFIK, helm_binary())


def test_helm_controller_installs_traefik_with_the_specs_entry_points_before_the_platform(
        cluster: APIServer, flux_bin: Path, controller_manager: ControllerManager,
        servers: tuple[GitServer, HelmRepository], tmp_path: Path) -> None:
    git, helm = servers
    repo = tmp_path / "env"
    repo.mkdir()
    (repo / "environment.yaml").write_text(SPEC.format(git=git.url, helm=helm.url))
    assert main(["render", str(repo / "environment.yaml")]) == 0
    publish_without_wait(repo, "addons/base/helmrelease-traefik.yaml", tmp_path / "git" / "env.git")

    flux_bootstrap(cluster, kustomize_build(repo / "clusters" / "dev"))
    controllers = FluxControllers(flux_bin, cluster, tmp_path / "controllers")
    try:
        controllers.check_running()
        wait_ready(cluster, controllers, [("kustomization", "flux-system", "addons"), ("helmrelease", "flux-system", "traefik"),
                                          ("kustomization", "flux-system", "platform")], READY_TIMEOUT)
        platform = cluster.kubectl("get", "kustomization", "platform", "-n", "flux-system", "-o", "jsonpath={.spec.dependsOn[*].name}")
        assert platform.stdout.split() == ["addons"]
        # What helm-controller installed, read from the cluster: the Service carries the entry
        # point the TCP route names, on the route's port.
        route = json.loads(cluster.kubectl("get", "ingressroutetcp", "messaging", "-n", "registry", "-o", "json").stdout)
        [service] = [s for s in items(cluster, "services", "traefik") if s["spec"]["type"] == "LoadBalancer"]
        ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
        assert ports[route["spec"]["entryPoints"][0]] == route["spec"]["routes"][0]["services"][0]["port"] == 5500
        [deployment] = items(cluster, "deployments", "traefik")
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert "--entryPoints.xroad-messaging.address=:5500/tcp" in args
        assert "--certificatesresolvers.letsencrypt.acme.storage=/data/acme.json" in args
        assert "--certificatesresolvers.letsencrypt.acme.email=ops@example.org" in args
        # Its pod passes the namespace's restricted level (kube-controller-manager creates it).
        labels = json.loads(cluster.kubectl("get", "namespace", "traefik", "-o", "json").stdout)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        wait_for("Traefik's pod", lambda: bool(items(cluster, "pods", "traefik")))
        [pod] = items(cluster, "pods", "traefik")
        assert pod["spec"]["nodeSelector"] == {"node-type": "core"}
        # acme.json's claim is bound to the static volume, at its predictable path.
        data = next(v for v in pod["spec"]["volumes"] if v["name"] == "data")
        claim_name = data["persistentVolumeClaim"]["claimName"]

        def bound() -> bool:
            claim = json.loads(cluster.kubectl("get", "pvc", claim_name, "-n", "traefik", "-o", "json").stdout)
            return bool(claim.get("status", {}).get("phase") == "Bound")
        wait_for("the ACME claim to bind", bound)
        volume = json.loads(cluster.kubectl("get", "pv", "e2e.traefik.acme", "-o", "json").stdout)
        assert volume["spec"]["claimRef"]["name"] == claim_name
        assert volume["spec"]["local"]["path"] == "/srv/k8s-data/e2e/traefik/acme"
    finally:
        controllers.stop()
