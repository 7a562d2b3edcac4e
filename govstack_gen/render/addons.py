"""The add-ons layer: what the platform layer and the building blocks stand on, rendered from the
same spec and reconciled before the platform layer (addons/).

Today: Traefik, the router of every route. On k3s (in kube-system) the bundled Traefik is
configured with a HelmChartConfig, which k3s's helm-controller merges over its own values;
elsewhere the Traefik chart is installed. Both carry the spec's TCP entry points (exposed on the
Service), HTTP-to-HTTPS redirection on `web`, the ACME cert resolvers with acme.json on a static
volume of the storage layer, and the core pool's placement. `ingress.traefik.provided` renders
nothing: the routes are then only checked against the spec.
"""

from __future__ import annotations

from typing import Any

from govstack_gen.render import k8s, storage, tenancy
from govstack_gen.resolve import Resolved
from govstack_gen.spec.model import TRAEFIK_CHART, RepoChart
from govstack_gen.yaml_io import dumps

__all__ = ["ACME_FILE", "HELM_CHART_CONFIG_API", "addon_objects", "bundled_traefik", "has_addons", "traefik_chart",
           "traefik_values"]

HELM_CHART_CONFIG_API = "helm.cattle.io/v1"
K3S_TRAEFIK_NAMESPACE = "kube-system"  # where k3s installs its bundled Traefik (HelmChart kube-system/traefik)
DATA_DIR = "/data"  # the chart mounts its persistence volume there
ACME_FILE = f"{DATA_DIR}/acme.json"  # one file for every resolver: Traefik keys it by resolver name
TRAEFIK_USER = 65532  # the chart's runAsUser/runAsGroup: the volume is made writable for that group


def has_addons(env: Resolved) -> bool:
    return env.ingress is not None and not env.ingress.traefik.provided


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


def addon_objects(env: Resolved) -> list[dict[str, Any]]:
    """The objects of the add-ons layer other than the engine's own (Flux sources and releases,
    Argo CD Applications): Traefik's configuration on k3s, its namespace elsewhere, the ACME volume."""
    if not has_addons(env):
        return []
    objects: list[dict[str, Any] | None] = [_helm_chart_config(env) if bundled_traefik(env) else _namespace(env)]
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


def _namespace(env: Resolved) -> dict[str, Any]:
    object_labels = k8s.labels(env)
    for mode in ("enforce", "audit", "warn"):
        object_labels[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        object_labels[f"pod-security.kubernetes.io/{mode}-version"] = k8s.PSS_VERSION
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": k8s.metadata(env.ingress_namespace, None, object_labels, k8s.protected(env))}
