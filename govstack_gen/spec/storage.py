"""Where each volume's data lives, and the rules that keep two volumes from sharing it.

A volume's location is predictable and documented: `<root>/<environment>/<namespace>/<volume>`
on its backend, or `<root>/<path>` with an explicit relative `path`. For EFS the root is the file
system (or the access point), and the location is the CSI `volumeHandle`
`fs-<id>[:/<path>][::fsap-<id>]`. This module is the one place that computes them: the checks
below and the renderer both call it.
"""

from __future__ import annotations

import difflib
import itertools
import json
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from govstack_gen.errors import Diagnostic
from govstack_gen.spec.load import Loc, SpecDocument
from govstack_gen.spec.model import (
    AcmeStorage,
    Backend,
    BuildingBlock,
    DynamicBackend,
    EfsBackend,
    Environment,
    HostPathBackend,
    LocalBackend,
    NfsBackend,
    Volume,
)
from govstack_gen.spec.tenancy import ingress_namespace
from govstack_gen.spec.types import parse_quantity, values_path

__all__ = ["SENSITIVE_PATHS", "TRAEFIK", "Placement", "acme_placement", "acme_storage", "check_storage", "is_sensitive",
           "placements", "storage_class_name"]

TRAEFIK = "traefik"  # the owner of the ACME volume in messages and in the data inventory

# Host paths whose exposure to a pod hands over the node (kube-linter sensitive-host-mounts,
# checkov CKV_K8S_27): a root may be neither one of them, inside one, nor contain one.
SENSITIVE_PATHS = (
    "/etc", "/root", "/home", "/boot", "/proc", "/sys", "/dev", "/bin", "/sbin", "/lib", "/lib64", "/usr",
    "/var/lib/kubelet", "/var/lib/containerd", "/var/lib/docker", "/var/lib/rancher", "/var/lib/etcd",
    "/var/run", "/run", "/var/log",
)
NETWORK_FILE_SYSTEMS = (NfsBackend, EfsBackend)
NODE_LOCAL = (LocalBackend, HostPathBackend)
SHARED_MODES = ("ReadWriteMany", "ReadOnlyMany")

def is_sensitive(path: str) -> bool:
    if path == "/" or path.rsplit("/", 1)[-1].endswith(".sock"):
        return True
    return any(path == s or path.startswith(s + "/") or s.startswith(path + "/") for s in SENSITIVE_PATHS)


@dataclass(frozen=True)
class Placement:
    """One volume on its backend: where its data is, as the rendered objects will say."""

    block: BuildingBlock | None  # None: Traefik's ACME volume (ingress.traefik.storage)
    volume: Volume
    backend: Backend
    loc: Loc  # spec path of the volume
    path: str | None  # absolute directory (local, hostPath, nfs) or EFS sub-path; None for dynamic
    handle: str | None  # EFS volumeHandle

    @property
    def owner(self) -> str:
        return self.block.id if self.block is not None else TRAEFIK

    @property
    def host(self) -> tuple[str, ...]:
        """What two paths must share to be the same directory: the node, server or file system."""
        backend = self.backend
        if isinstance(backend, LocalBackend):
            return ("node", *(f"{k}={v}" for k, v in backend.node_selector()))
        if isinstance(backend, HostPathBackend):
            return ("node", "single")
        if isinstance(backend, NfsBackend):
            return ("nfs", backend.server)
        if isinstance(backend, EfsBackend):
            return ("efs", backend.file_system_id, self.volume.access_point or "")
        return ("dynamic", backend.name)


def storage_class_name(env_name: str, backend: Backend) -> str:
    """Static backends get a class of ours, cluster-wide, so named per environment."""
    if isinstance(backend, DynamicBackend):
        return backend.storage_class_name
    return f"{env_name}.{backend.name}"


def backend_for(env: Environment, volume: Volume) -> Backend | None:
    backends = env.storage.backends if env.storage else []
    if volume.backend is None:
        return backends[0] if len(backends) == 1 else None
    return next((b for b in backends if b.name == volume.backend), None)


def placements(env: Environment) -> list[Placement]:
    """Every volume whose backend is known, with its location. Pure; used by checks and render."""
    out = []
    for b_index, block in enumerate(env.building_blocks):
        for where, volume in block.all_volumes():
            backend = backend_for(env, volume)
            if backend is None:
                continue
            path, handle = _location(env.metadata.name, block.ns, volume, backend)
            out.append(Placement(block, volume, backend, ("buildingBlocks", b_index, *where), path, handle))
    acme = acme_placement(env)
    return [*out, acme] if acme is not None else out


def acme_storage(env: Environment) -> tuple[AcmeStorage | None, Loc]:
    """The volume of Traefik's acme.json, where govstack-gen renders Traefik and a resolver needs
    it: the spec's, else one on the only storage backend (as for any volume). And where it is told."""
    ingress = env.ingress
    if ingress is None or ingress.traefik.provided or not ingress.cert_resolvers:
        return None, ()
    if ingress.traefik.storage is not None:
        return ingress.traefik.storage, ("ingress", "traefik", "storage")
    if env.storage is not None and len(env.storage.backends) == 1:
        return AcmeStorage.model_validate({}), ("ingress", "certResolvers")
    return None, ()


def acme_placement(env: Environment) -> Placement | None:
    storage, loc = acme_storage(env)
    if storage is None:
        return None
    volume = storage.volume()
    backend = backend_for(env, volume)
    if backend is None:
        return None
    path, handle = _location(env.metadata.name, ingress_namespace(env), volume, backend)
    return Placement(None, volume, backend, loc, path, handle)


def _location(env_name: str, namespace: str, volume: Volume, backend: Backend) -> tuple[str | None, str | None]:
    relative = volume.path or f"{env_name}/{namespace}/{volume.name}"
    if isinstance(backend, DynamicBackend):
        return None, None
    if isinstance(backend, EfsBackend):
        # With an access point the access point is the root; its own directory is used unless a
        # path is given. Without one, the default directory scheme applies on the file system.
        sub = volume.path if volume.access_point else relative
        handle = backend.file_system_id + (f":/{sub}" if sub else "") + (f":{volume.access_point}" if volume.access_point else "")
        if volume.access_point and not sub:
            handle = f"{backend.file_system_id}::{volume.access_point}"
        return (f"/{sub}" if sub else "/"), handle
    return f"{backend.root}/{relative}", None


# -- checks -------------------------------------------------------------------------------------


def check_storage(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    problems = _backends(env, doc)
    for b_index, block in enumerate(env.building_blocks):
        seen: dict[str, Loc] = {}
        claims: dict[str, tuple[str, Loc, bool]] = {}  # claim name -> (volume, where, chart-created)
        for where, volume in block.all_volumes():
            loc: Loc = ("buildingBlocks", b_index, *where)
            if volume.name in seen:
                message = f"volume {volume.name!r} is declared twice in {block.id!r}"
                hint = ("the in-chart database's volume is named 'database'; rename the other volume" if where == ("database",)
                        else "give each volume of a building block its own name")
                problems.append(doc.diagnostic((*loc, "name"), "E514", message, hint, related=((*seen[volume.name], "name"),)))
            seen.setdefault(volume.name, loc)
            claim = volume.claim_name(block.id)
            other = claims.get(claim)
            if other is not None and (volume.chart_claim or other[2]) and other[0] != volume.name:
                problems.append(doc.diagnostic(_field(loc, "chartClaim") if volume.chart_claim else (*loc, "name"), "E514",
                                               f"volume {volume.name!r} and volume {other[0]!r} of {block.id!r} both have claim {claim!r}",
                                               "two volumes cannot be bound to one claim: name the claim each one's chart creates",
                                               related=(_field(other[1], "chartClaim") if other[2] else (*other[1], "name"),)))
            claims.setdefault(claim, (volume.name, loc, volume.chart_claim is not None))
            problems += _volume(env, doc, block, volume, loc)
    problems += _acme_volume(env, doc)
    located = placements(env)
    problems += _shared_locations(doc, located)
    problems += _stage_overrides_of_claims(env, doc)
    return problems


def _stage_overrides_of_claims(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    """A stage's values must not replace the claim name a volume puts into the chart's values."""
    keys = {b.id: [(k, what) for _, v in b.all_volumes()
                   for k, what in ((v.claim_key, "a volume's claim"), (v.storage_class_key, "a volume's storage class")) if k]
            for b in env.building_blocks}
    out = []
    for s_index, stage in enumerate(env.stages):
        for block_id, override in stage.building_blocks.items():
            for key, holds in keys.get(block_id, []):
                node: Any = override.values
                parts = values_path(key)
                for depth, part in enumerate(parts):
                    if not isinstance(node, dict) or part not in node:
                        break
                    node = node[part]
                    if depth == len(parts) - 1 or not isinstance(node, dict):
                        loc: Loc = ("stages", s_index, "buildingBlocks", block_id, "values", *parts[: depth + 1])
                        message = f"stage {stage.name!r} overrides {key}, which holds {holds}"
                        out.append(doc.diagnostic(loc, "E515", message,
                                                  "govstack-gen sets it in every stage; remove it from the stage's values",
                                                  key=True))
                        break
    return out


def _backends(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    if env.storage is None:
        return []
    out = []
    seen: dict[str, int] = {}
    for index, backend in enumerate(env.storage.backends):
        loc: Loc = ("storage", "backends", index)
        if backend.name in seen:
            out.append(doc.diagnostic((*loc, "name"), "E514", f"storage backend {backend.name!r} is declared twice",
                                      "give each backend its own name", related=(("storage", "backends", seen[backend.name], "name"),)))
        seen.setdefault(backend.name, index)
        if isinstance(backend, NODE_LOCAL) and is_sensitive(backend.root):
            out.append(doc.diagnostic((*loc, "root"), "E502", f"{backend.root!r} is or contains a sensitive host path",
                                      "use a dedicated data directory such as /srv/k8s-data; volumes there can take over the node"))
        if isinstance(backend, HostPathBackend) and env.platform.type != "k3s":
            out.append(doc.diagnostic((*loc, "type"), "E507", f"hostPath storage on platform {env.platform.type!r}",
                                      "hostPath is only safe on a single-node k3s cluster: pods on another node see another "
                                      "disk; use a 'local' backend pinned to a node, or nfs/efs"))
        if isinstance(backend, LocalBackend) and (
            backend.node is None or (backend.node.labels is None) == (backend.node.hostname is None)
        ):
            out.append(doc.diagnostic((*loc, "node"), "E506", "a local backend needs exactly one of node.labels or node.hostname",
                                      "local volumes are pinned to one node, e.g. node: {labels: {storage-id: main-01}}"))
    return out


def _unknown_backend(env: Environment, doc: SpecDocument, volume: Volume, loc: Loc) -> list[Diagnostic]:
    if backend_for(env, volume) is not None:
        return []
    names = [b.name for b in env.storage.backends] if env.storage else []
    if not names:
        hint = "declare storage.backends (local, hostPath, nfs, efs or dynamic) first"
    elif volume.backend is None:
        hint = f"there are {len(names)} backends: choose one of {', '.join(names)}"
    else:
        close = difflib.get_close_matches(volume.backend, names, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "known backends: " + ", ".join(names)
    what = f"unknown storage backend {volume.backend!r}" if volume.backend else "no storage backend given"
    return [doc.diagnostic((*loc, "backend") if volume.backend else loc, "E512", what, hint)]


def _on_backend(doc: SpecDocument, backend: Backend, volume: Volume, loc: Loc) -> list[Diagnostic]:
    """What a backend cannot do for a volume, whoever owns it."""
    out = []
    if isinstance(backend, NODE_LOCAL) and any(m in SHARED_MODES for m in volume.access_modes):
        modes = ", ".join(m for m in volume.access_modes if m in SHARED_MODES)
        out.append(doc.diagnostic((*loc, "accessModes"), "E509", f"{modes} is not possible on a {backend.type} backend",
                                  "a node's disk is only reachable from that node: use ReadWriteOnce, or an nfs/efs backend"))
    if isinstance(backend, DynamicBackend) and volume.path is not None:
        out.append(doc.diagnostic((*loc, "path"), "E513", "a dynamic backend chooses the path itself",
                                  "remove path, or use a static backend (local, hostPath, nfs, efs)"))
    if volume.access_point is not None and not isinstance(backend, EfsBackend):
        out.append(doc.diagnostic((*loc, "accessPoint"), "E513", f"accessPoint applies to efs backends, not {backend.type}",
                                  "remove accessPoint"))
    return out


def _acme_volume(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    storage, loc = acme_storage(env)
    if storage is None:
        return []
    volume = storage.volume()
    backend = backend_for(env, volume)
    if backend is None:
        return _unknown_backend(env, doc, volume, loc)
    return _on_backend(doc, backend, volume, loc)


def _volume(env: Environment, doc: SpecDocument, block: BuildingBlock, volume: Volume, loc: Loc) -> list[Diagnostic]:
    out = _unknown_backend(env, doc, volume, loc)
    backend = backend_for(env, volume)
    if volume.reclaim_policy != "Retain":
        out.append(doc.diagnostic((*loc, "reclaimPolicy"), "E511", f"reclaimPolicy {volume.reclaim_policy!r} would delete data",
                                  "volumes are always Retain: the data outlives its claim; remove the field"))
    if volume.request is not None and parse_quantity(volume.request) > parse_quantity(volume.size):
        message = f"the claim requests {volume.request} but the volume has {volume.size}"
        out.append(doc.diagnostic((*loc, "request"), "E508", message,
                                  "a claim never binds to a smaller volume; raise size or lower request"))
    out += _claim(doc, block, volume, loc)
    if backend is None:
        return out
    if volume.storage_class_key:
        name = storage_class_name(env.metadata.name, backend)
        out += _written_value(doc, block, volume.storage_class_key, name, f"the storage class {name!r}",
                              _field(loc, "storageClassKey"))
    out += _on_backend(doc, backend, volume, loc)
    if volume.database and isinstance(backend, NETWORK_FILE_SYSTEMS):
        # A volume says so with `database: true`; an in-chart database is one, placed by its backend.
        where = (*loc, "backend") if loc[-1] == "database" else (*loc, "database")
        out.append(doc.diagnostic(where, "E510", f"database volume on a network file system ({backend.type})",
                                  "databases on NFS/EFS corrupt and crawl: use a local or block-storage (dynamic) backend, "
                                  "or a managed database"))
    return out


def _field(loc: Loc, name: str) -> Loc:
    """Where a volume's field is written: the in-chart database's under database.inChart."""
    return (*loc, "inChart", name) if loc[-1] == "database" else (*loc, name)


def _claim(doc: SpecDocument, block: BuildingBlock, volume: Volume, loc: Loc) -> list[Diagnostic]:
    """A volume's claim is said one way: govstack-gen's claim handed to the chart (claimKey), or
    the chart's own claim pre-bound to the volume (chartClaim, whose class goes to storageClassKey)."""
    out = []
    if volume.claim_key and volume.chart_claim:
        out.append(doc.diagnostic(_field(loc, "chartClaim"), "E517", "a volume takes claimKey or chartClaim, not both",
                                  "claimKey: govstack-gen creates the claim and hands its name to the chart; chartClaim: the "
                                  "chart creates the claim and the volume is pre-bound to it; keep one"))
    if volume.storage_class_key and not volume.chart_claim:
        out.append(doc.diagnostic(_field(loc, "storageClassKey"), "E518", "storageClassKey without chartClaim",
                                  "storageClassKey goes with chartClaim (the claim the chart creates); with claimKey the "
                                  "claim is govstack-gen's and has its class already"))
    claim = volume.claim_name(block.id)
    if volume.claim_key:
        out += _written_value(doc, block, volume.claim_key, claim, f"the claim {claim!r}", _field(loc, "claimKey"))
    return out


def _written_value(doc: SpecDocument, block: BuildingBlock, key: str, value: str, what: str, loc: Loc) -> list[Diagnostic]:
    """govstack-gen writes `value` into the values at `key`: refuse if the values say otherwise."""
    parts = values_path(key)
    node: Any = block.values
    for depth, part in enumerate(parts):
        if not isinstance(node, dict):
            where = ".".join(parts[:depth])
            return [doc.diagnostic(loc, "E515", f"values set {where} to {json.dumps(node)}, not a mapping",
                                   f"govstack-gen sets {key} to {what}; remove {where} from values")]
        if part not in node:
            return []
        node = node[part]
    if node == value:
        return []
    return [doc.diagnostic(loc, "E515", f"values already set {key} to {json.dumps(node)}",
                           f"govstack-gen sets it to {what}; remove it from values")]


def _shared_locations(doc: SpecDocument, located: list[Placement]) -> list[Diagnostic]:
    """Every pair of volumes sharing an EFS handle or a directory (the same, or one inside the
    other) on the same node, server or file system; found without comparing every pair."""
    same_handle = {pair for group in _groups(located, lambda p: p.handle) for pair in itertools.combinations(group, 2)}
    nested = {pair for group in _groups(located, lambda p: p.host if p.path else None) for pair in _nested(located, group)}
    out = []
    for i, j in sorted(same_handle | nested):
        first, second = located[i], located[j]
        if (i, j) in same_handle:
            out.append(doc.diagnostic(second.loc, "E504", f"volume handle {second.handle} is also used by "
                                      f"{first.owner}/{first.volume.name}", "each volume needs its own directory or access point",
                                      related=(first.loc,)))
        else:
            how = "the same directory as" if first.path == second.path else "a directory nested with"
            out.append(doc.diagnostic(second.loc, "E503", f"{_where(second)} is {how} {_where(first)} of "
                                      f"{first.owner}/{first.volume.name}", "two volumes must never share data: change one path",
                                      related=(first.loc,)))
    return out


def _where(placement: Placement) -> str:
    """A volume's directory as a person finds it: on EFS, a path of which file system, under
    which access point (the path is relative to the access point's root)."""
    backend = placement.backend
    if not isinstance(backend, EfsBackend):
        return str(placement.path)
    point = placement.volume.access_point
    return f"{placement.path} (EFS {backend.file_system_id}{f', access point {point}' if point else ''})"


def _groups(located: list[Placement], key: Callable[[Placement], Hashable | None]) -> list[list[int]]:
    groups: dict[Hashable, list[int]] = {}
    for index, placement in enumerate(located):
        value = key(placement)
        if value:
            groups.setdefault(value, []).append(index)
    return [g for g in groups.values() if len(g) > 1]


def _nested(located: list[Placement], group: list[int]) -> Iterator[tuple[int, int]]:
    """Pairs (lower index first) whose directories are equal or nested. Sorted by components, a
    directory comes right before everything inside it, so a stack of enclosing ones suffices."""
    parts = {i: tuple((located[i].path or "").rstrip("/").split("/")) for i in group}
    enclosing: list[int] = []
    for index in sorted(group, key=lambda i: (parts[i], i)):
        while enclosing and parts[index][:len(parts[enclosing[-1]])] != parts[enclosing[-1]]:
            enclosing.pop()
        for outer in enclosing:
            yield min(outer, index), max(outer, index)
        enclosing.append(index)
