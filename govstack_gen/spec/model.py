"""The spec language: `apiVersion: govstack.dev/v1alpha1`, `kind: Environment`.

Strict pydantic v2 models: unknown keys are errors (a misspelt key must never fall back to a
default silently), no type coercion (YAML's `version: 1.10` is a float, not "1.10"), immutable.
Field names are camelCase in YAML, like the Kubernetes objects the spec becomes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from pydantic.alias_generators import to_camel

from govstack_gen.spec.types import (
    BuildingBlockId,
    ChartName,
    ChartRepoUrl,
    ChartVersion,
    DnsLabel,
    Domain,
    Duration,
    EfsAccessPoint,
    EfsId,
    GitUrl,
    HostPath,
    LabelKey,
    LabelValue,
    NfsServer,
    Quantity,
    RelativePath,
    RepoPath,
    ValuesKey,
)

__all__ = [
    "API_VERSION",
    "Backend",
    "BuildingBlock",
    "Chart",
    "DynamicBackend",
    "EfsBackend",
    "Environment",
    "GitChart",
    "GitOps",
    "HostPathBackend",
    "LocalBackend",
    "Metadata",
    "NfsBackend",
    "NodePool",
    "NodePools",
    "NodeSelector",
    "Platform",
    "RepoChart",
    "ResourceList",
    "Resources",
    "Stage",
    "StageOverride",
    "Storage",
    "Volume",
]

API_VERSION = "govstack.dev/v1alpha1"


class SpecModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        alias_generator=to_camel,
        validate_by_name=False,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class Metadata(SpecModel):
    name: DnsLabel = Field(description="Environment name; used in labels and the GitRepository name.")
    description: str = ""


class Taint(SpecModel):
    key: LabelKey
    value: LabelValue = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class NodePool(SpecModel):
    labels: dict[LabelKey, LabelValue] = Field(description="Node labels that select this pool.")
    taints: list[Taint] = Field(default_factory=list, description="Taints the pool's nodes carry (tolerated by its pods).")


class NodePools(SpecModel):
    core: NodePool = NodePool(labels={"node-type": "core"})
    worker: NodePool = NodePool(labels={"node-type": "worker"})


class Platform(SpecModel):
    type: Literal["k3s", "eks", "generic"] = Field(description="Cluster flavour.")
    node_pools: NodePools = NodePools()


class GitOps(SpecModel):
    engine: Literal["flux", "argocd"] = Field("flux", description="GitOps controller that reconciles the tree.")
    url: GitUrl = Field(description="Git repository holding the rendered tree.")
    branch: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")] = "main"
    path: RepoPath = Field(".", description="Folder of the rendered tree inside that repository.")
    interval: Duration = Field("10m", description="How often Flux reconciles (Flux only: Argo CD's is its own setting).")


class RepoChart(SpecModel):
    """A chart from a Helm repository (https://) or an OCI registry (oci://)."""

    repo: ChartRepoUrl
    name: ChartName
    version: ChartVersion


class GitChart(SpecModel):
    """A chart from a folder of a git repository, pinned to a tag."""

    git: GitUrl
    path: RepoPath
    version: ChartVersion = Field(description="git tag of the release, a semantic version such as v1.4.2")


def _chart_tag(value: Any) -> str:
    if isinstance(value, dict):
        return "GitChart" if "git" in value else "RepoChart"
    return "GitChart" if isinstance(value, GitChart) else "RepoChart"


Chart = Annotated[
    Annotated[RepoChart, Tag("RepoChart")] | Annotated[GitChart, Tag("GitChart")],
    Discriminator(_chart_tag),
]


class ResourceList(SpecModel):
    cpu: Quantity
    memory: Quantity


class Resources(SpecModel):
    """The namespace's budget: rendered as its ResourceQuota (with a LimitRange for defaults)."""

    requests: ResourceList
    limits: ResourceList
    storage: Quantity | None = Field(None, description="Storage quota; default the sum of the volumes' claims.")


# -- ingress and access -----------------------------------------------------------------------


class EntryPoint(SpecModel):
    """A Traefik entry point for TCP routes (web and websecure are always there)."""

    name: DnsLabel
    port: Annotated[int, Field(ge=1, le=65535)]


class Ingress(SpecModel):
    namespace: DnsLabel | None = Field(None, description="Where Traefik runs; default kube-system on k3s, else traefik.")
    cert_resolvers: list[DnsLabel] = Field(default_factory=list, description="ACME resolvers configured in Traefik.")
    cert_resolver: DnsLabel | None = Field(None, description="Resolver for every route (or tlsSecret).")
    tls_secret: DnsLabel | None = Field(None, description="A certificate Secret (e.g. from cert-manager) in each namespace.")
    entry_points: list[EntryPoint] = Field(default_factory=list)


class Team(SpecModel):
    name: DnsLabel
    groups: Annotated[list[Annotated[str, Field(min_length=1, max_length=253)]], Field(min_length=1)] = Field(
        description="OIDC groups of the team's people."
    )


class PolicyRule(SpecModel):
    api_groups: list[str]
    resources: Annotated[list[str], Field(min_length=1)]
    verbs: Annotated[list[str], Field(min_length=1)]


class CustomRole(SpecModel):
    name: DnsLabel
    rules: Annotated[list[PolicyRule], Field(min_length=1)]


class Access(SpecModel):
    groups_prefix: str = Field(default="", description="The API server's --oidc-groups-prefix, e.g. 'oidc:'.")
    platform_admins: list[str] = Field(default_factory=list, description="OIDC groups bound to cluster-admin.")
    teams: list[Team] = Field(default_factory=list)
    roles: list[CustomRole] = Field(default_factory=list, description="Namespaced roles beyond admin/edit/view.")


class Route(SpecModel):
    name: DnsLabel
    host: str | None = Field(None, description="Host under the stage domain; default <route>.<building block>.")
    path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")] = "/"
    service: DnsLabel
    port: Annotated[int, Field(ge=1, le=65535)]
    middlewares: list[str] = Field(default_factory=list)
    priority: Annotated[int, Field(ge=1, le=10000)] | None = None
    cert_resolver: DnsLabel | None = None


class TcpRoute(SpecModel):
    name: DnsLabel
    entry_point: DnsLabel
    service: DnsLabel
    port: Annotated[int, Field(ge=1, le=65535)]


class IpAllowList(SpecModel):
    source_range: Annotated[list[str], Field(min_length=1)]


class ForwardAuth(SpecModel):
    address: Annotated[str, Field(pattern=r"^https?://")]


class BasicAuth(SpecModel):
    secret: DnsLabel = Field(description="Secret with the users (htpasswd), in the building block's namespace.")


class Middleware(SpecModel):
    name: DnsLabel
    ip_allow_list: IpAllowList | None = None
    forward_auth: ForwardAuth | None = None
    basic_auth: BasicAuth | None = None


class PodSecurity(SpecModel):
    level: Literal["restricted", "baseline", "privileged"] = "restricted"
    reason: str = Field(default="", description="Why a building block needs less than restricted.")


class Network(SpecModel):
    connects_to: list[BuildingBlockId] = Field(default_factory=list, description="Building blocks this one calls.")
    egress_cidrs: list[str] = Field(default_factory=list, description="Networks outside the cluster it may reach.")


# -- storage ----------------------------------------------------------------------------------


class NodeSelector(SpecModel):
    """The one node a local backend's directories live on: by node labels or by host name."""

    labels: dict[LabelKey, LabelValue] | None = Field(None, description="e.g. {storage-id: main-01}")
    hostname: DnsLabel | None = Field(None, description="the node's kubernetes.io/hostname")


class LocalBackend(SpecModel):
    """Directories on one node's disk (Kubernetes `local` volumes, pinned by node affinity)."""

    name: DnsLabel
    type: Literal["local"]
    root: HostPath = Field(description="Directory under which every volume's directory lives.")
    node: NodeSelector | None = Field(None, description="The node holding the directories (required).")


class HostPathBackend(SpecModel):
    """Directories of a single-node cluster (k3s), mounted as hostPath volumes."""

    name: DnsLabel
    type: Literal["hostPath"]
    root: HostPath


class NfsBackend(SpecModel):
    name: DnsLabel
    type: Literal["nfs"]
    server: NfsServer
    root: HostPath = Field(description="Export root on the server.")


class EfsBackend(SpecModel):
    """An AWS EFS file system, statically provisioned through the EFS CSI driver."""

    name: DnsLabel
    type: Literal["efs"]
    file_system_id: EfsId


class DynamicBackend(SpecModel):
    """An existing StorageClass that provisions volumes itself (e.g. EBS gp3): no fixed path."""

    name: DnsLabel
    type: Literal["dynamic"]
    storage_class_name: DnsLabel


Backend = Annotated[
    LocalBackend | HostPathBackend | NfsBackend | EfsBackend | DynamicBackend, Field(discriminator="type")
]


class Storage(SpecModel):
    backends: Annotated[list[Backend], Field(min_length=1)]


AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]


class Volume(SpecModel):
    name: DnsLabel
    size: Quantity = Field(description="Capacity of the volume.")
    request: Quantity | None = Field(None, description="What the claim requests; defaults to size.")
    access_modes: Annotated[list[AccessMode], Field(min_length=1)] = ["ReadWriteOnce"]
    backend: DnsLabel | None = Field(None, description="Storage backend; may be omitted when there is only one.")
    path: RelativePath | None = Field(
        None, description="Directory under the backend root; default <environment>/<namespace>/<volume>."
    )
    access_point: EfsAccessPoint | None = Field(None, description="EFS access point (efs backends only).")
    database: bool = Field(False, description="Holds a database: refused on network file systems.")
    values_key: ValuesKey | None = Field(
        None, description="Chart value that takes the claim name, e.g. persistence.existingClaim."
    )
    reclaim_policy: str = Field("Retain", description="Always Retain: a released volume keeps its data.")


class BuildingBlock(SpecModel):
    id: BuildingBlockId = Field(description="Building block id: the HelmRelease and Flux Kustomization name.")
    namespace: DnsLabel | None = Field(None, description="Namespace; defaults to the id.")
    description: str = ""
    chart: Chart
    values: dict[str, Any] = Field(default_factory=dict, description="Helm values for every stage.")
    replicas: Annotated[int, Field(ge=0, le=1000)] | None = Field(
        None, description="Replicas of every Deployment the chart renders (set through a post-renderer)."
    )
    depends_on: list[BuildingBlockId] = Field(default_factory=list, description="Building blocks that must be ready first.")
    resources: Resources = Field(description="The namespace's budget: ResourceQuota and LimitRange.")
    volumes: list[Volume] = Field(default_factory=list)
    pod_security: PodSecurity = Field(default_factory=PodSecurity)
    owner: DnsLabel | None = Field(None, description="Team the building block belongs to (cost tracking label).")
    teams: dict[DnsLabel, DnsLabel] = Field(default_factory=dict, description="Team -> role: admin, edit, view or a custom role.")
    routes: list[Route] = Field(default_factory=list)
    tcp_routes: list[TcpRoute] = Field(default_factory=list)
    middlewares: list[Middleware] = Field(default_factory=list)
    network: Network = Field(default_factory=Network)

    @property
    def ns(self) -> str:
        return self.namespace or self.id


class StageOverride(SpecModel):
    """What differs for one building block in one stage; deep-merged over the base."""

    values: dict[str, Any] = Field(default_factory=dict)
    version: ChartVersion | None = None
    replicas: Annotated[int, Field(ge=0, le=1000)] | None = None


class Stage(SpecModel):
    name: DnsLabel = Field(description="Stage name (one cluster per stage), e.g. dev, staging, prod.")
    domain: Domain = Field(description="Base domain of the stage's public routes.")
    building_blocks: dict[BuildingBlockId, StageOverride] = Field(default_factory=dict)


class Environment(SpecModel):
    api_version: Literal["govstack.dev/v1alpha1"]
    kind: Literal["Environment"]
    metadata: Metadata
    platform: Platform
    gitops: GitOps
    stages: Annotated[list[Stage], Field(min_length=1)]
    storage: Storage | None = None
    ingress: Ingress | None = None
    access: Access = Field(default_factory=Access)
    building_blocks: Annotated[list[BuildingBlock], Field(min_length=1)]
