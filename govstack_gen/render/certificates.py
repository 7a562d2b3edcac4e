"""cert-manager's objects for ingress.tlsSecret: one ACME ClusterIssuer (platform/cluster/), and
per stage a Certificate in each namespace whose routes use the Secret, naming exactly their hosts
(platform/<stage>/<bb>/, beside the routes). A Certificate per namespace keeps each Secret where
Traefik reads it, without copying a wildcard's key into every namespace."""

from __future__ import annotations

from typing import Any

from govstack_gen.render import addons, ingress, k8s
from govstack_gen.resolve import Block, Resolved, ResolvedStage

__all__ = ["CERT_MANAGER_API", "ISSUER", "certificate", "cluster_issuer", "tls_secret_hosts"]

CERT_MANAGER_API = "cert-manager.io/v1"
ISSUER = "govstack-acme"  # the ClusterIssuer's name; its ACME account key is in cert-manager's namespace


def cluster_issuer(env: Resolved) -> dict[str, Any] | None:
    if not addons.cert_manager_used(env):
        return None
    assert env.ingress is not None and env.ingress.cert_manager is not None
    issuer = env.ingress.cert_manager.issuer
    assert issuer is not None and issuer.route53 is not None  # the spec checks refuse it otherwise (E619)
    solver = {"dns01": {"route53": {"region": issuer.route53.region, "hostedZoneID": issuer.route53.hosted_zone_id}}}
    return {
        "apiVersion": CERT_MANAGER_API,
        "kind": "ClusterIssuer",
        "metadata": k8s.metadata(ISSUER, None, k8s.labels(env)),
        "spec": {"acme": {"email": issuer.email, "server": issuer.server,
                          "privateKeySecretRef": {"name": f"{ISSUER}-account"}, "solvers": [solver]}},
    }


def tls_secret_hosts(env: Resolved, stage: ResolvedStage, block: Block) -> list[str]:
    """The hosts of the building block's routes in the stage served with tlsSecret (not a resolver)."""
    return sorted({ingress.route_fqdn(stage, block, r) for r in block.spec.routes if ingress.route_resolver(env, r) is None})


def certificate(env: Resolved, stage: ResolvedStage, block: Block) -> dict[str, Any] | None:
    hosts = tls_secret_hosts(env, stage, block)
    if not hosts or not addons.cert_manager_used(env):
        return None
    assert env.ingress is not None and env.ingress.tls_secret is not None
    return {
        "apiVersion": CERT_MANAGER_API,
        "kind": "Certificate",
        "metadata": k8s.metadata(env.ingress.tls_secret, block.namespace, k8s.labels(env, block.id, stage.name)),
        "spec": {"secretName": env.ingress.tls_secret, "dnsNames": hosts,
                 "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": ISSUER},
                 "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}},
    }
