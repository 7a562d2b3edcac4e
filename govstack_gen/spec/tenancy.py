"""Rules for what crosses a building block's namespace: public routes, people's access, the
reconcilers' rights, pod security and network flows.

Routes are unambiguous and same-namespace, every public route has TLS from a known resolver or
secret, roles never grant the escalation paths of the RBAC good practices, and flows between
building blocks exist only where the spec declares them.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
from collections.abc import Iterator

from govstack_gen.errors import Diagnostic
from govstack_gen.spec.load import Loc, SpecDocument
from govstack_gen.spec.model import BuildingBlock, Environment, PolicyRule
from govstack_gen.spec.types import parse_quantity

__all__ = ["BUILTIN_ROLES", "RESERVED_NAMESPACES", "check_tenancy", "ingress_namespace"]

# Namespaces that belong to the cluster or to the platform's controllers: a building block
# there would share their privileges and blast radius (CHECKLIST B4).
RESERVED_NAMESPACES = frozenset({
    "default", "flux-system", "argocd", "traefik", "kube-traefik", "cert-manager", "external-secrets",
    "sealed-secrets", "ingress-nginx", "monitoring", "karpenter", "local-path-storage", "ack-system",
})
BUILTIN_ROLES = ("admin", "edit", "view")
HOST_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# RBAC that hands over more than the namespace (RBAC good practices; checkov CKV_K8S_49/155-158,
# kubescape C-0187/C-0188): escalation verbs, exec into pods, tokens, node proxies, reading all secrets.
FORBIDDEN_VERBS = frozenset({"*", "escalate", "bind", "impersonate"})
FORBIDDEN_RESOURCES = frozenset({
    "*", "pods/exec", "pods/attach", "pods/portforward", "nodes/proxy", "serviceaccounts/token", "roles", "rolebindings",
    "networkpolicies", "resourcequotas", "limitranges", "certificatesigningrequests/approval",
})
CLUSTER_SCOPED = frozenset({
    "namespaces", "nodes", "persistentvolumes", "storageclasses", "clusterroles", "clusterrolebindings",
    "customresourcedefinitions", "mutatingwebhookconfigurations", "validatingwebhookconfigurations", "csidrivers",
})


def ingress_namespace(env: Environment) -> str:
    if env.ingress and env.ingress.namespace:
        return env.ingress.namespace
    return "kube-system" if env.platform.type == "k3s" else "traefik"  # k3s bundles Traefik in kube-system


def check_tenancy(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    out += _access(env, doc)
    out += _ingress(env, doc)
    for index, block in enumerate(env.building_blocks):
        loc: Loc = ("buildingBlocks", index)
        reserved = block.ns in RESERVED_NAMESPACES or block.ns.startswith("kube-")  # reported by the namespace rule
        if block.ns == ingress_namespace(env) and not reserved:
            out.append(doc.diagnostic((*loc, "namespace" if block.namespace else "id"), "E305",
                                      f"namespace {block.ns!r} is where Traefik runs", "choose another namespace"))
        out += _block_access(env, doc, block, loc)
        out += _pod_security(doc, block, loc)
        out += _network(env, doc, block, loc)
        out += _storage_quota(doc, block, loc)
        out += _middlewares(doc, block, loc)
        out += _routes(env, doc, block, loc)
    out += _shared_routes(env, doc)
    out += _hosts_across_stages(env, doc)
    out += _flattened_middlewares(env, doc)
    return out


def _duplicates(names: list[str]) -> Iterator[tuple[int, int]]:
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            yield index, seen[name]
        seen.setdefault(name, index)


def _access(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    out = []
    for what, names in (("teams", [t.name for t in env.access.teams]), ("roles", [r.name for r in env.access.roles])):
        for index, first in _duplicates(names):
            out.append(doc.diagnostic(("access", what, index, "name"), "E615", f"{what[:-1]} {names[index]!r} is declared twice",
                                      "give each its own name", related=(("access", what, first, "name"),)))
    for r_index, role in enumerate(env.access.roles):
        if role.name in BUILTIN_ROLES:
            out.append(doc.diagnostic(("access", "roles", r_index, "name"), "E615", f"role name {role.name!r} is built in",
                                      "choose another name for a custom role"))
        for rule_index, rule in enumerate(role.rules):
            out += _rule(doc, rule, ("access", "roles", r_index, "rules", rule_index))
    return out


def _ingress(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    ingress = env.ingress
    if ingress is None:
        return []
    out = []
    if ingress.cert_resolver is not None and ingress.tls_secret is not None:
        out.append(doc.diagnostic(("ingress", "tlsSecret"), "E605", "both certResolver and tlsSecret are set",
                                  "choose one source of certificates"))
    if ingress.cert_resolver is not None and ingress.cert_resolver not in ingress.resolver_names:
        out.append(doc.diagnostic(("ingress", "certResolver"), "E606", f"unknown certResolver {ingress.cert_resolver!r}",
                                  _known(ingress.cert_resolver, ingress.resolver_names, "ingress.certResolvers")))
    names = [e.name for e in ingress.entry_points]
    ports = [str(e.port) for e in ingress.entry_points]
    for index, first in [*_duplicates(names), *_duplicates(ports)]:
        out.append(doc.diagnostic(("ingress", "entryPoints", index), "E615", "two entry points share a name or a port",
                                  "give each entry point its own name and port", related=(("ingress", "entryPoints", first),)))
    for index, name in enumerate(names):
        if name in ("web", "websecure", "traefik", "metrics"):
            out.append(doc.diagnostic(("ingress", "entryPoints", index, "name"), "E615", f"entry point {name!r} is Traefik's own",
                                      "name TCP entry points after what they carry, e.g. xroad-messaging"))
    resolvers = ingress.resolver_names
    for index, first in _duplicates(resolvers):
        out.append(doc.diagnostic(("ingress", "certResolvers", index), "E615", f"cert resolver {resolvers[index]!r} is declared twice",
                                  "give each resolver its own name", related=(("ingress", "certResolvers", first),)))
    return out + _traefik(env, doc)


# The Traefik chart's own ports: web, websecure, traefik (dashboard/API) and metrics in the pod,
# web and websecure on the Service.
TRAEFIK_PORTS = {8000: "web", 8443: "websecure", 8080: "traefik", 9100: "metrics", 80: "web", 443: "websecure"}
PORT_NAME_LENGTH = 15  # a container port's name (IANA_SVC_NAME): the chart names the port after the entry point


def _traefik(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    """What the Traefik that govstack-gen renders could not carry (or a provided one makes moot)."""
    ingress = env.ingress
    assert ingress is not None
    traefik, loc = ingress.traefik, ("ingress", "traefik")
    if traefik.provided:
        return [doc.diagnostic((*loc, field), "E617", f"ingress.traefik.{field} is set but Traefik is provided by the cluster",
                               "nothing is rendered for a provided Traefik: configure it where it is installed, or remove "
                               f"{field} (or provided)")
                for field in ("chart", "storage") if getattr(traefik, field) is not None]
    out = []
    bundled = env.platform.type == "k3s" and ingress_namespace(env) == "kube-system"
    if bundled and traefik.chart is not None:
        out.append(doc.diagnostic((*loc, "chart"), "E617", "k3s's bundled Traefik comes with its own chart",
                                  "remove chart (the HelmChartConfig configures k3s's chart), or install your own Traefik in "
                                  "another ingress.namespace (k3s started with --disable=traefik)"))
    for index, point in enumerate(ingress.entry_points):
        where = ("ingress", "entryPoints", index)
        if len(point.name) > PORT_NAME_LENGTH:
            out.append(doc.diagnostic((*where, "name"), "E617", f"entry point name {point.name!r} is longer than "
                                      f"{PORT_NAME_LENGTH} characters", "Traefik's chart names the pod's port after the entry "
                                      "point, and a port name has at most 15 characters: shorten it"))
        if point.port in TRAEFIK_PORTS:
            out.append(doc.diagnostic((*where, "port"), "E617", f"port {point.port} is Traefik's own "
                                      f"({TRAEFIK_PORTS[point.port]} entry point)", "choose another port"))
    if ingress.cert_resolvers and traefik.storage is None and (env.storage is None or len(env.storage.backends) != 1):
        choice = "there is no storage backend" if env.storage is None else f"there are {len(env.storage.backends)} storage backends"
        warning = doc.diagnostic(("ingress", "certResolvers"), "E618", f"acme.json is not persisted ({choice} to default to)",
                                 "Traefik then requests every certificate again on each restart, into Let's Encrypt's rate "
                                 "limits: give ingress.traefik.storage a backend")
        out.append(dataclasses.replace(warning, severity="warning"))
    return out


def _rule(doc: SpecDocument, rule: PolicyRule, loc: Loc) -> list[Diagnostic]:
    """Each finding at the list item that makes it (the verb, the resource), not the whole list."""
    out = []
    for field, values in (("verbs", rule.verbs), ("resources", rule.resources), ("apiGroups", rule.api_groups)):
        if "*" in values:
            out.append(doc.diagnostic((*loc, field, values.index("*")), "E610", f"wildcard in {field}",
                                      f"list the {field} the role needs"))
    for verb in sorted(set(rule.verbs) & (FORBIDDEN_VERBS - {"*"})):
        out.append(doc.diagnostic((*loc, "verbs", rule.verbs.index(verb)), "E610", f"verb {verb!r} lets the role escalate its own rights",
                                  "roles never get escalate, bind or impersonate"))
    for resource in sorted(set(rule.resources) & (FORBIDDEN_RESOURCES - {"*"})):
        out.append(doc.diagnostic((*loc, "resources", rule.resources.index(resource)), "E610",
                                  f"{resource!r} reaches beyond the role's namespace rights",
                                  "exec, attach, tokens, node proxies and the namespace's own RBAC, quotas and network "
                                  "policies are the platform's"))
    if "secrets" in rule.resources and {"list", "watch"} & set(rule.verbs):
        verb = next(v for v in rule.verbs if v in ("list", "watch"))
        out.append(doc.diagnostic((*loc, "verbs", rule.verbs.index(verb)), "E610",
                                  "listing or watching secrets reveals every secret of the namespace",
                                  "grant get on the named secrets the role needs (resourceNames)"))
    for resource in sorted(set(rule.resources) & CLUSTER_SCOPED):
        out.append(doc.diagnostic((*loc, "resources", rule.resources.index(resource)), "E610", f"{resource!r} is cluster-scoped",
                                  "building blocks get namespaced rights only; cluster objects belong to the platform"))
    return out


def _block_access(env: Environment, doc: SpecDocument, block: BuildingBlock, loc: Loc) -> list[Diagnostic]:
    teams = [t.name for t in env.access.teams]
    roles = [*BUILTIN_ROLES, *(r.name for r in env.access.roles)]
    out = []
    if block.owner is not None and block.owner not in teams:
        out.append(doc.diagnostic((*loc, "owner"), "E609", f"unknown team {block.owner!r}", _known(block.owner, teams, "access.teams")))
    for team, role in block.teams.items():
        if team not in teams:
            out.append(doc.diagnostic((*loc, "teams", team), "E609", f"unknown team {team!r}", _known(team, teams, "access.teams"),
                                      key=True))
        if role not in roles:
            out.append(doc.diagnostic((*loc, "teams", team), "E609", f"unknown role {role!r}", _known(role, roles, "access.roles")))
    return out


def _known(name: str, names: list[str], section: str) -> str:
    """`section`: where such names are declared, e.g. access.teams."""
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"declared {section.rsplit('.', 1)[-1]}: {', '.join(names)}" if names else f"declare it under {section}"


def _pod_security(doc: SpecDocument, block: BuildingBlock, loc: Loc) -> list[Diagnostic]:
    level = block.pod_security.level
    if level == "privileged":
        return [doc.diagnostic((*loc, "podSecurity", "level"), "E611", "pod security level 'privileged' lets pods take over nodes",
                               "use baseline with a reason, or fix the chart (securityContext) to run restricted")]
    if level == "baseline" and not block.pod_security.reason.strip():
        return [doc.diagnostic((*loc, "podSecurity"), "E611", "pod security 'baseline' needs a reason",
                               "say why the chart cannot run restricted (reason: ...), so reviewers can revisit it")]
    return []


def _network(env: Environment, doc: SpecDocument, block: BuildingBlock, loc: Loc) -> list[Diagnostic]:
    ids = [b.id for b in env.building_blocks] + [s.id for s in env.external_services]
    out = []
    for index, target in enumerate(block.network.connects_to):
        if target not in ids:
            out.append(doc.diagnostic((*loc, "network", "connectsTo", index), "E612", f"unknown building block {target!r}",
                                      _known(target, ids, "building blocks")))
    for index, cidr in enumerate(block.network.egress_cidrs):
        try:
            ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            out.append(doc.diagnostic((*loc, "network", "egressCidrs", index), "E613", f"{cidr!r} is not a network in CIDR form",
                                      "e.g. 10.20.0.0/16 (host bits zero)"))
    return out


def _storage_quota(doc: SpecDocument, block: BuildingBlock, loc: Loc) -> list[Diagnostic]:
    quota = block.resources.storage
    if quota is None:
        return []
    claimed = sum((parse_quantity(v.request or v.size) for _, v in block.all_volumes()), start=parse_quantity("0"))
    if claimed <= parse_quantity(quota):
        return []
    sizes = " + ".join(v.request or v.size for _, v in block.all_volumes())
    return [doc.diagnostic((*loc, "resources", "storage"), "E614", f"the volumes claim {sizes}, more than the storage quota {quota}",
                           "raise resources.storage or shrink the volumes")]


def _middlewares(doc: SpecDocument, block: BuildingBlock, loc: Loc) -> list[Diagnostic]:
    out = []
    names = [m.name for m in block.middlewares]
    for index, first in _duplicates(names):
        out.append(doc.diagnostic((*loc, "middlewares", index, "name"), "E615", f"middleware {names[index]!r} is declared twice",
                                  "give each its own name", related=((*loc, "middlewares", first, "name"),)))
    for index, middleware in enumerate(block.middlewares):
        kinds = [k for k in (middleware.ip_allow_list, middleware.forward_auth, middleware.basic_auth) if k is not None]
        if len(kinds) != 1:
            out.append(doc.diagnostic((*loc, "middlewares", index), "E616", "a middleware configures exactly one of "
                                      "ipAllowList, forwardAuth, basicAuth", "split it into one middleware per kind"))
        for c_index, cidr in enumerate(middleware.ip_allow_list.source_range if middleware.ip_allow_list else []):
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                out.append(doc.diagnostic((*loc, "middlewares", index, "ipAllowList", "sourceRange", c_index), "E613",
                                          f"{cidr!r} is not a network in CIDR form", "e.g. 10.20.0.0/16"))
    return out


def _routes(env: Environment, doc: SpecDocument, block: BuildingBlock, loc: Loc) -> list[Diagnostic]:
    out = []
    if (block.routes or block.tcp_routes) and env.ingress is None:
        return [doc.diagnostic((*loc, "routes" if block.routes else "tcpRoutes"), "E605", "routes need an ingress section",
                               "declare ingress (Traefik's namespace, certResolver or tlsSecret)")]
    declared = [m.name for m in block.middlewares]
    names = [r.name for r in block.routes] + [r.name for r in block.tcp_routes]

    def route_loc(index: int) -> Loc:
        http = len(block.routes)
        return (*loc, "routes", index, "name") if index < http else (*loc, "tcpRoutes", index - http, "name")

    for index, first in _duplicates(names):
        out.append(doc.diagnostic(route_loc(index), "E615", f"route {names[index]!r} is declared twice",
                                  "give each route its own name", related=(route_loc(first),)))
    for name in dict.fromkeys(r.name for r in block.routes):
        if f"{name}-http" in names:  # the name of this route's HTTP-to-HTTPS twin
            twin = names.index(f"{name}-http")
            out.append(doc.diagnostic(route_loc(twin), "E615", f"route name {names[twin]!r} is taken by the HTTPS redirect "
                                      f"of route {name!r}", "choose another name"))
    for index, route in enumerate(block.routes):
        r_loc: Loc = (*loc, "routes", index)
        host = block.route_host(route)
        if not HOST_RE.match(host) or len(host) > 190:
            hint = "no wildcards: each route names its host" if "*" in host else "DNS labels separated by dots, e.g. api.payments"
            out.append(doc.diagnostic((*r_loc, "host"), "E601", f"host {route.host!r} is not a valid DNS name", hint))
        for m_index, name in enumerate(route.middlewares):
            if "@" in name or "/" in name:
                out.append(doc.diagnostic((*r_loc, "middlewares", m_index), "E603", f"middleware {name!r} is in another namespace "
                                          "or provider", "routes use middlewares of their own building block only"))
            elif name not in declared:
                close = difflib.get_close_matches(name, declared, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "declare it in the building block's middlewares"
                out.append(doc.diagnostic((*r_loc, "middlewares", m_index), "E604", f"unknown middleware {name!r}", hint))
        resolver = route.cert_resolver or (env.ingress.cert_resolver if env.ingress else None)
        if env.ingress is not None and resolver is None and env.ingress.tls_secret is None:
            out.append(doc.diagnostic(r_loc, "E605", "the route would have no TLS",
                                      "set ingress.certResolver or ingress.tlsSecret (or certResolver on the route)"))
        elif env.ingress is not None and resolver is not None and resolver not in env.ingress.resolver_names:
            where = (*r_loc, "certResolver") if route.cert_resolver else ("ingress", "certResolver")
            out.append(doc.diagnostic(where, "E606", f"unknown certResolver {resolver!r}",
                                      _known(resolver, env.ingress.resolver_names, "ingress.certResolvers")))
    points = [e.name for e in env.ingress.entry_points] if env.ingress else []
    for index, tcp in enumerate(block.tcp_routes):
        if tcp.entry_point not in points:
            out.append(doc.diagnostic((*loc, "tcpRoutes", index, "entryPoint"), "E607", f"unknown entry point {tcp.entry_point!r}",
                                      _known(tcp.entry_point, points, "ingress.entryPoints")))
    return out


def _shared_routes(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    """(host, path) pairs and TCP entry points must each have exactly one owner."""
    out = []
    owners: dict[tuple[str, str], Loc] = {}
    entry_owners: dict[str, Loc] = {}
    for b_index, block in enumerate(env.building_blocks):
        for r_index, route in enumerate(block.routes):
            key = (block.route_host(route), route.path.rstrip("/") or "/")
            loc: Loc = ("buildingBlocks", b_index, "routes", r_index)
            if key in owners:
                out.append(doc.diagnostic(loc, "E602", f"{key[0]}{key[1] if key[1] != '/' else ''} is already routed",
                                          "each host and path prefix has one route; Traefik would pick one silently",
                                          related=(owners[key],)))
            owners.setdefault(key, loc)
        for r_index, tcp in enumerate(block.tcp_routes):
            loc = ("buildingBlocks", b_index, "tcpRoutes", r_index)
            if tcp.entry_point in entry_owners:
                out.append(doc.diagnostic(loc, "E607", f"entry point {tcp.entry_point!r} already carries a TCP route",
                                          "a TCP route without SNI takes the whole entry point: give each its own",
                                          related=(entry_owners[tcp.entry_point],)))
            entry_owners.setdefault(tcp.entry_point, loc)
    return out


def _hosts_across_stages(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    """Each stage is its own cluster, and a DNS name points at one place: no public host name
    (compared as DNS does, whatever the case) may be one two stages' routes make, as
    `api.dev` under example.org and `api` under dev.example.org, or any route of two stages
    sharing a domain."""
    out = []
    first: dict[str, tuple[int, str]] = {}  # host -> (stage index, the route making it)
    for s_index, stage in enumerate(env.stages):
        reported: set[int] = set()
        for block in env.building_blocks:
            for route in block.routes:
                host = f"{block.route_host(route)}.{stage.domain}".lower()
                where = f"route {route.name!r} of {block.id!r}"
                owner = first.setdefault(host, (s_index, where))
                if owner[0] != s_index and owner[0] not in reported:
                    reported.add(owner[0])  # once per pair of stages: the first host shows the problem
                    other = env.stages[owner[0]]
                    out.append(doc.diagnostic(("stages", s_index, "domain"), "E602",
                                              f"{host} would be answered by stage {other.name!r} ({owner[1]}) and by stage "
                                              f"{stage.name!r} ({where}): a DNS name points at one cluster",
                                              "give each stage a domain no route of another stage reaches",
                                              related=(("stages", owner[0], "domain"),)))
    return out


def _flattened_middlewares(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    """Traefik names a CRD middleware <namespace>-<name>: two pairs may flatten alike (traefik #6318)."""
    out = []
    seen: dict[str, tuple[str, Loc]] = {}
    for b_index, block in enumerate(env.building_blocks):
        for m_index, middleware in enumerate(block.middlewares):
            flat = f"{block.ns}-{middleware.name}"
            loc: Loc = ("buildingBlocks", b_index, "middlewares", m_index, "name")
            if flat in seen and seen[flat][0] != block.ns:
                out.append(doc.diagnostic(loc, "E608", f"middleware {middleware.name!r} and one of namespace {seen[flat][0]!r} "
                                          f"are both {flat!r} to Traefik", "rename one of them", related=(seen[flat][1],)))
            seen.setdefault(flat, (block.ns, loc))
    return out
