"""The platform layer, the same for every engine: per building block its namespace, quota,
limits, volumes and claims, RBAC and network policies (platform/base/<bb>/), the cluster-wide
objects (platform/cluster/: StorageClasses, cert-manager's ClusterIssuer, the admins' binding),
and per stage the routes with their Certificates, the worker pool's Karpenter NodePool, and the
layer's kustomization (platform/<stage>/). The add-ons whose CRDs these use are reconciled
before it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from govstack_gen.render import certificates, ingress, k8s, layout, nodes, storage, tenancy
from govstack_gen.render.kustomize import kustomization
from govstack_gen.render.secrets import sops_config
from govstack_gen.resolve import Block, Resolved, ResolvedStage

__all__ = ["Tree", "folder", "platform_base", "platform_cluster", "platform_stage"]

Tree = dict[str, dict[str, Any]]


def folder(directory: str, objects: list[dict[str, Any]]) -> Tree:
    """One file per object plus the kustomization.yaml listing them."""
    tree = {f"{directory}/{layout.file_name(o['kind'], o['metadata']['name'])}": o for o in objects}
    tree[f"{directory}/kustomization.yaml"] = kustomization([path.rsplit("/", 1)[1] for path in tree])
    return tree


def platform_base(env: Resolved, block: Block) -> Tree:
    objects: list[dict[str, Any] | None] = [k8s.namespace(env, block), k8s.resource_quota(env, block), k8s.limit_range(env, block)]
    for volume in block.volumes:
        objects += [storage.persistent_volume(env, volume, block.namespace, block.id),
                    storage.persistent_volume_claim(env, volume, block.namespace, block.id)]
    objects += tenancy.rbac(env, block) + tenancy.network_policies(env, block)
    return folder(layout.platform_base_dir(block.id), [o for o in objects if o is not None])


def platform_cluster(env: Resolved) -> list[dict[str, Any]]:
    objects = [*storage.storage_classes(env), certificates.cluster_issuer(env), *tenancy.cluster_role_bindings(env)]
    return [o for o in objects if o is not None]


def platform_stage(env: Resolved, stage: ResolvedStage, with_cluster: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    """The stage's routes (hosts differ per stage) and the kustomization of its platform layer."""
    platform_dir = layout.platform_stage_dir(stage.name)
    layers = [layout.platform_base_dir()]
    if with_cluster:
        layers.append(layout.platform_cluster_dir())
    for block in env.blocks:
        routes = [o for o in [*ingress.routes(env, stage, block), certificates.certificate(env, stage, block)] if o is not None]
        if routes:
            directory = layout.platform_routes_dir(stage.name, block.id)
            yield from folder(directory, routes).items()
            layers.append(directory)
    resources = [layout.relative(platform_dir, d) for d in layers]
    for obj in nodes.worker_capacity(env, stage):  # files of the stage folder itself: no building block's folder name
        name = layout.file_name(obj["kind"], obj["metadata"]["name"])
        yield f"{platform_dir}/{name}", obj
        resources.append(name)
    yield f"{platform_dir}/kustomization.yaml", kustomization(resources)


def platform(env: Resolved) -> Iterator[tuple[str, dict[str, Any]]]:
    """Everything of the platform layer but the per-stage part."""
    for block in env.blocks:
        yield from platform_base(env, block).items()
    yield f"{layout.platform_base_dir()}/kustomization.yaml", kustomization([b.id for b in env.blocks])
    cluster = platform_cluster(env)
    if cluster:
        yield from folder(layout.platform_cluster_dir(), cluster).items()
    sops = sops_config(env)
    if sops is not None:
        yield layout.SOPS_CONFIG, sops
