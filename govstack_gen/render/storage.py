"""Storage objects: StorageClasses and a pre-bound PV/PVC pair per volume (the EFS CSI driver,
with its CSIDriver object, is an add-on: render/addons.py).

Every static PersistentVolume is `Retain`, pre-bound to exactly one claim (`claimRef` without a
uid, so it binds on first apply and survives a re-create), carries the Flux prune guard, and
lives in the platform layer: no building block's reconciler can delete or repoint it.
"""

from __future__ import annotations

from typing import Any

from govstack_gen.render import k8s
from govstack_gen.resolve import Resolved, ResolvedVolume
from govstack_gen.spec.model import Backend, DynamicBackend, HostPathBackend, LocalBackend, NfsBackend

__all__ = ["EFS_DRIVER", "persistent_volume", "persistent_volume_claim", "storage_classes"]

EFS_DRIVER = "efs.csi.aws.com"
NO_PROVISIONER = "kubernetes.io/no-provisioner"


def storage_classes(env: Resolved) -> list[dict[str, Any]]:
    """One class per static backend: volumes bind only to the PVs we render, never provisioned."""
    return [_storage_class(env, b) for b in env.backends if not isinstance(b, DynamicBackend)]


def _storage_class(env: Resolved, backend: Backend) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": k8s.metadata(env.storage_class(backend), None, k8s.labels(env)),
        # No provisioner, EFS included: a claim of this class can only bind to a PV we render.
        "provisioner": NO_PROVISIONER,
        "reclaimPolicy": "Retain",
        # A local volume binds once the pod is scheduled, so scheduling honours its node.
        "volumeBindingMode": "WaitForFirstConsumer" if isinstance(backend, LocalBackend) else "Immediate",
    }


def persistent_volume(env: Resolved, volume: ResolvedVolume, namespace: str, owner: str | None) -> dict[str, Any] | None:
    """The volume of a claim in `namespace`; `owner` is the building block it belongs to (None:
    the platform's own, such as Traefik's ACME volume)."""
    if volume.volume_name is None:
        return None
    spec: dict[str, Any] = {
        "capacity": {"storage": volume.size},
        "volumeMode": "Filesystem",
        "accessModes": list(volume.access_modes),
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": volume.storage_class,
        "claimRef": {"namespace": namespace, "name": volume.claim},
    }
    spec |= _source(volume)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": k8s.metadata(volume.volume_name, None, k8s.labels(env, owner), k8s.protected(env)),
        "spec": spec,
    }


def _source(volume: ResolvedVolume) -> dict[str, Any]:
    backend = volume.backend
    if isinstance(backend, LocalBackend):
        expressions = [{"key": key, "operator": "In", "values": [value]} for key, value in backend.node_selector()]
        return {"local": {"path": volume.path},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": expressions}]}}}
    if isinstance(backend, HostPathBackend):
        # Directory, not DirectoryOrCreate: a missing directory (an unmounted data disk) must
        # stop the pod instead of silently writing to the root file system.
        return {"hostPath": {"path": volume.path, "type": "Directory"}}
    if isinstance(backend, NfsBackend):
        return {"nfs": {"server": backend.server, "path": volume.path}}
    return {"csi": {"driver": EFS_DRIVER, "volumeHandle": volume.handle}}


def persistent_volume_claim(env: Resolved, volume: ResolvedVolume, namespace: str, owner: str | None) -> dict[str, Any] | None:
    if volume.chart_created:  # the chart creates it; the PV waits for it by name
        return None
    spec: dict[str, Any] = {
        "accessModes": list(volume.access_modes),
        "volumeMode": "Filesystem",
        "storageClassName": volume.storage_class,
    }
    if volume.volume_name is not None:
        spec["volumeName"] = volume.volume_name
    spec["resources"] = {"requests": {"storage": volume.request}}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": k8s.metadata(volume.claim, namespace, k8s.labels(env, owner), k8s.protected(env)),
        "spec": spec,
    }
