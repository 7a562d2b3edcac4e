"""The Argo CD target: the same platform layer as Flux, building blocks as Applications with
an AppProject each, and per stage an app of apps.

    clusters/<stage>/               the root Application and the platform's AppProject (applied
                                    once by hand, the project first: the root belongs to it; then
                                    the root manages both and everything below), the platform's
                                    Application, the add-ons' project and Applications, the
                                    health check sync waves need
    addons/base/, addons/<stage>/   the add-ons layer's objects (Traefik's configuration on k3s,
                                    the add-ons' namespaces, Traefik's ACME volume)
    building-blocks/base/<bb>/      the building block's AppProject and Application (Helm source)
    building-blocks/<stage>/<bb>/   overlay: a patch with only what the stage changes

Order comes from the dependency graph as sync waves: the health check (-5), AppProjects (-4),
the add-ons folder (-3), the add-on charts ours to install (-2: Traefik where it is not k3s's,
cert-manager, the EFS CSI driver, the ACK RDS controller, the Karpenter controller with the
stage's cluster name; their namespaces and volume are there by then), the platform
(-1), then each building block one wave after the
deepest of its dependencies. Argo CD waits for a wave to be healthy before the next only when it
assesses Applications' health, which it stopped doing by default in v1.8: the root therefore
also applies that health check into `argocd-cm` (server-side, so only that key is ours).

With sync impersonation on (`application.sync.impersonation.enabled`), a building block syncs
as its namespace's helm-reconciler; the platform and the root sync as Argo CD's own controller
account (`argocd-application-controller`, which every install has and binds to all rights):
they create namespaces, volumes and RBAC, so they hold the rights the tenants must not.

Nothing holding data is ever deleted by Argo CD: Namespaces, volumes and claims carry
`Prune=false,Delete=false`, Applications have no resources finalizer (deleting one orphans
its objects instead of cascading), and namespaces are ours (no CreateNamespace).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from govstack_gen.render import addons, k8s, layout, tenancy
from govstack_gen.render.kustomize import kustomization
from govstack_gen.render.platform import Tree, folder, platform, platform_cluster, platform_stage
from govstack_gen.resolve import Block, Resolved, ResolvedStage, StageDelta, depths
from govstack_gen.spec.model import GitChart, RepoChart

__all__ = ["ARGO_NAMESPACE", "render_argocd"]

ARGO_API = "argoproj.io/v1alpha1"
ARGO_NAMESPACE = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
PLATFORM = "platform"
ADDONS = "addons"
ROOT = "root"
HEALTH_WAVE, PROJECT_WAVE, ADDONS_WAVE, CHARTS_WAVE, PLATFORM_WAVE = -5, -4, -3, -2, -1
# The account of Argo CD's application controller in every install (install.yaml, the Helm chart).
CONTROLLER_ACCOUNT = "argocd-application-controller"
WAVE = "argocd.argoproj.io/sync-wave"
# Flux sets replicas and node placement with a post-renderer on whatever the chart renders;
# Argo CD cannot post-render a Helm source. Said on the Application, where a reviewer sees it.
NOT_APPLIED = "govstack.dev/not-applied"
NOT_APPLIED_HINT = "Argo CD cannot post-render Helm charts: set the chart's own replica count in values"
SYNC_OPTIONS = ["ServerSideApply=true", "PruneLast=true"]  # charts with large CRDs need server-side apply
RETRY = {"limit": 5, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "10m"}}
# What tenants may not create in their own namespace: the platform's guard rails.
TENANT_BLACKLIST = [
    {"group": "rbac.authorization.k8s.io", "kind": "Role"},
    {"group": "rbac.authorization.k8s.io", "kind": "RoleBinding"},
    {"group": "networking.k8s.io", "kind": "NetworkPolicy"},
    {"group": "", "kind": "ResourceQuota"},
    {"group": "", "kind": "LimitRange"},
]
# What the platform layer creates outside namespaces (no wildcards).
PLATFORM_CLUSTER_KINDS = [
    {"group": "", "kind": "Namespace"},
    {"group": "", "kind": "PersistentVolume"},
    {"group": "storage.k8s.io", "kind": "StorageClass"},
    {"group": "rbac.authorization.k8s.io", "kind": "ClusterRoleBinding"},
]
# Argo CD >= 1.8 no longer assesses an Application's health; waves of Applications need it back
# (https://argo-cd.readthedocs.io/en/stable/operator-manual/upgrading/1.7-1.8/). Upstream's check
# copies the Application's health alone, and Argo CD calls an Application with nothing rendered
# Healthy: one whose chart version is missing (ComparisonError) or whose sync failed would let
# its dependants' wave go. Here such an Application is Degraded, so the root's sync fails at its
# wave and retries, as Flux's dependsOn waits for Ready. A sync still running is not held
# against an Application: the root syncs itself, and would wait for its own operation.
APPLICATION_HEALTH = """hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
  if obj.status.operationState ~= nil then
    local phase = obj.status.operationState.phase
    if phase == "Failed" or phase == "Error" then
      hs.status = "Degraded"
      hs.message = obj.status.operationState.message
    end
  end
  if obj.status.conditions ~= nil then
    for _, condition in ipairs(obj.status.conditions) do
      if condition.type == "ComparisonError" or condition.type == "InvalidSpecError" or condition.type == "SyncError" then
        hs.status = "Degraded"
        hs.message = condition.message
      end
    end
  end
end
return hs
"""


def render_argocd(env: Resolved) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, object) pairs, one folder at a time, as render_flux."""
    if addons.has_addons(env):
        yield from addons.addons_tree(env, lambda release: []).items()  # the charts' Applications: clusters/<stage>
    yield from platform(env)
    waves = depths(env)  # a building block's wave: its depth in the dependency graph
    for block in env.blocks:
        yield from folder(layout.block_base_dir(block.id), [_project(env, block), _application(env, block, waves[block.id])]).items()
    with_cluster = bool(platform_cluster(env))
    for stage in env.stages:
        yield from platform_stage(env, stage, with_cluster)
        for block in env.blocks:
            yield from _overlay(env, stage, block).items()
        yield from _entry(env, stage).items()


def _meta(env: Resolved, name: str, block: str | None, wave: int, stage: str | None = None) -> dict[str, Any]:
    return k8s.metadata(name, ARGO_NAMESPACE, k8s.labels(env, block, stage), {WAVE: str(wave)})


def _source_repo(block: Block) -> str:
    chart = block.chart
    if isinstance(chart, GitChart):
        return chart.git
    # Helm charts in OCI registries: (with a repository credential that sets enableOCI).
    return _chart_repo(chart)


def _project(env: Resolved, block: Block) -> dict[str, Any]:
    """The tenant's fence: its chart source only, its namespace only, nothing cluster-wide,
    none of the platform's guard rails, and syncs as its own reconciler account."""
    return {
        "apiVersion": ARGO_API,
        "kind": "AppProject",
        "metadata": _meta(env, block.id, block.id, PROJECT_WAVE),
        "spec": {
            "description": f"building block {block.id}",
            "sourceRepos": [_source_repo(block)],
            "destinations": [{"server": IN_CLUSTER, "namespace": block.namespace}],
            "clusterResourceWhitelist": [],
            "namespaceResourceBlacklist": [dict(k) for k in TENANT_BLACKLIST],
            "destinationServiceAccounts": [{"server": IN_CLUSTER, "namespace": block.namespace,
                                            "defaultServiceAccount": tenancy.HELM_RECONCILER}],
        },
    }


def _source(block: Block) -> dict[str, Any]:
    chart = block.chart
    source: dict[str, Any] = {"repoURL": _source_repo(block)}
    if isinstance(chart, GitChart):
        source["path"] = chart.path
    else:
        source["chart"] = chart.name
    source["targetRevision"] = chart.version
    source["helm"] = {"releaseName": block.id, "valuesObject": block.values}
    return source


def _sync_policy() -> dict[str, Any]:
    return {"automated": {"prune": True, "selfHeal": True}, "syncOptions": list(SYNC_OPTIONS), "retry": dict(RETRY)}


def _not_applied(replicas: int | None) -> dict[str, str]:
    return {NOT_APPLIED: f"replicas={replicas}; {NOT_APPLIED_HINT}"} if replicas is not None else {}


def _application(env: Resolved, block: Block, wave: int) -> dict[str, Any]:
    meta = _meta(env, block.id, block.id, wave)
    meta["annotations"] |= _not_applied(block.replicas) | k8s.influenced(block)
    return {
        "apiVersion": ARGO_API,
        "kind": "Application",
        "metadata": meta,
        "spec": {
            "project": block.id,
            "source": _source(block),
            "destination": {"server": IN_CLUSTER, "namespace": block.namespace},
            "syncPolicy": _sync_policy(),
        },
    }


def _overlay(env: Resolved, stage: ResolvedStage, block: Block) -> Tree:
    directory = layout.block_stage_dir(stage.name, block.id)
    patch = _patch(block, stage.deltas[block.id])
    tree: Tree = {}
    if patch is not None:
        tree[f"{directory}/{layout.file_name('Application', block.id)}"] = patch
    tree[f"{directory}/kustomization.yaml"] = kustomization(
        [layout.relative(directory, layout.block_base_dir(block.id))], [p.rsplit("/", 1)[1] for p in tree])
    return tree


def _patch(block: Block, delta: StageDelta) -> dict[str, Any] | None:
    """A merge patch holding only what the stage changes (replicas: see the README)."""
    source: dict[str, Any] = {}
    if delta.version is not None:
        source["targetRevision"] = delta.version
    if delta.values:
        source["helm"] = {"valuesObject": delta.values}
    if not source and delta.replicas is None:
        return None
    meta: dict[str, Any] = {"name": block.id, "namespace": ARGO_NAMESPACE}
    if delta.replicas is not None:
        meta["annotations"] = _not_applied(delta.replicas)
    patch: dict[str, Any] = {"apiVersion": ARGO_API, "kind": "Application", "metadata": meta}
    if source:
        patch["spec"] = {"source": source}
    return patch


# -- the stage's entry point ------------------------------------------------------------------


def _git_source(env: Resolved, directory: str) -> dict[str, Any]:
    path = layout.repo_path(env.gitops.path, directory).removeprefix("./")
    return {"repoURL": env.gitops.url, "targetRevision": env.gitops.branch, "path": path}


def _platform_project(env: Resolved) -> dict[str, Any]:
    namespaces = sorted({ARGO_NAMESPACE, *(b.namespace for b in env.blocks)})
    return {
        "apiVersion": ARGO_API,
        "kind": "AppProject",
        "metadata": _meta(env, PLATFORM, None, PROJECT_WAVE),
        "spec": {
            "description": "the platform layer and the stage's app of apps",
            "sourceRepos": [env.gitops.url],
            "destinations": [{"server": IN_CLUSTER, "namespace": ns} for ns in namespaces],
            "clusterResourceWhitelist": [dict(k) for k in PLATFORM_CLUSTER_KINDS],
            # Its Applications' destination is Argo CD's namespace: impersonation takes the account from there.
            "destinationServiceAccounts": [{"server": IN_CLUSTER, "namespace": ARGO_NAMESPACE,
                                            "defaultServiceAccount": CONTROLLER_ACCOUNT}],
        },
    }


def _platform_application(env: Resolved, stage: ResolvedStage) -> dict[str, Any]:
    return {
        "apiVersion": ARGO_API,
        "kind": "Application",
        "metadata": _meta(env, PLATFORM, None, PLATFORM_WAVE, stage.name),
        "spec": {
            "project": PLATFORM,
            "source": _git_source(env, layout.platform_stage_dir(stage.name)),
            "destination": {"server": IN_CLUSTER, "namespace": ARGO_NAMESPACE},
            "syncPolicy": _sync_policy(),
        },
    }


# What the add-ons folder creates outside namespaces: the add-ons' namespaces and the ACME volume
# (each chart adds the kinds it creates: addons.AddonRelease.cluster_kinds).
ADDONS_CLUSTER_KINDS = [
    {"group": "", "kind": "Namespace"},
    {"group": "", "kind": "PersistentVolume"},
]


def _addons_project(env: Resolved, stage: ResolvedStage) -> dict[str, Any]:
    releases = addons.stage_releases(env, stage.name)
    repos = [env.gitops.url, *sorted({_chart_repo(r.chart) for r in releases})]
    kinds = {(k["group"], k["kind"]) for k in [*ADDONS_CLUSTER_KINDS, *(k for r in releases for k in r.cluster_kinds)]}
    namespaces = sorted({ARGO_NAMESPACE, *(r.namespace for r in releases),
                         *([env.ingress_namespace] if addons.traefik_rendered(env) else [])})
    return {
        "apiVersion": ARGO_API,
        "kind": "AppProject",
        "metadata": _meta(env, ADDONS, None, PROJECT_WAVE),
        "spec": {
            "description": "the add-ons layer: " + ", ".join(sorted({r.name for r in releases} | (
                {"traefik"} if addons.traefik_rendered(env) else set()))),
            "sourceRepos": repos,
            "destinations": [{"server": IN_CLUSTER, "namespace": ns} for ns in namespaces],
            "clusterResourceWhitelist": [{"group": g, "kind": k} for g, k in sorted(kinds)],
            "destinationServiceAccounts": [{"server": IN_CLUSTER, "namespace": ns, "defaultServiceAccount": CONTROLLER_ACCOUNT}
                                           for ns in namespaces],
        },
    }


def _chart_repo(chart: RepoChart) -> str:
    # Helm charts in OCI registries: Argo CD takes the registry path without the scheme.
    return chart.repo.removeprefix("oci://")


def _addons_applications(env: Resolved, stage: ResolvedStage) -> list[dict[str, Any]]:
    """The add-ons folder, and each chart govstack-gen installs (a wave later: their namespaces
    and volumes are in the folder)."""
    out = [{
        "apiVersion": ARGO_API,
        "kind": "Application",
        "metadata": _meta(env, ADDONS, None, ADDONS_WAVE, stage.name),
        "spec": {
            "project": ADDONS,
            "source": _git_source(env, layout.addons_stage_dir(stage.name)),
            "destination": {"server": IN_CLUSTER, "namespace": ARGO_NAMESPACE},
            "syncPolicy": _sync_policy(),
        },
    }]
    for release in addons.stage_releases(env, stage.name):
        chart = release.chart
        out.append({
            "apiVersion": ARGO_API,
            "kind": "Application",
            "metadata": _meta(env, release.name, None, CHARTS_WAVE, stage.name),
            "spec": {
                "project": ADDONS,
                "source": {"repoURL": _chart_repo(chart), "chart": chart.name, "targetRevision": chart.version,
                           "helm": {"releaseName": release.name, "valuesObject": release.values}},
                "destination": {"server": IN_CLUSTER, "namespace": release.namespace},
                "syncPolicy": _sync_policy(),
            },
        })
    return out


def _root(env: Resolved, stage: ResolvedStage) -> dict[str, Any]:
    return {
        "apiVersion": ARGO_API,
        "kind": "Application",
        "metadata": k8s.metadata(ROOT, ARGO_NAMESPACE, k8s.labels(env, stage=stage.name)),
        "spec": {
            "project": PLATFORM,
            "source": _git_source(env, layout.cluster_dir(stage.name)),
            "destination": {"server": IN_CLUSTER, "namespace": ARGO_NAMESPACE},
            "syncPolicy": _sync_policy(),
        },
    }


def _health_check(env: Resolved) -> dict[str, Any]:
    labels = k8s.labels(env) | {"app.kubernetes.io/part-of": "argocd"}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": k8s.metadata("argocd-cm", ARGO_NAMESPACE, labels, {WAVE: str(HEALTH_WAVE)}),
        "data": {"resource.customizations.health.argoproj.io_Application": APPLICATION_HEALTH},
    }


def _entry(env: Resolved, stage: ResolvedStage) -> Tree:
    directory = layout.cluster_dir(stage.name)
    objects = [_root(env, stage), _platform_project(env), _platform_application(env, stage), _health_check(env)]
    if addons.has_addons(env):
        objects += [_addons_project(env, stage), *_addons_applications(env, stage)]
    tree = {f"{directory}/{layout.file_name(o['kind'], o['metadata']['name'])}": o for o in objects}
    blocks = [posixpath.relpath(layout.block_stage_dir(stage.name, b.id), directory) for b in env.blocks]
    tree[f"{directory}/kustomization.yaml"] = kustomization([p.rsplit("/", 1)[1] for p in tree] + blocks)
    return tree
