"""The add-ons layer: what the platform layer and the building blocks stand on, rendered from the
same spec and reconciled before the platform layer (addons/).

- Traefik, the router of every route. On k3s (in kube-system) the bundled Traefik is configured
  with a HelmChartConfig, which k3s's helm-controller merges over its own values; elsewhere the
  Traefik chart is installed. Both carry the spec's TCP entry points (exposed on the Service),
  HTTP-to-HTTPS redirection on `web`, the ACME cert resolvers with acme.json on a static volume
  of the storage layer, and the core pool's placement.
- cert-manager, when it issues ingress.tlsSecret (its ClusterIssuer and Certificates are in the
  platform layer: they need its CRDs).
- The EFS CSI driver, when an efs backend is used (it brings the CSIDriver object).
- The ACK RDS controller, when a database is placed on RDS, with the IAM role of its account.
- The Karpenter controller, when the worker pool's karpenter section asks for it: one release
  per stage (each stage is a cluster with its own name, queue and role), with the CRDs of the
  NodePool and EC2NodeClass the platform layer renders.

Each is left out when the spec says the cluster provides it (`provided: true`; Karpenter's
controller unless asked for); every add-on's own pods run on the core pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govstack_gen.render import k8s, layout, storage, tenancy
from govstack_gen.render.kustomize import kustomization
from govstack_gen.render.platform import Tree, folder
from govstack_gen.resolve import Resolved, ResolvedStage
from govstack_gen.spec.model import (
    CERT_MANAGER_CHART,
    EFS_CSI_CHART,
    KARPENTER_CHART,
    RDS_CHART,
    TRAEFIK_CHART,
    EfsBackend,
    KarpenterController,
    RepoChart,
)
from govstack_gen.spec.placeholders import ENVIRONMENT, STAGE, substitute
from govstack_gen.yaml_io import dumps

__all__ = ["ACME_FILE", "HELM_CHART_CONFIG_API", "AddonRelease", "addon_objects", "addon_releases", "addons_tree", "bundled_traefik",
           "cert_manager_used", "efs_driver_used", "has_addons", "karpenter_values", "rds_controller_used", "stage_releases",
           "traefik_chart", "traefik_values"]

HELM_CHART_CONFIG_API = "helm.cattle.io/v1"
K3S_TRAEFIK_NAMESPACE = "kube-system"  # where k3s installs its bundled Traefik (HelmChart kube-system/traefik)
DATA_DIR = "/data"  # the chart mounts its persistence volume there
ACME_FILE = f"{DATA_DIR}/acme.json"  # one file for every resolver: Traefik keys it by resolver name
TRAEFIK_USER = 65532  # the chart's runAsUser/runAsGroup: the volume is made writable for that group
IRSA_ROLE = "eks.amazonaws.com/role-arn"  # the service account annotation EKS's pod identity webhook reads
CERT_MANAGER_NAMESPACE = "cert-manager"
EFS_NAMESPACE = "kube-system"  # where the EKS add-on puts it too: its node pods are privileged
ACK_NAMESPACE = "ack-system"
KARPENTER_NAMESPACE = "kube-system"  # where Karpenter's guide installs it: its IAM trust names kube-system:karpenter
# The cluster-scoped kinds each chart creates (Argo CD's add-ons project allows only these).
CRD = {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"}
CLUSTER_RBAC = ({"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"},
                {"group": "rbac.authorization.k8s.io", "kind": "ClusterRoleBinding"})
WEBHOOKS = ({"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration"},
            {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration"})


@dataclass(frozen=True)
class AddonRelease:
    """A chart of the add-ons layer as installed: its release (and object) name, the namespace
    it installs into, the chart and the values, and what the spec says of it: where it is
    configured (and its chart, for diagnostics), the IAM role its service account takes."""

    name: str
    namespace: str
    chart: RepoChart
    values: dict[str, Any]
    loc: tuple[str | int, ...]
    cluster_kinds: tuple[dict[str, str], ...] = ()
    own_namespace: bool = True  # govstack-gen renders its Namespace (restricted)
    chart_loc: tuple[str | int, ...] | None = None  # the spec's chart setting; None: the default chart
    role_arn: str | None = None
    stage: str | None = None  # a release of this stage only (its values differ per stage); None: every stage's


def traefik_rendered(env: Resolved) -> bool:
    return env.ingress is not None and not env.ingress.traefik.provided


def cert_manager_used(env: Resolved) -> bool:
    """cert-manager issues tlsSecret: its ClusterIssuer and Certificates are rendered."""
    return env.ingress is not None and env.ingress.cert_manager is not None and env.ingress.tls_secret is not None


def efs_driver_used(env: Resolved) -> bool:
    return any(isinstance(b, EfsBackend) for b in env.backends)


def rds_controller_used(env: Resolved) -> bool:
    return any(b.rds is not None for b in env.blocks)


def has_addons(env: Resolved) -> bool:
    return traefik_rendered(env) or bool(addon_releases(env))


def stage_releases(env: Resolved, stage: str) -> list[AddonRelease]:
    """The add-on releases a stage's cluster installs: every stage's and its own."""
    return [r for r in addon_releases(env) if r.stage in (None, stage)]


def addon_releases(env: Resolved) -> list[AddonRelease]:
    """The charts of the add-ons layer that govstack-gen installs, by name (then stage)."""
    out = []
    manager = env.ingress.cert_manager if env.ingress is not None else None
    if manager is not None and cert_manager_used(env) and not manager.provided:
        loc: tuple[str | int, ...] = ("ingress", "certManager")
        out.append(AddonRelease("cert-manager", CERT_MANAGER_NAMESPACE, manager.chart or RepoChart.model_validate(CERT_MANAGER_CHART),
                                cert_manager_values(env), loc, (CRD, *CLUSTER_RBAC, *WEBHOOKS),
                                chart_loc=_chart_loc(loc, manager.chart), role_arn=manager.role_arn))
    driver = env.efs_csi_driver
    if efs_driver_used(env) and not driver.provided:
        loc = _efs_loc(env)
        out.append(AddonRelease("aws-efs-csi-driver", EFS_NAMESPACE, driver.chart or RepoChart.model_validate(EFS_CSI_CHART),
                                efs_driver_values(env), loc, ({"group": "storage.k8s.io", "kind": "CSIDriver"}, *CLUSTER_RBAC),
                                own_namespace=False, chart_loc=_chart_loc(loc, driver.chart)))
    controller = env.rds_controller
    if rds_controller_used(env) and not controller.provided:
        loc = ("platform", "rdsController") if controller.model_fields_set else ("platform",)
        out.append(AddonRelease("ack-rds-controller", ACK_NAMESPACE, controller.chart or RepoChart.model_validate(RDS_CHART),
                                rds_controller_values(env), loc, (CRD, *CLUSTER_RBAC),
                                chart_loc=_chart_loc(loc, controller.chart), role_arn=controller.role_arn))
    if traefik_rendered(env) and not bundled_traefik(env):
        assert env.ingress is not None
        out.append(AddonRelease("traefik", env.ingress_namespace, traefik_chart(env), traefik_values(env), ("ingress",),
                                (CRD, *CLUSTER_RBAC, {"group": "networking.k8s.io", "kind": "IngressClass"}),
                                chart_loc=_chart_loc(("ingress", "traefik"), env.ingress.traefik.chart)))
    karpenter = env.node_pools.worker.karpenter
    if karpenter is not None and karpenter.controller is not None:
        loc = ("platform", "nodePools", "worker", "karpenter", "controller")
        chart = karpenter.controller.chart or RepoChart.model_validate(KARPENTER_CHART)
        for stage in env.stages:
            own = _stage_controller(env, stage, karpenter.controller)
            out.append(AddonRelease("karpenter", KARPENTER_NAMESPACE, chart, karpenter_values(env, own), loc,
                                    (CRD, *CLUSTER_RBAC), own_namespace=False, chart_loc=_chart_loc(loc, karpenter.controller.chart),
                                    role_arn=own.role_arn, stage=stage.name))
    return sorted(out, key=lambda r: (r.name, r.stage or ""))


def _stage_controller(env: Resolved, stage: ResolvedStage, controller: KarpenterController) -> KarpenterController:
    """The controller's settings with ${environment} and ${stage} replaced: the stage's cluster."""
    names = {ENVIRONMENT: env.name, STAGE: stage.name}
    return controller.model_copy(update=substitute({f: getattr(controller, f) for f in ("role_arn", "cluster_name",
                                                                                       "interruption_queue")}, names))


def _chart_loc(loc: tuple[str | int, ...], chart: RepoChart | None) -> tuple[str | int, ...] | None:
    return (*loc, "chart") if chart is not None else None


def _efs_loc(env: Resolved) -> tuple[str | int, ...]:
    """Where the spec asks for the driver: its settings, else the first efs backend."""
    if env.efs_csi_driver.model_fields_set:
        return ("storage", "efsCsiDriver")
    return ("storage", "backends", next(i for i, b in enumerate(env.backends) if isinstance(b, EfsBackend)))


def cert_manager_values(env: Resolved) -> dict[str, Any]:
    """cert-manager with its CRDs, every one of its pods on the core pool, and the IAM role that
    lets it answer DNS-01 challenges in Route 53."""
    assert env.ingress is not None and env.ingress.cert_manager is not None
    core = tenancy.pool_placement(env.node_pools.core)
    values: dict[str, Any] = {"crds": {"enabled": True, "keep": True}, "global": {"nodeSelector": core["nodeSelector"]}}
    tolerations = core.get("tolerations")
    if tolerations:
        values["tolerations"] = tolerations
        for component in ("webhook", "cainjector", "startupapicheck"):
            values[component] = {"tolerations": tolerations}
    if env.ingress.cert_manager.role_arn is not None:
        values["serviceAccount"] = {"annotations": {IRSA_ROLE: env.ingress.cert_manager.role_arn}}
    return values


def efs_driver_values(env: Resolved) -> dict[str, Any]:
    """The driver's controller on the core pool (its node pods run on every node, as the chart says)."""
    controller = tenancy.pool_placement(env.node_pools.core)
    # The chart's own toleration of the taint its node pods lift once ready, kept beside the pool's.
    controller["tolerations"] = [*controller.get("tolerations", []), {"key": "efs.csi.aws.com/agent-not-ready", "operator": "Exists"}]
    return {"controller": controller}


def rds_controller_values(env: Resolved) -> dict[str, Any]:
    """The controller in the spec's region, as the spec's IAM role, on the core pool, keeping the
    AWS resources of a deleted object (each DBInstance says so too)."""
    assert env.aws is not None and env.rds_controller.role_arn is not None  # the spec checks refuse it otherwise (E619)
    return {"aws": {"region": env.aws.region},
            "serviceAccount": {"annotations": {IRSA_ROLE: env.rds_controller.role_arn}},
            "deployment": tenancy.pool_placement(env.node_pools.core),
            "deletionPolicy": "retain"}


def karpenter_values(env: Resolved, controller: KarpenterController) -> dict[str, Any]:
    """The controller of a stage's cluster (`controller`: its settings with the placeholders
    replaced) as its IAM role, on the core pool (never on the nodes it provisions: the chart's
    own affinity keeps it off them)."""
    settings = {"clusterName": controller.cluster_name}
    if controller.interruption_queue is not None:
        settings["interruptionQueue"] = controller.interruption_queue
    values: dict[str, Any] = {"settings": settings}
    if controller.role_arn is not None:
        values["serviceAccount"] = {"annotations": {IRSA_ROLE: controller.role_arn}}
    return values | tenancy.pool_placement(env.node_pools.core)


def bundled_traefik(env: Resolved) -> bool:
    """k3s's own Traefik: k3s installs it in kube-system; a Traefik elsewhere is ours to install."""
    return env.platform == "k3s" and env.ingress_namespace == K3S_TRAEFIK_NAMESPACE


def traefik_chart(env: Resolved) -> RepoChart:
    assert env.ingress is not None
    return env.ingress.traefik.chart or RepoChart.model_validate(TRAEFIK_CHART)


def traefik_values(env: Resolved) -> dict[str, Any]:
    """The chart values of Traefik (the same keys in k3s's packaging and upstream's chart)."""
    ingress = env.ingress
    assert ingress is not None
    ports: dict[str, Any] = {
        # Every plain-HTTP request is sent to HTTPS (ACME's HTTP-01 challenge is answered first).
        "web": {"http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}}},
    }
    for point in ingress.entry_points:
        ports[point.name] = {"port": point.port, "exposedPort": point.port, "expose": {"default": True}, "protocol": "TCP"}
    values: dict[str, Any] = {"ports": ports}
    resolvers: dict[str, Any] = {}
    for resolver in ingress.resolvers():
        acme: dict[str, Any] = {}
        if resolver.email is not None:
            acme["email"] = resolver.email
        acme["caServer"] = resolver.ca_server
        acme["storage"] = ACME_FILE
        if resolver.challenge == "tls":
            acme["tlsChallenge"] = True  # the chart turns values into flags; an empty mapping would vanish
        else:
            acme["httpChallenge"] = {"entryPoint": "web"}
        resolvers[resolver.name] = {"acme": acme}
    if resolvers:
        values["certificatesResolvers"] = resolvers
    if env.acme is not None:
        values["persistence"] = {"enabled": True, "existingClaim": env.acme.claim, "path": DATA_DIR}
        # The directory on the node is root's; the kubelet gives the volume to Traefik's group.
        values["podSecurityContext"] = {"fsGroup": TRAEFIK_USER, "fsGroupChangePolicy": "OnRootMismatch"}
        # One writer of acme.json at a time: the old pod stops before the new one starts.
        values["updateStrategy"] = {"type": "Recreate", "rollingUpdate": None}
    values |= tenancy.pool_placement(env.node_pools.core)
    return values


def addons_tree(env: Resolved, release_objects: Callable[[AddonRelease], list[dict[str, Any]]]) -> Tree:
    """The add-ons layer's folders: addons/base (what every stage's cluster has) and addons/<stage>
    (the base and the stage's own releases), the layer a stage reconciles. `release_objects`: the
    engine's objects of a release in the layer (Flux: its source and HelmRelease; none for Argo
    CD, whose Applications are the cluster entry point's)."""
    releases = addon_releases(env)
    base = addon_objects(env) + [o for r in releases if r.stage is None for o in release_objects(r)]
    tree = folder(layout.addons_base_dir(), base) if base else {}
    for stage in env.stages:
        directory = layout.addons_stage_dir(stage.name)
        own = {f"{directory}/{layout.file_name(o['kind'], o['metadata']['name'])}": o
               for r in releases if r.stage == stage.name for o in release_objects(r)}
        resources = [layout.relative(directory, layout.addons_base_dir())] if base else []
        tree |= own
        tree[f"{directory}/kustomization.yaml"] = kustomization([*resources, *(p.rsplit("/", 1)[1] for p in own)])
    return tree


def addon_objects(env: Resolved) -> list[dict[str, Any]]:
    """The objects of the add-ons layer other than the engine's own (Flux sources and releases,
    Argo CD Applications): Traefik's configuration on k3s, the add-ons' namespaces, the ACME volume."""
    objects: list[dict[str, Any] | None] = [_namespace(env, r.namespace) for r in addon_releases(env) if r.own_namespace]
    if traefik_rendered(env) and bundled_traefik(env):
        objects.append(_helm_chart_config(env))
    if env.acme is not None:
        objects += [storage.persistent_volume(env, env.acme, env.ingress_namespace, None),
                    storage.persistent_volume_claim(env, env.acme, env.ingress_namespace, None)]
    return [o for o in objects if o is not None]


def _helm_chart_config(env: Resolved) -> dict[str, Any]:
    return {
        "apiVersion": HELM_CHART_CONFIG_API,
        "kind": "HelmChartConfig",
        "metadata": k8s.metadata("traefik", K3S_TRAEFIK_NAMESPACE, k8s.labels(env)),
        # k3s's helm-controller merges these values over the bundled chart's own.
        "spec": {"valuesContent": dumps(traefik_values(env))},
    }


def _namespace(env: Resolved, name: str) -> dict[str, Any]:
    object_labels = k8s.labels(env) | k8s.pod_security_labels("restricted")
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": k8s.metadata(name, None, object_labels, k8s.protected(env))}
