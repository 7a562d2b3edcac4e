"""Resolve a checked spec into what the renderers need: defaults applied, stage overrides
reduced to what really differs, dependencies in a stable order.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from govstack_gen.errors import Diagnostic
from govstack_gen.spec.model import (
    Access,
    AddOn,
    Aws,
    Backend,
    BuildingBlock,
    Database,
    DynamicBackend,
    Environment,
    ExternalService,
    GitChart,
    GitOps,
    Influence,
    Ingress,
    NodePools,
    RdsController,
    RepoChart,
    Resources,
    SecretRef,
    Sops,
)
from govstack_gen.spec.placeholders import BLOCK_ID, BLOCK_NAMESPACE, ENVIRONMENT, substitute
from govstack_gen.spec.requirements import append_at, external_calls, influences_on, provider_addresses, requirement_edges
from govstack_gen.spec.storage import TRAEFIK, Placement, placements, storage_class_name
from govstack_gen.spec.tenancy import ingress_namespace
from govstack_gen.spec.types import values_path

__all__ = ["Block", "Resolved", "ResolvedStage", "ResolvedVolume", "StageDelta", "Written", "deep_merge", "depths",
           "repo_source_kind", "resolve"]

SourceKind = Literal["HelmRepository", "OCIRepository", "GitRepository"]


@dataclass(frozen=True)
class ResolvedVolume:
    """A volume with every name and location the rendered objects use."""

    name: str
    backend: Backend
    claim: str  # PersistentVolumeClaim name, in the building block's namespace
    volume_name: str | None  # PersistentVolume name; None when a dynamic backend provisions it
    storage_class: str
    size: str
    request: str
    access_modes: tuple[str, ...]
    path: str | None
    handle: str | None
    chart_created: bool = False  # the chart creates the claim (chartClaim); the PV is pre-bound to it
    class_key: bool = False  # its storage class goes into the chart's values (storageClassKey)

    @property
    def static(self) -> bool:
        return self.volume_name is not None


@dataclass(frozen=True)
class Written:
    """A chart value govstack-gen writes itself (a claim name, a database endpoint, an address,
    an influence's item) rather than copies from the spec's values: `validate --charts` proves
    the chart reads each one."""

    key: str  # the values key, as the spec writes it (dots; `\.` escapes a dot)
    what: str  # what it carries, for messages
    origin: str  # the building block whose spec says to write it
    loc: tuple[str | int, ...]  # where in that building block (named list items by name)
    item: Any = None  # an influence's appended item (None: the key's whole value)


@dataclass(frozen=True)
class Block:
    """A building block as every stage starts from it (the base)."""

    id: str
    namespace: str
    chart: RepoChart | GitChart
    values: dict[str, Any]
    replicas: int | None
    depends_on: tuple[str, ...]
    resources: Resources
    spec: BuildingBlock  # the rest as written: access, routes, network, pod security
    volumes: tuple[ResolvedVolume, ...] = ()
    connects_to: tuple[str, ...] = ()  # building blocks it calls: the spec's flows plus requirements and influences
    influenced_by: tuple[str, ...] = ()  # building blocks whose influences changed its values
    weak: tuple[str, ...] = ()  # the dependencies that only a weak requirement adds (present, so ordered after)
    external: tuple[ExternalService, ...] = ()  # services outside the cluster it may call
    written: tuple[Written, ...] = ()  # the values govstack-gen writes into its chart
    endpoint: str | None = None  # where it answers inside the cluster (its spec's endpoint, placeholders replaced)

    @property
    def sops_secrets(self) -> tuple[SecretRef, ...]:
        """The Secrets the operator keeps SOPS-encrypted in the repository for this block."""
        return tuple(s for s in self.spec.secrets if s.source == "sops")

    @property
    def rds(self) -> Database | None:
        """The block's database when it lives on RDS (rendered as ACK objects)."""
        db = self.spec.database
        return db if db is not None and db.placement == "rds" else None

    @property
    def source_kind(self) -> SourceKind:
        return "GitRepository" if isinstance(self.chart, GitChart) else repo_source_kind(self.chart)


def repo_source_kind(chart: RepoChart) -> SourceKind:
    """The Flux source of a chart from a repository: OCI registries have their own kind."""
    return "OCIRepository" if chart.repo.startswith("oci://") else "HelmRepository"


@dataclass(frozen=True)
class StageDelta:
    """What one stage changes for one building block; None/empty means 'as in the base'."""

    values: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    replicas: int | None = None

    @property
    def empty(self) -> bool:
        return not self.values and self.version is None and self.replicas is None


@dataclass(frozen=True)
class ResolvedStage:
    name: str
    domain: str
    deltas: dict[str, StageDelta]  # by building block id; every block has an entry
    sops: Sops | None = None  # who can decrypt the stage's secrets


@dataclass(frozen=True)
class Resolved:
    name: str
    source: str  # the spec's file name, for headers
    gitops: GitOps
    blocks: tuple[Block, ...]  # sorted by id
    stages: tuple[ResolvedStage, ...]  # in spec order
    backends: tuple[Backend, ...] = ()
    ingress: Ingress | None = None
    ingress_namespace: str = "traefik"
    access: Access = field(default_factory=Access)
    node_pools: NodePools = field(default_factory=NodePools)
    aws: Aws | None = None  # the account RDS databases are created in
    external: tuple[ExternalService, ...] = ()  # sorted by id
    warnings: tuple[Diagnostic, ...] = ()  # from loading (an older spec version), for the command to print
    platform: str = "generic"  # k3s, eks or generic
    acme: ResolvedVolume | None = None  # the volume of Traefik's acme.json, when govstack-gen renders Traefik
    efs_csi_driver: AddOn = field(default_factory=lambda: AddOn.model_validate({}))
    rds_controller: RdsController = field(default_factory=lambda: RdsController.model_validate({}))

    def storage_class(self, backend: Backend) -> str:
        return storage_class_name(self.name, backend)

    def block(self, block_id: str) -> Block:
        return next(b for b in self.blocks if b.id == block_id)


def depths(env: Resolved) -> dict[str, int]:
    """Each building block one step after the deepest of its dependencies, roots at 0 (the spec
    checks refuse cycles, so the recursion ends)."""
    out: dict[str, int] = {}

    def depth(block_id: str) -> int:
        if block_id not in out:
            out[block_id] = 1 + max((depth(d) for d in env.block(block_id).depends_on), default=-1)
        return out[block_id]

    for block in env.blocks:
        depth(block.id)
    return out


def resolve(env: Environment, source: str) -> Resolved:
    located: dict[str, list[Placement]] = {}
    acme = None
    for placement in placements(env):
        if placement.block is None:
            acme = _volume(env.metadata.name, TRAEFIK, ingress_namespace(env), placement)
        else:
            located.setdefault(placement.block.id, []).append(placement)
    required = requirement_edges(env)
    namespace_of = {b.id: b.ns for b in env.building_blocks}
    spec_of = {b.id: b for b in env.building_blocks}
    influences = {t: [(s, namespace_of[s], inf, spec_of[s].influences.index(inf)) for s, inf in found]
                  for t, found in influences_on(env).items()}
    services = {s.id: s for s in env.external_services}
    calls = external_calls(env)
    endpoints = {b.id: _endpoint(b) for b in env.building_blocks}
    addresses = {b_id: [(key, provider, address, where) for key, provider, where in found
                        if (address := endpoints[provider]) is not None] for b_id, found in provider_addresses(env).items()}
    blocks = tuple(sorted(
        (_block(env.metadata.name, b, located.get(b.id, []), required[b.id], influences.get(b.id, []),
                [(services[s], key) for s, key in calls[b.id].items()], addresses[b.id]) for b in env.building_blocks),
        key=lambda b: b.id))
    stages = tuple(
        ResolvedStage(stage.name, stage.domain, {b.id: _delta(b, stage.building_blocks.get(b.id)) for b in blocks}, stage.sops)
        for stage in env.stages
    )
    backends = tuple(env.storage.backends) if env.storage else ()
    return Resolved(env.metadata.name, source, env.gitops, blocks, stages, backends, env.ingress,
                    ingress_namespace(env), env.access, env.platform.node_pools, env.platform.aws,
                    tuple(sorted(env.external_services, key=lambda s: s.id)), platform=env.platform.type, acme=acme,
                    efs_csi_driver=env.storage.efs_csi_driver if env.storage else AddOn.model_validate({}),
                    rds_controller=env.platform.rds_controller)


def _endpoint(spec: BuildingBlock) -> str | None:
    """Where the building block answers, its placeholders replaced (None: it says not)."""
    return substitute(spec.endpoint, {BLOCK_ID: spec.id, BLOCK_NAMESPACE: spec.ns}) if spec.endpoint else None


def _block(env_name: str, spec: BuildingBlock, located: list[Placement], required: dict[str, str],
           influences: list[tuple[str, str, Influence, int]], external: list[tuple[ExternalService, str | None]],
           addresses: list[tuple[str, str, str, tuple[str, int]]]) -> Block:
    volumes = tuple(_volume(env_name, spec.id, spec.ns, p) for p in located)
    values = deep_merge(spec.values, _database_values(spec.database))
    written = list(_database_written(spec))
    for url_key, provider, address, (strength, index) in addresses:  # the chart learns where its provider answers
        _set_path(values, values_path(url_key), address)
        written.append(Written(url_key, f"the address of {provider}", spec.id, ("requires", strength, index, "urlKey")))
    for service, key in external:
        if key and service.url:  # the chart learns where the external service answers
            _set_path(values, values_path(key), service.url)
            written.append(Written(key, f"the address of {service.id}", spec.id, ("requires",)))
    for placement, volume in zip(located, volumes, strict=True):
        declared, in_chart = placement.volume, placement.loc[-1] == "database"
        if declared.claim_key:
            _set_path(values, values_path(declared.claim_key), volume.claim)
            written.append(Written(declared.claim_key, f"the claim of volume {declared.name}", spec.id,
                                   declared.field_loc(declared.name, "claimKey", in_chart)))
        if declared.storage_class_key:
            # The chart's own claim takes the class whose only volumes are ours: it binds to the pre-bound PV.
            _set_path(values, values_path(declared.storage_class_key), volume.storage_class)
            written.append(Written(declared.storage_class_key, f"the storage class of volume {declared.name}", spec.id,
                                   declared.field_loc(declared.name, "storageClassKey", in_chart)))
    for index, secret in enumerate(spec.secrets):  # Flux hands these keys of the Secret to the chart (valuesFrom)
        written += [Written(values_key, f"key {secret_key!r} of secret {secret.name}", spec.id,
                            ("secrets", index, "valuesFrom", values_key)) for values_key, secret_key in secret.values_from.items()]
    for source, source_ns, influence, index in influences:
        names = {ENVIRONMENT: env_name, BLOCK_ID: source, BLOCK_NAMESPACE: source_ns}
        for position, append in enumerate(influence.append):
            item = substitute(append.item, names)
            append_at(values, values_path(append.key), item)
            written.append(Written(append.key, f"the item {source}'s influence appends", source,
                                   ("influences", index, "append", position, "key"), item))
    return Block(
        id=spec.id,
        namespace=spec.ns,
        chart=spec.chart,
        values=values,
        replicas=spec.replicas,
        depends_on=tuple(sorted(set(spec.depends_on) | set(required))),
        resources=spec.resources,
        spec=spec,
        volumes=volumes,
        # Flows: declared ones, to providers, and to the blocks whose influence says this one calls them.
        connects_to=tuple(sorted((set(spec.network.connects_to) - {s.id for s, _ in external}) | set(required)
                                 | {source for source, _, influence, _ in influences if influence.connect})),
        influenced_by=tuple(sorted({source for source, _, _, _ in influences})),
        weak=tuple(sorted(p for p, why in required.items() if why.startswith("requires (weak)") and p not in spec.depends_on)),
        external=tuple(s for s, _ in external),
        written=tuple(written),
        endpoint=_endpoint(spec),
    )


def _database_written(spec: BuildingBlock) -> list[Written]:
    """The database keys govstack-gen fills: the endpoint (Flux valuesFrom) and credentials of an
    external database."""
    db = spec.database
    if db is None or db.placement != "rds" or db.external is None:
        return []
    external = db.external
    keys: list[tuple[str, str | None, str]] = [("hostKey", external.host_key, "the database host"),
                                               ("portKey", external.port_key, "the database port")]
    if db.credentials:
        keys += [("userKey", external.user_key, "the database user"), ("secretKey", external.secret_key, "the credentials Secret"),
                 ("passwordKey", external.password_key, "the database password")]
    return [Written(key, what, spec.id, ("database", "external", field_name)) for field_name, key, what in keys if key]


def _database_values(db: Database | None) -> dict[str, Any]:
    """What turns the chart's own database on (in-chart) or points it at a Secret (rds: host and
    port come from Flux valuesFrom, see render/databases.py)."""
    if db is None:
        return {}
    if db.placement == "in-chart":
        return copy.deepcopy(db.in_chart.values) if db.in_chart else {}
    if db.external is None:
        return {}
    values = copy.deepcopy(db.external.values)
    if db.external.secret_key and db.credentials:
        _set_path(values, values_path(db.external.secret_key), db.credentials.secret)
    if db.external.user_key and db.credentials:
        _set_path(values, values_path(db.external.user_key), db.credentials.username)
    return values


def _volume(env_name: str, owner: str, namespace: str, placement: Placement) -> ResolvedVolume:
    volume, backend = placement.volume, placement.backend
    static = not isinstance(backend, DynamicBackend)
    return ResolvedVolume(
        name=volume.name,
        backend=backend,
        claim=volume.claim_name(owner),
        # Dots cannot appear in either part, so no two volumes of an environment share a name.
        volume_name=f"{env_name}.{namespace}.{volume.name}" if static else None,
        storage_class=storage_class_name(env_name, backend),
        size=volume.size,
        request=volume.request or volume.size,
        access_modes=tuple(volume.access_modes),
        path=placement.path,
        handle=placement.handle,
        chart_created=volume.chart_claim is not None,
        class_key=volume.storage_class_key is not None,
    )


def _set_path(values: dict[str, Any], path: list[str], value: str) -> None:
    node = values
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _delta(block: Block, override: Any) -> StageDelta:
    if override is None:
        return StageDelta()
    return StageDelta(
        values=copy.deepcopy(override.values),
        version=override.version if override.version != block.chart.version else None,
        replicas=override.replicas if override.replicas != block.replicas else None,
    )


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's and kustomize's merge of values: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
