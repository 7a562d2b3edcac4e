"""Traefik routes (traefik.io/v1alpha1): per stage, since hosts live under the stage's domain.

Every HTTP route is an IngressRoute on `websecure` with TLS from the environment's resolver (or
secret) and security headers with HSTS, plus a twin on `web` whose only job is the redirect to
HTTPS. References stay in the building block's namespace: no `@provider` names, no
cross-namespace services or middlewares. TCP routes (X-Road's 5500/5577) take a dedicated entry
point whole, with `HostSNI(*)`: the security server terminates its own TLS.
"""

from __future__ import annotations

from typing import Any

from govstack_gen.render import k8s
from govstack_gen.resolve import Block, Resolved, ResolvedStage
from govstack_gen.spec.model import Middleware, Route

__all__ = ["route_fqdn", "route_resolver", "routes"]

TRAEFIK_API = "traefik.io/v1alpha1"
HSTS_SECONDS = 31536000  # one year


def routes(env: Resolved, stage: ResolvedStage, block: Block) -> list[dict[str, Any]]:
    spec = block.spec
    if not spec.routes and not spec.tcp_routes:
        return []
    objects: list[dict[str, Any]] = []
    if spec.routes:
        objects += [_middleware(env, block, "https-redirect", {"redirectScheme": {"scheme": "https", "permanent": True}}),
                    _middleware(env, block, "security-headers", {"headers": _security_headers()})]
        objects += [_middleware(env, block, m.name, _middleware_spec(m)) for m in spec.middlewares]
    for route in spec.routes:
        objects += _http_route(env, stage, block, route)
    for tcp in spec.tcp_routes:
        objects.append({
            "apiVersion": TRAEFIK_API,
            "kind": "IngressRouteTCP",
            "metadata": k8s.metadata(tcp.name, block.namespace, k8s.labels(env, block.id, stage.name)),
            "spec": {"entryPoints": [tcp.entry_point],
                     "routes": [{"match": "HostSNI(`*`)", "services": [{"name": tcp.service, "port": tcp.port}]}]},
        })
    return objects


def _security_headers() -> dict[str, Any]:
    return {
        "stsSeconds": HSTS_SECONDS,
        "stsIncludeSubdomains": True,
        "forceSTSHeader": True,
        "contentTypeNosniff": True,
        "frameDeny": True,
        "referrerPolicy": "strict-origin-when-cross-origin",
    }


def _middleware_spec(middleware: Middleware) -> dict[str, Any]:
    if middleware.ip_allow_list is not None:
        return {"ipAllowList": {"sourceRange": sorted(middleware.ip_allow_list.source_range)}}
    if middleware.forward_auth is not None:
        return {"forwardAuth": {"address": middleware.forward_auth.address, "trustForwardHeader": False}}
    assert middleware.basic_auth is not None  # the checks allow exactly one kind
    return {"basicAuth": {"secret": middleware.basic_auth.secret}}


def _middleware(env: Resolved, block: Block, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": TRAEFIK_API, "kind": "Middleware",
            "metadata": k8s.metadata(name, block.namespace, k8s.labels(env, block.id)), "spec": spec}


def route_fqdn(stage: ResolvedStage, block: Block, route: Route) -> str:
    """The route's host in the stage."""
    return f"{block.spec.route_host(route)}.{stage.domain}"


def route_resolver(env: Resolved, route: Route) -> str | None:
    """The cert resolver of the route's certificate (None: ingress.tlsSecret serves it)."""
    return route.cert_resolver or (env.ingress.cert_resolver if env.ingress else None)


def _http_route(env: Resolved, stage: ResolvedStage, block: Block, route: Route) -> list[dict[str, Any]]:
    host = route_fqdn(stage, block, route)
    match = f"Host(`{host}`)" + (f" && PathPrefix(`{route.path}`)" if route.path != "/" else "")
    service = [{"name": route.service, "port": route.port}]
    rule: dict[str, Any] = {"kind": "Rule", "match": match}
    if route.priority is not None:
        rule["priority"] = route.priority
    secure = {**rule, "middlewares": [{"name": n} for n in ["security-headers", *route.middlewares]], "services": service}
    resolver = route_resolver(env, route)
    tls = {"certResolver": resolver} if resolver else {"secretName": env.ingress.tls_secret if env.ingress else ""}
    labels = k8s.labels(env, block.id, stage.name)
    return [
        {"apiVersion": TRAEFIK_API, "kind": "IngressRoute", "metadata": k8s.metadata(route.name, block.namespace, labels),
         "spec": {"entryPoints": ["websecure"], "routes": [secure], "tls": tls}},
        {"apiVersion": TRAEFIK_API, "kind": "IngressRoute",
         "metadata": k8s.metadata(f"{route.name}-http", block.namespace, labels),
         "spec": {"entryPoints": ["web"], "routes": [{**rule, "middlewares": [{"name": "https-redirect"}], "services": service}]}},
    ]
