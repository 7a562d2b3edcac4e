"""The spec language: `apiVersion: govstack.dev/v1alpha2`, `kind: Environment`.

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
    ClaimName,
    DnsLabel,
    Domain,
    Duration,
    EfsAccessPoint,
    EfsId,
    GitRevision,
    GitUrl,
    HostPath,
    LabelKey,
    LabelValue,
    NfsServer,
    Quantity,
    RelativePath,
    RepoPath,
    ServiceUrl,
    Size,
    ValuesKey,
)

__all__ = [
    "API_VERSION",
    "Aws",
    "Backend",
    "BlockSpec",
    "BuildingBlock",
    "CatalogRef",
    "Chart",
    "Database",
    "DynamicBackend",
    "EfsBackend",
    "Environment",
    "ExternalService",
    "ExternalSpec",
    "GitChart",
    "GitOps",
    "HostPathBackend",
    "Influence",
    "LocalBackend",
    "Metadata",
    "NfsBackend",
    "NodePool",
    "NodePools",
    "NodeSelector",
    "Platform",
    "RepoChart",
    "Requirement",
    "Requires",
    "ResourceList",
    "Resources",
    "SecretRef",
    "Selector",
    "Stage",
    "StageOverride",
    "Storage",
    "Volume",
]

API_VERSION = "govstack.dev/v1alpha2"  # older ones: spec/versions.py


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


IAM_ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
IamRoleArn = Annotated[str, Field(pattern=IAM_ROLE_ARN, description="e.g. arn:aws:iam::123456789012:role/name")]


class RepoChart(SpecModel):
    """A chart from a Helm repository (https://) or an OCI registry (oci://)."""

    repo: ChartRepoUrl
    name: ChartName
    version: ChartVersion


class AddOn(SpecModel):
    """An add-on of the platform: installed by govstack-gen from its chart, or provided by the
    cluster (an EKS managed add-on, a Terraform-installed controller) and then only relied on."""

    provided: bool = Field(False, description="Installed outside this tree: nothing is rendered for it.")
    chart: RepoChart | None = Field(None, description="The chart installed; default the version govstack-gen is tested with.")


class KarpenterLimits(SpecModel):
    cpu: Quantity | None = Field(None, description="Most CPU the pool's nodes may add up to.")
    memory: Quantity | None = Field(None, description="Most memory the pool's nodes may add up to.")


class KarpenterDisruption(SpecModel):
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = "WhenEmptyOrUnderutilized"
    consolidate_after: Duration = Field("5m", description="How long a node stays empty or underused before it goes.")
    budget: Annotated[str, Field(pattern=r"^((100|[0-9]{1,2})%|[0-9]+)$")] = Field(
        "10%", description="At most this many nodes (or percent) disrupted at once.")


class KarpenterController(SpecModel):
    """The Karpenter controller installed by govstack-gen: a release per stage (each stage is a
    cluster of its own, with its name, queue and role) in kube-system, on the core pool, with its
    CRDs. ${environment} and ${stage} are replaced in the strings."""

    chart: RepoChart | None = Field(None, description="The chart installed; default the version govstack-gen is tested with.")
    role_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/${}-]{1,512}$")] | None = Field(
        None, description="IAM role of its service account (IRSA), e.g. arn:aws:iam::123456789012:role/"
        "KarpenterController-${environment}-${stage}; leave out when an EKS Pod Identity association gives "
        "kube-system/karpenter its role.")
    cluster_name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9${}][A-Za-z0-9_${}-]*$")] = Field(
        "${environment}-${stage}", description="Name of the stage's EKS cluster.")
    interruption_queue: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_${}-]+$")] | None = Field(
        None, description="SQS queue of the cluster's spot interruption and rebalance events (Karpenter drains those nodes "
        "first); default none.")


class Karpenter(SpecModel):
    """The worker pool's nodes from Karpenter (EKS): a NodePool and its EC2NodeClass per stage,
    carrying the pool's labels and taints. The controller is the cluster's (installed with its
    IAM role by the cluster's infrastructure code) unless `controller` asks govstack-gen to
    install it. ${environment} and ${stage} are replaced in the strings (one cluster per stage)."""

    node_role: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9+=,.@_${}-]+$")] = Field(
        "KarpenterNodeRole-${environment}-${stage}", description="IAM role (name) of the nodes.")
    discovery: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9+=,.@_${}:/-]+$")] = Field(
        "${environment}-${stage}", description="Value of the karpenter.sh/discovery tag on the cluster's subnets and "
        "security groups (usually the cluster name).")
    ami_alias: Annotated[str, Field(pattern=r"^(al2023|bottlerocket)@(latest|v[0-9][0-9.]*)$")] = Field(
        "al2023@latest", description="EKS-optimised AMI family and version; pin a version (al2023@v20251117) in production.")
    capacity_types: Annotated[list[Literal["on-demand", "spot", "reserved"]], Field(min_length=1)] = ["on-demand"]
    instance_families: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*[0-9][a-z0-9-]*$")]] = Field(
        default_factory=list, description="e.g. [m7i, m6i]; default: any family Karpenter finds fitting.")
    instance_sizes: list[Annotated[str, Field(pattern=r"^[0-9]*[a-z]+$")]] = Field(
        default_factory=list, description="e.g. [large, xlarge, 2xlarge]; default any.")
    architectures: Annotated[list[Literal["amd64", "arm64"]], Field(min_length=1)] = ["amd64"]
    limits: KarpenterLimits = Field(default_factory=lambda: KarpenterLimits.model_validate({}))
    disruption: KarpenterDisruption = Field(default_factory=lambda: KarpenterDisruption.model_validate({}))
    controller: KarpenterController | None = Field(
        None, description="Install the controller too (default: the cluster has it, e.g. from Terraform or EKS Auto Mode).")


class NodePool(SpecModel):
    labels: dict[LabelKey, LabelValue] = Field(description="Node labels that select this pool.")
    taints: list[Taint] = Field(default_factory=list, description="Taints the pool's nodes carry (tolerated by its pods).")


class WorkerPool(NodePool):
    karpenter: Karpenter | None = Field(None, description="EKS: the pool's nodes provisioned by Karpenter.")


class NodePools(SpecModel):
    core: NodePool = NodePool(labels={"node-type": "core"})
    worker: WorkerPool = WorkerPool.model_validate({"labels": {"node-type": "worker"}})


class RdsController(AddOn):
    """The ACK RDS controller, which turns the DBInstances of databases placed on RDS into
    databases in the AWS account (installed in ack-system when one is)."""

    role_arn: IamRoleArn | None = Field(None, description="IAM role of its service account (IRSA): allowed to manage "
                                        "RDS instances and subnet groups. Required unless provided.")


class Aws(SpecModel):
    """The AWS account details the ACK RDS controller needs for databases placed on RDS."""

    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$", description="e.g. eu-central-1")]
    database_subnet_ids: Annotated[list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]], Field(min_length=2)] = Field(
        description="Private subnets (two availability zones at least) of the RDS subnet groups."
    )
    database_security_group_ids: Annotated[list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]], Field(min_length=1)] = Field(
        description="Security groups of the RDS instances (allowing the cluster's nodes in)."
    )


class Platform(SpecModel):
    type: Literal["k3s", "eks", "generic"] = Field(description="Cluster flavour.")
    node_pools: NodePools = NodePools()
    aws: Aws | None = Field(None, description="AWS details (EKS only), needed by databases placed on RDS.")
    rds_controller: RdsController = Field(default_factory=lambda: RdsController.model_validate({}))


class GitOps(SpecModel):
    engine: Literal["flux", "argocd"] = Field("flux", description="GitOps controller that reconciles the tree.")
    url: GitUrl = Field(description="Git repository holding the rendered tree.")
    branch: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")] = "main"
    path: RepoPath = Field(".", description="Folder of the rendered tree inside that repository.")
    interval: Duration = Field("10m", description="How often Flux reconciles (Flux only: Argo CD's is its own setting).")
    secret_ref: DnsLabel | None = Field(
        None, description="Secret in flux-system with the credentials to clone the repository (Flux only: Argo CD takes "
        "a repository credential Secret of its own). Default for ssh:// URLs: flux-system, the Secret `flux bootstrap` "
        "creates; none for https:// (a public repository).")


class GitChart(SpecModel):
    """A chart from a folder of a git repository, pinned to a tag or a commit."""

    git: GitUrl
    path: RepoPath
    version: GitRevision = Field(description="git tag of the release, a semantic version such as v1.4.2, or the full "
                                 "SHA of a commit (for a repository that tags no releases)")
    secret_ref: DnsLabel | None = Field(
        None, description="A Secret declared under the building block's secrets with the credentials to clone a private "
        "repository (identity and known_hosts for ssh://, which needs one; username and password for https://). Flux "
        "only: Argo CD takes a repository credential Secret of its own.")


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


LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
TRAEFIK_CHART = {"repo": "https://traefik.github.io/charts", "name": "traefik", "version": "41.3.0"}
# The add-ons' charts govstack-gen is tested with (../shared/charts/platform in its tests).
CERT_MANAGER_CHART = {"repo": "https://charts.jetstack.io", "name": "cert-manager", "version": "v1.21.1"}
EFS_CSI_CHART = {"repo": "https://kubernetes-sigs.github.io/aws-efs-csi-driver", "name": "aws-efs-csi-driver", "version": "4.4.1"}
RDS_CHART = {"repo": "oci://public.ecr.aws/aws-controllers-k8s", "name": "rds-chart", "version": "1.11.1"}
KARPENTER_CHART = {"repo": "oci://public.ecr.aws/karpenter", "name": "karpenter", "version": "1.14.1"}


class CertResolver(SpecModel):
    """An ACME certificate resolver of Traefik (Let's Encrypt unless caServer says otherwise)."""

    name: DnsLabel
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)] | None = Field(
        None, description="ACME account contact (optional for Let's Encrypt).")
    challenge: Literal["tls", "http"] = Field(
        "tls", description="tls: TLS-ALPN-01 on websecure (port 443 reachable); http: HTTP-01 on web (port 80).")
    ca_server: ServiceUrl = Field(LETS_ENCRYPT, description="ACME directory; Let's Encrypt's staging one for tests.")


class AcmeStorage(SpecModel):
    """Where Traefik keeps acme.json (the ACME account and certificates): a volume like any other,
    at <root>/<environment>/<traefik namespace>/acme unless `path` says otherwise."""

    backend: DnsLabel | None = Field(None, description="Storage backend; may be omitted when there is only one.")
    size: Size = "128Mi"
    path: RelativePath | None = Field(None, description="Directory under the backend root.")
    access_point: EfsAccessPoint | None = Field(None, description="EFS access point (efs backends only).")

    def volume(self) -> Volume:
        return Volume.model_validate({"name": "acme", "size": self.size, "backend": self.backend, "path": self.path,
                                      "accessPoint": self.access_point})


class Traefik(SpecModel):
    """The Traefik the routes go through: rendered by govstack-gen (on k3s in kube-system, its
    bundled Traefik configured with a HelmChartConfig; elsewhere a HelmRelease of the Traefik
    chart), or provided by the cluster and only checked against the routes."""

    provided: bool = Field(False, description="Installed and configured outside this tree: nothing is rendered for it.")
    chart: RepoChart | None = Field(
        None, description="The chart installed where Traefik is not k3s's bundled one; default traefik 41.3.0 from "
        "https://traefik.github.io/charts.")
    storage: AcmeStorage | None = Field(
        None, description="The volume of acme.json; default on the only storage backend, if there is exactly one.")


class Route53(SpecModel):
    """DNS-01 through Route 53: cert-manager writes the challenge's TXT records in the zone."""

    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$", description="e.g. eu-central-1")]
    hosted_zone_id: Annotated[str, Field(pattern=r"^Z[A-Z0-9]{1,31}$", description="The stage domains' hosted zone.")]


class CertIssuer(SpecModel):
    """The ACME ClusterIssuer the Certificates of tlsSecret come from."""

    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)] = Field(
        description="ACME account contact (expiry notices).")
    server: ServiceUrl = Field(LETS_ENCRYPT, description="ACME directory; Let's Encrypt's staging one for tests.")
    route53: Route53 | None = Field(None, description="Answer DNS-01 challenges in Route 53 (required: the solver).")


class CertManager(AddOn):
    """cert-manager, for ingress.tlsSecret: a ClusterIssuer, and in every namespace with routes a
    Certificate whose Secret is tlsSecret, naming that namespace's hosts of the stage."""

    issuer: CertIssuer | None = Field(None, description="The ACME issuer (required).")
    role_arn: IamRoleArn | None = Field(None, description="IAM role of cert-manager's service account (IRSA), allowed "
                                        "to change the hosted zone's records.")


class Ingress(SpecModel):
    namespace: DnsLabel | None = Field(None, description="Where Traefik runs; default kube-system on k3s, else traefik.")
    traefik: Traefik = Field(default_factory=lambda: Traefik.model_validate({}))
    cert_resolvers: list[DnsLabel | CertResolver] = Field(
        default_factory=list, description="ACME resolvers configured in Traefik: a name (every default) or the resolver.")
    cert_resolver: DnsLabel | None = Field(None, description="Resolver for every route (or tlsSecret).")
    tls_secret: DnsLabel | None = Field(None, description="A certificate Secret in each namespace with routes: from "
                                        "cert-manager when certManager is set, else put there by other means.")
    cert_manager: CertManager | None = Field(None, description="cert-manager issuing tlsSecret.")
    entry_points: list[EntryPoint] = Field(default_factory=list)

    def resolvers(self) -> list[CertResolver]:
        return [CertResolver.model_validate({"name": r}) if isinstance(r, str) else r for r in self.cert_resolvers]

    @property
    def resolver_names(self) -> list[str]:
        return [r.name for r in self.resolvers()]


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
    target_port: Annotated[int, Field(ge=1, le=65535)] | None = Field(
        None, description="The pods' port the Service sends `port` to, which the network policy opens; default: port."
    )
    middlewares: list[str] = Field(default_factory=list)
    priority: Annotated[int, Field(ge=1, le=10000)] | None = None
    cert_resolver: DnsLabel | None = None


class TcpRoute(SpecModel):
    name: DnsLabel
    entry_point: DnsLabel
    service: DnsLabel
    port: Annotated[int, Field(ge=1, le=65535)]
    target_port: Annotated[int, Field(ge=1, le=65535)] | None = Field(
        None, description="The pods' port the Service sends `port` to, which the network policy opens; default: port."
    )


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

    def node_selector(self) -> list[tuple[str, str]]:
        """The node labels the volumes are pinned to (by labels, or by host name)."""
        if self.node is None:
            return []
        if self.node.labels:
            return sorted(self.node.labels.items())
        return [("kubernetes.io/hostname", self.node.hostname or "")]


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
    efs_csi_driver: AddOn = Field(
        default_factory=lambda: AddOn.model_validate({}),
        description="The EFS CSI driver (when an efs backend is used): installed in kube-system unless provided (e.g. the "
        "EKS add-on); default chart aws-efs-csi-driver 4.4.1.")


AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]


class Volume(SpecModel):
    name: DnsLabel
    size: Size = Field(description="Capacity of the volume.")
    request: Size | None = Field(None, description="What the claim requests; defaults to size.")
    access_modes: Annotated[list[AccessMode], Field(min_length=1)] = ["ReadWriteOnce"]
    backend: DnsLabel | None = Field(None, description="Storage backend; may be omitted when there is only one.")
    path: RelativePath | None = Field(
        None, description="Directory under the backend root; default <environment>/<namespace>/<volume>."
    )
    access_point: EfsAccessPoint | None = Field(None, description="EFS access point (efs backends only).")
    database: bool = Field(False, description="Holds a database: refused on network file systems.")
    claim_key: ValuesKey | None = Field(
        None, description="Chart value that takes the claim name, e.g. persistence.existingClaim (valuesKey in v1alpha1)."
    )
    chart_claim: ClaimName | None = Field(
        None, description="Instead of claimKey: the claim the chart creates itself (a StatefulSet's volumeClaimTemplate "
        "makes <template>-<statefulset>-<ordinal>), which the volume is pre-bound to; ${block.id} is replaced."
    )
    storage_class_key: ValuesKey | None = Field(
        None, description="With chartClaim: the chart value that takes the storage class of its claim (the volume's "
        "class, which never provisions: the claim waits for its volume)."
    )
    reclaim_policy: str = Field("Retain", description="Always Retain: a released volume keeps its data.")

    def claim_name(self, block_id: str) -> str:
        """The claim the volume is bound to: the chart's own (chartClaim), else govstack-gen's."""
        return self.chart_claim or f"{block_id}-{self.name}"

    @staticmethod
    def field_loc(name: str, field: str, in_chart_database: bool) -> tuple[str, ...]:
        """Where a field of the building block's volume `name` is written (named list items by
        name): the in-chart database's under database.inChart."""
        return ("database", "inChart", field) if in_chart_database else ("volumes", name, field)


# -- catalog, dependencies, databases, secrets --------------------------------------------------

VersionOperator = Literal[">=", ">", "<", "<=", "=="]


class LabelExpression(SpecModel):
    """A label requirement as in Kubernetes' matchExpressions, plus comparisons of semantic versions."""

    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", ">=", ">", "<", "<=", "=="]
    values: list[LabelValue] = Field(
        default_factory=list, description="In/NotIn: one or more; Exists/DoesNotExist: none; comparisons: one semantic version."
    )


class Selector(SpecModel):
    """Building blocks by their labels: every matchLabels pair and every expression must hold."""

    match_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    match_expressions: list[LabelExpression] = Field(default_factory=list)


class Requirement(Selector):
    description: str = Field("", description="What is needed, for messages, e.g. 'event streaming (Kafka)'.")
    url_key: ValuesKey | None = Field(
        None, description="Chart value that takes the provider's address: an external service's url, a building "
        "block's endpoint."
    )


class Requires(SpecModel):
    strong: list[Requirement] = Field(default_factory=list, description="Must be present: render fails otherwise.")
    weak: list[Requirement] = Field(default_factory=list, description="Ordered after when present.")


class ValuesAppend(SpecModel):
    key: ValuesKey = Field(description="A list in the target's values, e.g. prometheus.prometheusSpec.additionalScrapeConfigs.")
    item: Any = Field(description="Appended item; ${block.id}, ${block.namespace}, ${environment} are replaced.")


class Influence(SpecModel):
    """How this building block changes the rendered config of others (e.g. monitoring scrapes it)."""

    description: str = ""
    target: Selector = Field(description="The building blocks influenced (by their labels).")
    append: list[ValuesAppend] = Field(default_factory=list, description="Items added to lists in the target's values.")
    connect: bool = Field(False, description="The target calls this building block (network policies allow it).")


class CatalogRef(SpecModel):
    name: DnsLabel = Field(description="Catalog entry, e.g. payments.")
    version: ChartVersion | None = Field(None, description="Entry version; default the newest.")


class InChartDatabase(SpecModel):
    """How the chart runs its own database: the claim of a static volume, and values turning it on."""

    claim_key: ValuesKey | None = Field(None, description="Chart value that takes the claim name.")
    chart_claim: ClaimName | None = Field(None, description="Instead of claimKey: the claim the chart creates itself.")
    storage_class_key: ValuesKey | None = Field(None, description="With chartClaim: the chart value that takes its storage class.")
    values: dict[str, Any] = Field(default_factory=dict)


class ExternalDatabase(SpecModel):
    """How the chart takes a database outside it (rds): where host, port and the secret go."""

    host_key: ValuesKey
    port_key: ValuesKey
    user_key: ValuesKey | None = Field(None, description="Chart value that takes the user name of the credentials.")
    secret_key: ValuesKey | None = Field(None, description="Chart value that takes the credentials Secret's name.")
    password_key: ValuesKey | None = Field(
        None, description="For a chart that reads no existing Secret: the chart value that takes the password itself, "
        "passed by Flux from the credentials Secret at install (valuesFrom), never written in the repository."
    )
    values: dict[str, Any] = Field(default_factory=dict)


class Credentials(SpecModel):
    secret: DnsLabel = Field(description="A Secret declared under the building block's secrets.")
    password_key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")] = "password"
    username: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,15}$")] = "govstack"


class RdsOptions(SpecModel):
    instance_class: Annotated[str, Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")] = "db.t4g.medium"
    multi_az: bool = True
    backup_retention_days: Annotated[int, Field(ge=1, le=35)] = 7
    storage_type: Literal["gp3", "gp2", "io1", "io2"] = "gp3"


class Database(SpecModel):
    """The building block's database: in the chart on a static volume, or on RDS (EKS, ACK)."""

    engine: Literal["postgres", "mysql", "mariadb"]
    version: Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+){0,2}$", description="Engine version, e.g. \"15\" or \"14.18\".")]
    placement: Literal["in-chart", "rds"] = "in-chart"
    size: Size = Field(description="Volume (in-chart) or allocated storage (rds).")
    backend: DnsLabel | None = Field(None, description="Storage backend of the in-chart volume.")
    in_chart: InChartDatabase | None = None
    external: ExternalDatabase | None = None
    credentials: Credentials | None = None
    rds: RdsOptions = RdsOptions()

    def volume(self) -> Volume | None:
        """The static volume an in-chart database lives on."""
        if self.placement != "in-chart" or self.in_chart is None:
            return None
        return Volume.model_validate({"name": "database", "size": self.size, "backend": self.backend, "database": True,
                                      "claimKey": self.in_chart.claim_key, "chartClaim": self.in_chart.chart_claim,
                                      "storageClassKey": self.in_chart.storage_class_key})


class SecretRef(SpecModel):
    """A Secret the building block uses. Its values never appear in the spec."""

    name: DnsLabel = Field(description="The Secret's name in the building block's namespace.")
    source: Literal["sops", "external"] = Field(
        "sops", description="sops: an encrypted file secrets/<stage>/<id>/<name>.sops.yaml in this repository; "
        "external: created outside this repository (External Secrets, sealed-secrets, by hand)."
    )
    keys: list[Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]+$")]] = Field(default_factory=list, description="Keys it must hold.")
    values_from: dict[ValuesKey, Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]+$")]] = Field(
        default_factory=dict,
        description="For a chart that reads no existing Secret: chart values (dotted keys) that take one of its keys, "
        "passed by Flux from this Secret at install (HelmRelease valuesFrom), never written in the repository. Flux only.",
    )
    description: str = ""


class BlockSpec(SpecModel):
    """A building block without its id: what a catalog entry defines."""

    namespace: DnsLabel | None = Field(None, description="Namespace; defaults to the id.")
    description: str = ""
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, description="What it is and provides, for requirements.")
    chart: Chart
    values: dict[str, Any] = Field(default_factory=dict, description="Helm values for every stage.")
    replicas: Annotated[int, Field(ge=0, le=1000)] | None = Field(
        None, description="Replicas of every Deployment the chart renders (set through a post-renderer)."
    )
    depends_on: list[BuildingBlockId] = Field(default_factory=list, description="Building blocks that must be ready first.")
    endpoint: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[^\s]+$")] | None = Field(
        None, description="Where it answers inside the cluster (host:port or URL), handed to the building blocks that "
        "require it with urlKey; ${block.id} and ${block.namespace} are replaced."
    )
    requires: Requires = Field(default_factory=Requires)
    influences: list[Influence] = Field(default_factory=list)
    resources: Resources = Field(description="The namespace's budget: ResourceQuota and LimitRange.")
    volumes: list[Volume] = Field(default_factory=list)
    database: Database | None = None
    secrets: list[SecretRef] = Field(default_factory=list)
    pod_security: PodSecurity = Field(default_factory=PodSecurity)
    owner: DnsLabel | None = Field(None, description="Team the building block belongs to (cost tracking label).")
    teams: dict[DnsLabel, DnsLabel] = Field(default_factory=dict, description="Team -> role: admin, edit, view or a custom role.")
    routes: list[Route] = Field(default_factory=list)
    tcp_routes: list[TcpRoute] = Field(default_factory=list)
    middlewares: list[Middleware] = Field(default_factory=list)
    network: Network = Field(default_factory=Network)


class ExternalSpec(SpecModel):
    """A service outside the cluster (another data centre, a SaaS, a partner's building block):
    it meets requirements by its labels, is never deployed, and the building blocks that require
    it may reach it (egress network policies to its networks and ports)."""

    description: str = ""
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, description="What it is and provides, for requirements.")
    url: ServiceUrl | None = Field(None, description="Its address, e.g. https://messaging.gov.example/api (required).")
    cidrs: list[str] = Field(default_factory=list, description="Networks it answers from, for egress policies (required).")
    ports: Annotated[list[Annotated[int, Field(ge=1, le=65535)]], Field(min_length=1)] = [443]


class ExternalService(ExternalSpec):
    id: BuildingBlockId = Field(description="Name of the service in this environment.")
    catalog: CatalogRef | None = Field(None, description="Catalog entry this service starts from (fields here override it).")


class BuildingBlock(BlockSpec):
    id: BuildingBlockId = Field(description="Building block id: the HelmRelease and Flux Kustomization name.")
    catalog: CatalogRef | None = Field(None, description="Catalog entry this building block starts from (fields here override it).")

    def route_host(self, route: Route) -> str:
        """The route's host under a stage's domain (the domain itself is added per stage)."""
        return (route.host or f"{route.name}.{self.id}").lower()

    @property
    def ns(self) -> str:
        return self.namespace or self.id

    def all_volumes(self) -> list[tuple[tuple[str | int, ...], Volume]]:
        """Every volume with its place in the building block (the in-chart database's included)."""
        out: list[tuple[tuple[str | int, ...], Volume]] = [(("volumes", i), v) for i, v in enumerate(self.volumes)]
        database = self.database.volume() if self.database else None
        return [*out, (("database",), database)] if database else out


class StageOverride(SpecModel):
    """What differs for one building block in one stage; deep-merged over the base."""

    values: dict[str, Any] = Field(default_factory=dict)
    version: GitRevision | None = Field(None, description="Chart version; for a git chart its tag or commit.")
    replicas: Annotated[int, Field(ge=0, le=1000)] | None = None


class Sops(SpecModel):
    """Who can decrypt a stage's SOPS files: the key of its cluster (and of the people editing them)."""

    age: list[Annotated[str, Field(pattern=r"^age1[02-9ac-hj-np-z]{58}$")]] = Field(default_factory=list, description="age recipients.")
    kms: list[Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+$")]] = Field(
        default_factory=list, description="AWS KMS key ARNs."
    )


class Stage(SpecModel):
    name: DnsLabel = Field(description="Stage name (one cluster per stage), e.g. dev, staging, prod.")
    domain: Domain = Field(description="Base domain of the stage's public routes.")
    sops: Sops | None = Field(None, description="SOPS recipients of the stage's secrets (.sops.yaml creation rule).")
    building_blocks: dict[BuildingBlockId, StageOverride] = Field(default_factory=dict)


class Environment(SpecModel):
    api_version: Literal["govstack.dev/v1alpha2"]
    kind: Literal["Environment"]
    metadata: Metadata
    platform: Platform
    gitops: GitOps
    stages: Annotated[list[Stage], Field(min_length=1)]
    storage: Storage | None = None
    ingress: Ingress | None = None
    access: Access = Field(default_factory=Access)
    catalogs: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")]] = Field(
        default_factory=list, description="Folders of catalog entries (relative to this file), searched before the shipped catalog."
    )
    building_blocks: Annotated[list[BuildingBlock], Field(min_length=1)]
    external_services: list[ExternalService] = Field(
        default_factory=list, description="Services outside the cluster that building blocks require (not deployed)."
    )
