"""Data safety across renders: where every claim's data lives, and what a new render would
move or drop compared with the previous one (recorded in the ownership manifest).

Flux deletes what leaves the tree and Kubernetes refuses to change a volume's source in place;
a renamed building block or a changed path therefore strands or loses data. Such a render is
refused with the list of what would be lost unless the operator says `--allow-data-move`.
"""

from __future__ import annotations

from govstack_gen.catalog import SHIPPED
from govstack_gen.errors import Diagnostic, SourceLocation
from govstack_gen.resolve import Resolved, ResolvedVolume
from govstack_gen.spec.locate import BlockLocator
from govstack_gen.spec.model import DynamicBackend, EfsBackend, HostPathBackend, LocalBackend, NfsBackend
from govstack_gen.spec.storage import TRAEFIK

__all__ = ["Inventory", "Places", "claim_places", "data_inventory", "data_moves"]

# "namespace/claim" -> {"buildingBlock", "volume", "location", "claim"}
Inventory = dict[str, dict[str, str]]
# "namespace/claim" -> where the spec (or an entry of its catalog folders) writes the volume, and
# its spec path; under "" the place a claim no longer rendered is told at.
Places = dict[str, tuple[SourceLocation, str]]

MIGRATION_HINT = (
    "to keep the data where it is, give the volume its old location with an explicit `path` (see README, "
    "'Moving or renaming data'); once the data is safe, rerun with --allow-data-move"
)


def location(namespace: str, volume: ResolvedVolume) -> str:
    """Where the data is. A dynamic volume has no path of ours: its claim is its identity."""
    backend = volume.backend
    if isinstance(backend, LocalBackend):
        selector = ",".join(f"{k}={v}" for k, v in backend.node_selector())
        return f"local {selector}:{volume.path}"
    if isinstance(backend, HostPathBackend):
        return f"hostPath {volume.path}"
    if isinstance(backend, NfsBackend):
        return f"nfs {backend.server}:{volume.path}"
    if isinstance(backend, EfsBackend):
        return f"efs {volume.handle}"
    assert isinstance(backend, DynamicBackend)
    return f"dynamic {volume.storage_class} volume of claim {namespace}/{volume.claim}"


def data_inventory(env: Resolved) -> Inventory:
    inventory = _block_inventory(env)
    if env.acme is not None:  # Traefik's acme.json: its ACME account and certificates
        inventory[f"{env.ingress_namespace}/{env.acme.claim}"] = _entry(TRAEFIK, env.ingress_namespace, env.acme)
    return inventory


def _entry(owner: str, namespace: str, volume: ResolvedVolume) -> dict[str, str]:
    return {
        "buildingBlock": owner,
        "volume": volume.volume_name or "",
        "location": location(namespace, volume),
        # What Kubernetes never lets a bound claim change (k8s PR #28690): its request,
        # access modes and class.
        "claim": f"{volume.request} {','.join(volume.access_modes)} {volume.storage_class}",
    }


def _block_inventory(env: Resolved) -> Inventory:
    return {
        f"{block.namespace}/{volume.claim}": _entry(block.id, block.namespace, volume)
        for block in env.blocks
        for volume in block.volumes
    }


def claim_places(env: Resolved, locator: BlockLocator) -> Places:
    """Where each claim's volume is written. A shipped entry's volume is told at the building
    block's `catalog:` line: the spec is where the user keeps it in place (an explicit `path`)."""
    places: Places = {}
    for block in env.blocks:
        for volume in block.volumes:
            place = locator.locate(block.id, ("volumes", volume.name))
            if place[0].file.startswith(SHIPPED):
                place = locator.doc.place(("buildingBlocks", locator.index[block.id], "catalog"), key=True)
            places[f"{block.namespace}/{volume.claim}"] = place
    if env.acme is not None:
        ingress = locator.doc.data.get("ingress") or {}
        given = isinstance(ingress.get("traefik"), dict) and "storage" in ingress["traefik"]
        places[f"{env.ingress_namespace}/{env.acme.claim}"] = locator.doc.place(
            ("ingress", "traefik", "storage") if given else ("ingress", "certResolvers"))
    # A building block removed from the spec has no line left; the manifest keeps where the data
    # is, not the previous spec's lines (those would change it on every unrelated edit).
    places[""] = (locator.doc.location(("buildingBlocks",), key=True), "buildingBlocks")
    return places


def data_moves(previous: Inventory, current: Inventory, spec: str, places: Places | None = None) -> list[Diagnostic]:
    """Everything the new render would move or drop, as E516 errors (empty: safe), located at the
    volume in the spec when `places` tells where it is."""
    known = places or {}

    def error(claim: str, message: str, hint: str) -> Diagnostic:
        where, path = known.get(claim) or known.get("") or (SourceLocation(spec), "")
        return Diagnostic("E516", message, where, path, hint=hint)

    by_location = {entry["location"]: claim for claim, entry in current.items()}
    out = []
    for claim, before in sorted(previous.items()):
        after = current.get(claim)
        if after is None:
            successor = by_location.get(before["location"])
            if successor is not None:
                out.append(error(successor, f"claim {claim} of {before['buildingBlock']!r} becomes {successor} "
                                 f"(renamed?): its volume {before['volume'] or '(dynamic)'} at {before['location']} would "
                                 "be left behind and a new one created", MIGRATION_HINT))
            else:
                out.append(error("", f"claim {claim} of {before['buildingBlock']!r} ({before['location']}) is no longer "
                                 "rendered: its data would be left without a claim (its volume is gone from the spec, "
                                 "so it is told here, where the building blocks are)", MIGRATION_HINT))
        elif after["location"] != before["location"] or after["volume"] != before["volume"]:
            out.append(error(claim, f"claim {claim} would move from {before['location']} to {after['location']}",
                             "a volume's source cannot change in place; copy the data first, or keep the old location "
                             "with an explicit `path`; then rerun with --allow-data-move"))
        elif "claim" in before and after["claim"] != before["claim"]:
            out.append(error(claim, f"claim {claim} would change from ({before['claim']}) to ({after['claim']})",
                             "a bound claim's request, access modes and class are immutable: the apply would fail; "
                             "migrate to a new volume (new name), then rerun with --allow-data-move"))
    return out
