"""The Flux target: sources, HelmReleases, stage overlays and the entry Kustomizations.

Layered like the Flux reference repositories: `clusters/<stage>/` holds one Flux Kustomization
for the platform layer and one per building block, chained with `dependsOn` along the spec's
dependency graph; each building block's folder holds its own chart source in its own
namespace (Flux's `--no-cross-namespace-refs` lockdown forbids sharing one across namespaces).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from govstack_gen.render import addons, k8s, layout, tenancy
from govstack_gen.render.databases import database_objects, values_from
from govstack_gen.render.kustomize import kustomization
from govstack_gen.render.platform import Tree, folder, platform, platform_cluster, platform_stage
from govstack_gen.render.secrets import decryption, secrets_layer_name, sops_blocks
from govstack_gen.resolve import Block, Resolved, ResolvedStage, StageDelta, repo_source_kind
from govstack_gen.spec.model import GitChart, RepoChart
from govstack_gen.spec.types import is_commit

__all__ = ["render_flux"]

HELM_API = "helm.toolkit.fluxcd.io/v2"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
SOURCE_API = "source.toolkit.fluxcd.io/v1"
FLUX_NAMESPACE = "flux-system"
# The Secret `flux bootstrap` leaves in FLUX_NAMESPACE with the deploy key (its --secret-name).
BOOTSTRAP_SECRET = "flux-system"
PLATFORM = "platform"
ADDONS = "addons"
PLATFORM_RECONCILER = "kustomize-controller"
HELM_CONTROLLER = "helm-controller"  # flux-system's account of helm-controller, bound to cluster-admin by `flux install`

SOURCE_INTERVAL = "1h"  # chart sources change only with a new version in git
RELEASE_TIMEOUT = "10m"  # stateful charts (databases, X-Road) take minutes to become ready
KUSTOMIZATION_TIMEOUT = "15m"  # longer than the release timeout it waits on
RETRY_INTERVAL = "2m"
REMEDIATION_RETRIES = 3
HELM_CHART_LAYER = {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"}


def render_flux(env: Resolved) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, object) pairs, one folder at a time: a large environment is never all in memory."""
    if addons.has_addons(env):
        yield from addons.addons_tree(env, lambda release: _addon_release(env, release)).items()
    yield from platform(env)
    for block in env.blocks:
        yield from _block_base(env, block).items()
    with_cluster = bool(platform_cluster(env))
    for stage in env.stages:
        yield from _stage(env, stage, with_cluster)


# -- add-ons ------------------------------------------------------------------------------------


def _addon_release(env: Resolved, release: addons.AddonRelease) -> list[dict[str, Any]]:
    """An add-on's chart source and HelmRelease. Add-on charts install CRDs, webhooks and cluster
    roles: the release lives in flux-system and runs as helm-controller, the account `flux
    install` binds to cluster-admin (a release elsewhere could only impersonate an account of its
    own namespace, under the lockdown's --default-service-account); it installs into the add-on's
    namespace and keeps its record there."""
    chart, labels = release.chart, k8s.labels(env, stage=release.stage)
    kind = repo_source_kind(chart)
    source = {"apiVersion": SOURCE_API, "kind": kind, "metadata": k8s.metadata(release.name, FLUX_NAMESPACE, labels),
              "spec": {"interval": SOURCE_INTERVAL, **_repo_source(chart)}}
    source_ref = {"kind": kind, "name": release.name}
    chart_spec = ({"chartRef": source_ref} if kind == "OCIRepository" else
                  {"chart": {"spec": {"chart": chart.name, "version": chart.version, "interval": env.gitops.interval,
                                      "sourceRef": source_ref}}})
    helm_release = {
        "apiVersion": HELM_API,
        "kind": "HelmRelease",
        "metadata": k8s.metadata(release.name, FLUX_NAMESPACE, labels),
        "spec": {
            "interval": env.gitops.interval,
            "releaseName": release.name,
            "targetNamespace": release.namespace,
            "storageNamespace": release.namespace,
            "serviceAccountName": HELM_CONTROLLER,
            "timeout": RELEASE_TIMEOUT,
            **chart_spec,
            "install": {"crds": "CreateReplace", "remediation": {"retries": REMEDIATION_RETRIES}},
            "upgrade": {"crds": "CreateReplace", "cleanupOnFail": True,
                        "remediation": {"retries": REMEDIATION_RETRIES, "remediateLastFailure": True}},
            "values": release.values,
        },
    }
    return [source, helm_release]


# -- building block base ------------------------------------------------------------------------


def _block_base(env: Resolved, block: Block) -> Tree:
    return folder(layout.block_base_dir(block.id), [_source(env, block), _helm_release(env, block)])


def _source(env: Resolved, block: Block) -> dict[str, Any]:
    chart = block.chart
    spec: dict[str, Any] = {"interval": SOURCE_INTERVAL}
    if isinstance(chart, GitChart):
        spec |= {"url": chart.git, "ref": git_ref(chart.version)}
        if chart.secret_ref is not None:
            spec["secretRef"] = {"name": chart.secret_ref}
    else:
        spec |= _repo_source(chart)
    return {
        "apiVersion": SOURCE_API,
        "kind": block.source_kind,
        "metadata": k8s.metadata(block.id, block.namespace, k8s.labels(env, block.id)),
        "spec": spec,
    }


def _repo_source(chart: RepoChart) -> dict[str, Any]:
    """Where a source finds a chart of a repository: one OCIRepository per chart artifact (the
    HelmRelease points at it with chartRef), or the Helm repository's index."""
    if repo_source_kind(chart) == "OCIRepository":
        return {"url": f"{chart.repo}/{chart.name}", "ref": {"tag": chart.version}, "layerSelector": dict(HELM_CHART_LAYER)}
    return {"url": chart.repo}


def _chart(env: Resolved, block: Block) -> dict[str, Any]:
    source_ref = {"kind": block.source_kind, "name": block.id}
    if block.source_kind == "OCIRepository":
        return {"chartRef": source_ref}
    chart = block.chart
    if isinstance(chart, GitChart):
        # Revision: a new commit of the chart folder is a new release even without a version bump.
        spec = {"chart": chart.path, "reconcileStrategy": "Revision", "sourceRef": source_ref}
    else:
        spec = {"chart": chart.name, "version": chart.version, "sourceRef": source_ref}
    return {"chart": {"spec": spec | {"interval": env.gitops.interval}}}


def _helm_release(env: Resolved, block: Block) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": env.gitops.interval,
        "releaseName": block.id,  # explicit: helm-controller would otherwise derive (and maybe hash) it
        "serviceAccountName": tenancy.HELM_RECONCILER,  # least privilege, in its own namespace
        "timeout": RELEASE_TIMEOUT,
    }
    spec |= _chart(env, block)
    spec["install"] = {"remediation": {"retries": REMEDIATION_RETRIES}}
    spec["upgrade"] = {"cleanupOnFail": True, "remediation": {"retries": REMEDIATION_RETRIES, "remediateLastFailure": True}}
    spec["postRenderers"] = _post_renderers(env, block, block.replicas)
    spec["values"] = block.values
    if from_cluster := values_from(block) + _secret_values(block):
        spec["valuesFrom"] = from_cluster
    return {
        "apiVersion": HELM_API,
        "kind": "HelmRelease",
        "metadata": k8s.metadata(block.id, block.namespace, k8s.labels(env, block.id), k8s.influenced(block)),
        "spec": spec,
    }


def _secret_values(block: Block) -> list[dict[str, Any]]:
    """valuesFrom entries of the building block's Secrets: the keys its chart takes as values."""
    return [{"kind": "Secret", "name": secret.name, "targetPath": values_key, "valuesKey": secret_key}
            for secret in block.spec.secrets for values_key, secret_key in secret.values_from.items()]


def _post_renderers(env: Resolved, block: Block, replicas: int | None) -> list[dict[str, Any]]:
    """Chart-agnostic patches of what the chart renders: node placement on every workload,
    replicas for every Deployment, whatever the chart's values call them, and the volume's class
    on each claim the chart creates under a fixed name without a value for its class.

    StatefulSets keep their replicas on purpose: they usually hold databases, whose replica
    count is a topology decision made in the chart's values, not a scaling knob.
    """
    patches = tenancy.placement_patches(env)
    if replicas is not None:
        patch = f"- op: add\n  path: /spec/replicas\n  value: {replicas}\n"
        patches.append({"target": {"kind": "Deployment"}, "patch": patch})
    for volume in block.volumes:
        if volume.chart_created and not volume.class_key:
            # The claim binds to its pre-bound volume either way; with the volume's class (no
            # provisioner) it also waits for that volume instead of being provisioned elsewhere.
            patch = f"- op: add\n  path: /spec/storageClassName\n  value: {volume.storage_class}\n"
            patches.append({"target": {"kind": "PersistentVolumeClaim", "name": volume.claim}, "patch": patch})
    return [{"kustomize": {"patches": patches}}]


# -- stages -------------------------------------------------------------------------------------


def _stage(env: Resolved, stage: ResolvedStage, with_cluster: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    platform_dir = layout.platform_stage_dir(stage.name)
    yield from platform_stage(env, stage, with_cluster)
    for block in env.blocks:
        yield from _block_overlay(env, stage, block).items()
    cluster = layout.cluster_dir(stage.name)
    entry = [_git_repository(env, stage)]
    if addons.has_addons(env):  # the add-ons and their CRDs before the platform layer that uses them
        entry += [_layer(env, stage, ADDONS, layout.addons_stage_dir(stage.name), []),
                  _layer(env, stage, PLATFORM, platform_dir, [ADDONS])]
    else:
        entry.append(_layer(env, stage, PLATFORM, platform_dir, []))
    with_secrets = {b.id for b in sops_blocks(env)}
    for block in env.blocks:
        depends_on = [PLATFORM, *block.depends_on]
        if block.id in with_secrets:
            entry.append(_secrets_layer(env, stage, block))
            depends_on.append(secrets_layer_name(block))
        entry.append(_layer(env, stage, block.id, layout.block_stage_dir(stage.name, block.id), depends_on))
    yield from folder(cluster, entry).items()


def _secrets_layer(env: Resolved, stage: ResolvedStage, block: Block) -> dict[str, Any]:
    """The building block's SOPS files, decrypted by kustomize-controller as its own reconciler."""
    layer = _layer(env, stage, block.id, layout.secrets_dir(stage.name, block.id), [PLATFORM])
    layer["metadata"]["name"] = secrets_layer_name(block)
    layer["spec"]["decryption"] = decryption(stage)
    layer["spec"]["wait"] = False  # Secrets have no status to wait for
    return layer


def _block_overlay(env: Resolved, stage: ResolvedStage, block: Block) -> Tree:
    folder = layout.block_stage_dir(stage.name, block.id)
    patches = _patches(env, block, stage.deltas[block.id])
    tree: Tree = {f"{folder}/{layout.file_name(p['kind'], p['metadata']['name'])}": p for p in patches}
    resources: Tree = {f"{folder}/{layout.file_name(o['kind'], o['metadata']['name'])}": o
                       for o in database_objects(env, stage.name, block)}
    tree[f"{folder}/kustomization.yaml"] = kustomization(
        [layout.relative(folder, layout.block_base_dir(block.id)), *(name.rsplit("/", 1)[1] for name in resources)],
        [name.rsplit("/", 1)[1] for name in tree],
    )
    return tree | resources


def _patches(env: Resolved, block: Block, delta: StageDelta) -> list[dict[str, Any]]:
    """Strategic-merge patches holding only what this stage changes."""
    if delta.empty:
        return []
    out = []
    release: dict[str, Any] = {}
    if delta.version is not None:
        if block.source_kind == "HelmRepository":
            release["chart"] = {"spec": {"version": delta.version}}
        else:
            ref = git_ref(delta.version) if block.source_kind == "GitRepository" else {"tag": delta.version}
            if block.source_kind == "GitRepository":
                # The base's other kind of reference goes (null deletes it in the merge): a commit
                # would take precedence over the stage's tag.
                ref |= dict.fromkeys(git_ref(block.chart.version).keys() - ref.keys())
            out.append(_patch(block, SOURCE_API, block.source_kind, {"ref": ref}))
    if delta.replicas is not None:
        release["postRenderers"] = _post_renderers(env, block, delta.replicas)
    if delta.values:
        release["values"] = delta.values
    if release:
        out.append(_patch(block, HELM_API, "HelmRelease", release))
    return out


def git_ref(revision: str) -> dict[str, Any]:
    """A GitRepository's reference: a release tag, or a commit for a repository without tags."""
    return {"commit": revision} if is_commit(revision) else {"tag": revision}


def _patch(block: Block, api: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": block.id, "namespace": block.namespace}, "spec": spec}


# -- cluster entry point ------------------------------------------------------------------------


def _git_repository(env: Resolved, stage: ResolvedStage) -> dict[str, Any]:
    spec: dict[str, Any] = {"interval": env.gitops.interval, "url": env.gitops.url, "ref": {"branch": env.gitops.branch}}
    secret = repository_secret(env.gitops.url, env.gitops.secret_ref)
    if secret is not None:
        spec["secretRef"] = {"name": secret}
    return {
        "apiVersion": SOURCE_API,
        "kind": "GitRepository",
        "metadata": k8s.metadata(env.name, FLUX_NAMESPACE, k8s.labels(env, stage=stage.name)),
        "spec": spec,
    }


def repository_secret(url: str, secret_ref: str | None) -> str | None:
    """The Secret Flux clones the environment repository with: the spec's, else for an ssh://
    URL the one `flux bootstrap` creates (flux-system/flux-system, holding the deploy key);
    nothing can clone over SSH without a key, while an https:// repository may be public."""
    if secret_ref is not None:
        return secret_ref
    return BOOTSTRAP_SECRET if url.startswith("ssh://") else None


def _layer(env: Resolved, stage: ResolvedStage, name: str, folder: str, depends_on: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if depends_on:
        spec["dependsOn"] = [{"name": dep} for dep in depends_on]
    spec |= {
        "interval": env.gitops.interval,
        "retryInterval": RETRY_INTERVAL,
        "timeout": KUSTOMIZATION_TIMEOUT,
        "sourceRef": {"kind": "GitRepository", "name": env.name},
        "path": layout.repo_path(env.gitops.path, folder),
        "prune": True,
        "wait": True,  # health-checks every object it applies, HelmReleases included
    }
    block = None if name in (PLATFORM, ADDONS) else env.block(name)
    if block is not None:  # a building block's layer runs as its own reconciler, in its namespace only
        spec["serviceAccountName"] = tenancy.flux_reconciler_name(block)
        spec["targetNamespace"] = block.namespace
    else:
        # Named explicitly, so the tree works under Flux's lockdown (--default-service-account):
        # the platform layer needs cluster rights, which `flux install` binds to this account.
        spec["serviceAccountName"] = PLATFORM_RECONCILER
    return {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": k8s.metadata(name, FLUX_NAMESPACE, k8s.labels(env, block.id if block else None, stage.name)),
        "spec": spec,
    }
