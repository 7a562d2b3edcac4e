"""Reconciliation by the real Flux controllers: source-, kustomize- and helm-controller (built
from their Go modules by scripts/e2e-assets flux) run as local processes against the
test's API server; the rendered environment repository is served by a git server on loopback
and a tiny chart by a Helm repository on loopback. The Flux Kustomizations and HelmReleases of
a small environment must become Ready, in dependency order (from a requirement), and what they
manage must exist, a SOPS-encrypted Secret decrypted by kustomize-controller among it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from controlplane import APIServer, FluxControllers, flux_bootstrap, wait_ready
from servers import GitServer, HelmRepository, publish

from govstack_gen.cli import main
from helpers import age_key, sops_encrypt

pytestmark = pytest.mark.e2e

READY_TIMEOUT = "180s"
SPEC = """\
apiVersion: govstack.dev/v1alpha2
kind: Environment
metadata:
  name: e2e
platform:
  type: generic
gitops:
  url: {git}/env.git
  branch: main
  interval: 1m
stages:
  - name: dev
    domain: dev.example.org
    sops: {{age: [{age}]}}
buildingBlocks:
  - id: registry
    labels: {{provides-registry: "true"}}
    resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}
    chart: {{repo: "{helm}", name: greeting, version: "0.1.0"}}
    values: {{greeting: hello from govstack-gen}}
    secrets:
      - {{name: registry-token, source: sops}}
  - id: consent
    requires:
      strong:
        - {{matchLabels: {{provides-registry: "true"}}}}
    resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}
    chart: {{repo: "{helm}", name: greeting, version: "0.1.0"}}
"""
TOKEN = "decrypted-by-kustomize-controller"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[GitServer, HelmRepository]]:
    git, helm = GitServer(tmp_path / "git"), HelmRepository(tmp_path / "helm", {"greeting": "0.1.0"})
    yield git, helm
    git.stop()
    helm.stop()


def test_flux_reconciles_the_rendered_tree(cluster: APIServer, flux_bin: Path, servers: tuple[GitServer, HelmRepository],
                                           tmp_path: Path) -> None:
    git, helm = servers
    repo = tmp_path / "env"
    repo.mkdir()
    key, public = age_key(tmp_path)
    (repo / "environment.yaml").write_text(SPEC.format(git=git.url, helm=helm.url, age=public))
    assert main(["render", str(repo / "environment.yaml")]) == 0
    sops_encrypt(repo, "secrets/dev/registry/registry-token.sops.yaml", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "registry-token"}, "stringData": {"token": TOKEN}})
    assert TOKEN not in (repo / "secrets/dev/registry/registry-token.sops.yaml").read_text()
    assert main(["render", str(repo / "environment.yaml"), "--check"]) == 0  # encrypted: accepted
    publish(repo, tmp_path / "git" / "env.git")

    from helpers import kustomize_build

    # The cluster's age private key, as `kubectl create secret generic sops-age --from-file=age.agekey=...`.
    age = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sops-age", "namespace": "flux-system"},
           "stringData": {"age.agekey": key.read_text()}}
    flux_bootstrap(cluster, kustomize_build(repo / "clusters" / "dev"), [age])
    controllers = FluxControllers(flux_bin, cluster, tmp_path / "controllers")
    try:
        controllers.check_running()
        wait_ready(cluster, controllers, [("kustomization", "flux-system", "platform"),
                                          ("kustomization", "flux-system", "registry-secrets"),
                                          ("kustomization", "flux-system", "registry"), ("helmrelease", "registry", "registry"),
                                          ("kustomization", "flux-system", "consent"), ("helmrelease", "consent", "consent")],
                   READY_TIMEOUT)
        token = cluster.kubectl("get", "secret", "registry-token", "-n", "registry", "-o", "jsonpath={.data.token}")
        assert base64.b64decode(token.stdout).decode() == TOKEN  # SOPS-decrypted in the cluster, never in git
        consent = cluster.kubectl("get", "kustomization", "consent", "-n", "flux-system", "-o", "jsonpath={.spec.dependsOn[*].name}")
        assert consent.stdout.split() == ["platform", "registry"]  # the requirement, as Flux's order
        greeting = cluster.kubectl("get", "configmap", "registry-greeting", "-n", "registry", "-o", "jsonpath={.data.greeting}")
        assert greeting.stdout == "hello from govstack-gen"  # the spec's values reached the chart
        assert cluster.kubectl("get", "configmap", "consent-greeting", "-n", "consent", "-o", "name").stdout.strip()
        quota = cluster.kubectl("get", "resourcequota", "-n", "consent", "-o", "name")
        assert quota.stdout.strip() == "resourcequota/consent"  # the platform layer is applied too
        # Helm keeps its release record in the building block's namespace: written with the
        # rights of the helm-reconciler Role we render there (the HelmRelease impersonates it).
        owner = cluster.kubectl("get", "secret", "-n", "registry", "-l", "owner=helm", "-o", "name")
        assert owner.stdout.strip().startswith("secret/sh.helm.release.v1.registry.")
    finally:
        controllers.stop()
