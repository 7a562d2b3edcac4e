"""Compare the objects two rendered trees apply, stage by stage, and say which changes destroy
something: data (a Namespace, PersistentVolume or claim removed: left behind unmanaged), a Helm
release (removed, renamed, or a field changed that makes Helm uninstall and reinstall), everything
a Flux Kustomization applied (removed: Flux prunes it), an Argo CD Application (removed: its
objects orphaned), or a field the API server refuses to change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govstack_gen.review.tree import Identity, StageObjects

__all__ = ["Change", "FieldChange", "compare"]

Path = tuple[str | int, ...]

# Removing these from the tree leaves data behind (CHECKLIST B10/B12): both engines are told
# never to delete them (Flux prune: disabled, Argo CD Prune=false,Delete=false), so they stay in
# the cluster, no longer managed by anything.
DATA_KINDS = {"Namespace": "the namespace is never pruned: it stays with everything in it, no longer managed "
                           "(delete it by hand once its data is safe)",
              "PersistentVolume": "the volume is never pruned: it stays with its data, no longer managed",
              "PersistentVolumeClaim": "the claim is never pruned: it stays bound to the data, no longer managed",
              # Kept in AWS (deletion protection, ACK's retain policy, never pruned), but no longer managed.
              "DBInstance": "the RDS instance and its data stay in AWS, unmanaged: delete them there or put it back"}
# Fields the API server refuses to change after creation (or Helm reinstalls on), by kind.
IMMUTABLE: dict[str, tuple[tuple[str, ...], ...]] = {
    "PersistentVolume": (("spec",),),
    "PersistentVolumeClaim": (("spec", "storageClassName"), ("spec", "volumeName"), ("spec", "accessModes"),
                              ("spec", "selector"), ("spec", "volumeMode")),
    "StorageClass": (("provisioner",), ("parameters",), ("reclaimPolicy",), ("volumeBindingMode",)),
    "CSIDriver": (("spec",),),
    "HelmRelease": (("spec", "releaseName"), ("spec", "targetNamespace"), ("spec", "storageNamespace"),
                    ("spec", "chart", "spec", "chart")),
    "Deployment": (("spec", "selector"),),
    "StatefulSet": (("spec", "selector"), ("spec", "serviceName"), ("spec", "volumeClaimTemplates")),
    "DBInstance": (("spec", "dbInstanceIdentifier"), ("spec", "engine"), ("spec", "storageEncrypted"),
                   ("spec", "dbSubnetGroupRef")),
}
MUTABLE_PV = (("spec", "capacity"), ("spec", "mountOptions"), ("spec", "persistentVolumeReclaimPolicy"))


@dataclass(frozen=True)
class FieldChange:
    path: Path
    old: Any  # MISSING when added
    new: Any  # MISSING when removed


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


@dataclass
class Change:
    """One object's change, in the stages where it is the same."""

    identity: Identity
    action: str  # added, changed, removed
    stages: list[str]
    block: str  # the building block it belongs to, or "platform"
    fields: list[FieldChange] = field(default_factory=list)
    destructive: str = ""  # why, when it is

    @property
    def kind(self) -> str:
        return self.identity[1]

    @property
    def name(self) -> str:
        _, _, namespace, name = self.identity
        return f"{namespace}/{name}" if namespace else name


def field_changes(old: Any, new: Any, path: Path = ()) -> list[FieldChange]:
    """Leaf-level differences; lists of equal length compare item by item, others whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += field_changes(old.get(key, MISSING), new.get(key, MISSING), (*path, key))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [c for i, (a, b) in enumerate(zip(old, new, strict=True)) for c in field_changes(a, b, (*path, i))]
    return [] if old == new else [FieldChange(path, old, new)]


def _block(obj: dict[str, Any]) -> str:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return str(labels.get("govstack.dev/building-block") or "platform")


def _immutable(kind: str, fields: list[FieldChange]) -> str:
    for change in fields:
        if kind == "PersistentVolume" and any(change.path[: len(m)] == m for m in MUTABLE_PV):
            continue
        for prefix in IMMUTABLE.get(kind, ()):
            if change.path[: len(prefix)] == prefix:
                what = ".".join(map(str, prefix))
                if kind == "HelmRelease":
                    return f"{what} changed: Helm uninstalls the release and installs it again"
                if kind == "DBInstance":
                    return f"{what} changed: RDS cannot change it in place (a new instance, the data migrated by hand)"
                return f"{what} cannot change after creation: the apply fails (delete and recreate, migrating data)"
        if kind == "PersistentVolumeClaim" and change.path[:4] == ("spec", "resources", "requests", "storage"):
            from govstack_gen.spec.types import parse_quantity

            try:
                if parse_quantity(str(change.new)) < parse_quantity(str(change.old)):
                    return "a claim cannot shrink"
            except ValueError:
                return "the claim's size changed to something unreadable"
    return ""


def _removal(identity: Identity, added: set[Identity]) -> str:
    group, kind, namespace, name = identity
    if kind in DATA_KINDS:
        return f"removed: {DATA_KINDS[kind]}"
    if kind == "HelmRelease":
        twins = sorted(i[3] for i in added if i[1] == "HelmRelease" and i[2] == namespace)
        if twins:
            return f"renamed to {twins[0]}: Flux uninstalls {name} and installs {twins[0]}"
        return "removed: Flux uninstalls the release"
    if kind == "Kustomization" and group == "kustomize.toolkit.fluxcd.io":
        return "removed: Flux prunes everything it applied"
    if kind == "Application" and group == "argoproj.io":
        # No resources finalizer: Argo CD deletes the Application and orphans what it synced.
        return "removed: Argo CD deletes the Application; what it synced stays, no longer synced or pruned"
    return ""


def _stage_changes(stage: str, old: dict[Identity, dict[str, Any]], new: dict[Identity, dict[str, Any]]) -> list[Change]:
    out = []
    added = set(new) - set(old)
    for ident in sorted(added):
        out.append(Change(ident, "added", [stage], _block(new[ident])))
    for ident in sorted(set(old) - set(new)):
        out.append(Change(ident, "removed", [stage], _block(old[ident]), destructive=_removal(ident, added)))
    for ident in sorted(set(old) & set(new)):
        fields = field_changes(old[ident], new[ident])
        if fields:
            out.append(Change(ident, "changed", [stage], _block(new[ident]), fields, _immutable(ident[1], fields)))
    return out


def compare(old: StageObjects, new: StageObjects) -> list[Change]:
    """Every change, the same change in several stages merged into one."""
    merged: dict[tuple[Any, ...], Change] = {}
    for stage in sorted(set(old.stages) | set(new.stages)):
        for change in _stage_changes(stage, old.stages.get(stage, {}), new.stages.get(stage, {})):
            key = (change.identity, change.action, repr(change.fields), change.destructive)
            if key in merged:
                merged[key].stages.append(stage)
            else:
                merged[key] = change
    order = {"removed": 0, "changed": 1, "added": 2}
    return sorted(merged.values(), key=lambda c: (not c.destructive, c.block, c.kind, c.name, order[c.action], c.stages))
