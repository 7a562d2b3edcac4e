"""What a chart renders, held to the rules the tree renders around it (CHECKLIST §2, 16-18).

Pure functions: a release's rendered objects and its `Fence` (what the stage's tree says about
its namespace: the reconciler's Role, the AppProject, the Pod Security level, the quota and
limit range, the declared claims, the routes and network policies, the Secrets it provides) in,
`Finding`s out. A finding names the chart object and the building block field responsible; the
runner turns it into a located diagnostic.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from govstack_gen.spec.model import Volume
from govstack_gen.spec.types import parse_quantity
from govstack_gen.validation.podsecurity import evaluate

__all__ = ["CLUSTER_SCOPED", "ChartClaim", "Context", "Fence", "Finding", "check_release", "fences", "pod_templates"]

Obj = dict[str, Any]
Loc = tuple[str | int, ...]

# Kinds the API server keeps outside namespaces (built-in; CRDs say their scope).
CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "ClusterRole",
    "ClusterRoleBinding", "CustomResourceDefinition", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding", "PriorityClass", "IngressClass", "RuntimeClass", "APIService",
    "CertificateSigningRequest", "PodSecurityPolicy", "FlowSchema", "PriorityLevelConfiguration", "VolumeSnapshotClass",
    "ClusterIssuer", "IPAddress", "ServiceCIDR", "DeviceClass",
})
# Resource names of the built-in kinds whose plural is not simply lowercase + "s".
PLURALS = {"Endpoints": "endpoints", "NetworkPolicy": "networkpolicies", "PodSecurityPolicy": "podsecuritypolicies",
           "Ingress": "ingresses", "IngressClass": "ingressclasses", "StorageClass": "storageclasses",
           "PriorityClass": "priorityclasses", "RuntimeClass": "runtimeclasses", "ResourceQuota": "resourcequotas",
           "PodDisruptionBudget": "poddisruptionbudgets", "HorizontalPodAutoscaler": "horizontalpodautoscalers",
           "VolumeSnapshotClass": "volumesnapshotclasses", "ClusterIssuer": "clusterissuers", "Gateway": "gateways"}
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "Pod")
RESOURCES = ("cpu", "memory")


@dataclass(frozen=True)
class Finding:
    code: str
    block: str  # the building block whose spec is responsible
    loc: Loc  # the field in it (named list items by name); () for the building block itself
    message: str
    hint: str = ""
    severity: str = "error"


@dataclass
class Fence:
    """What the stage's tree says about one namespace."""

    namespace: str
    level: str = "restricted"
    version: str = "latest"
    rules: list[Obj] = field(default_factory=list)  # the helm-reconciler Role's rules
    quota: dict[str, str] = field(default_factory=dict)
    default_request: dict[str, str] = field(default_factory=dict)
    default_limit: dict[str, str] = field(default_factory=dict)
    claims: dict[str, Obj] = field(default_factory=dict)  # declared PersistentVolumeClaims by name
    bound: set[str] = field(default_factory=set)  # claim names a static PV is pre-bound to (claimRef)
    routes: list[Obj] = field(default_factory=list)  # IngressRoute and IngressRouteTCP objects
    policies: list[Obj] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)  # Secrets the tree or the spec provides
    config_maps: set[str] = field(default_factory=set)
    projects: dict[str, Obj] = field(default_factory=dict)  # Argo CD AppProjects by name


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _name(obj: Obj) -> str:
    return f"{obj.get('kind')}/{_meta(obj).get('name')}"


def fences(objects: list[Obj]) -> dict[str, Fence]:
    """Every namespace's fence, from what kustomize built for a stage (all its layers)."""
    out: dict[str, Fence] = {}

    def fence(namespace: str) -> Fence:
        return out.setdefault(namespace, Fence(namespace))

    for obj in objects:
        kind, meta = obj.get("kind"), _meta(obj)
        namespace = str(meta.get("namespace", ""))
        if kind == "Namespace":
            labels = meta.get("labels") or {}
            f = fence(str(meta.get("name")))
            f.level = str(labels.get("pod-security.kubernetes.io/enforce", "privileged"))
            f.version = str(labels.get("pod-security.kubernetes.io/enforce-version", "latest"))
        elif kind == "Role" and meta.get("name") == "helm-reconciler":
            fence(namespace).rules = list(obj.get("rules") or [])
        elif kind == "ResourceQuota":
            fence(namespace).quota.update({str(k): str(v) for k, v in ((obj.get("spec") or {}).get("hard") or {}).items()})
        elif kind == "LimitRange":
            for limit in (obj.get("spec") or {}).get("limits") or []:
                if limit.get("type") == "Container":
                    fence(namespace).default_request.update(limit.get("defaultRequest") or {})
                    fence(namespace).default_limit.update(limit.get("default") or {})
        elif kind == "PersistentVolumeClaim":
            fence(namespace).claims[str(meta.get("name"))] = obj
        elif kind == "PersistentVolume":
            ref = (obj.get("spec") or {}).get("claimRef") or {}
            if ref.get("namespace") and ref.get("name"):
                fence(str(ref["namespace"])).bound.add(str(ref["name"]))
        elif kind in ("IngressRoute", "IngressRouteTCP"):
            fence(namespace).routes.append(obj)
        elif kind == "NetworkPolicy":
            fence(namespace).policies.append(obj)
        elif kind == "Secret":
            fence(namespace).secrets.add(str(meta.get("name")))
        elif kind == "ConfigMap":
            fence(namespace).config_maps.add(str(meta.get("name")))
        elif kind == "FieldExport":  # ACK writes the RDS endpoint into this ConfigMap or Secret
            to = (obj.get("spec") or {}).get("to") or {}
            target = fence(str(to.get("namespace") or namespace))
            (target.secrets if str(to.get("kind", "")).lower() == "secret" else target.config_maps).add(str(to.get("name")))
        elif kind == "AppProject":
            fence(namespace).projects[str(meta.get("name"))] = obj
    return out


# -- pod templates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PodTemplate:
    owner: Obj
    metadata: Obj
    spec: Obj
    replicas: int


def pod_templates(objects: list[Obj]) -> Iterator[PodTemplate]:
    for obj in objects:
        kind, spec = obj.get("kind"), obj.get("spec") or {}
        if kind not in WORKLOADS or not isinstance(spec, dict):
            continue
        if kind == "Pod":
            yield PodTemplate(obj, _meta(obj), spec, 1)
            continue
        if kind == "CronJob":
            spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
        template = spec.get("template") or {}
        replicas = spec.get("parallelism", 1) if kind in ("Job", "CronJob") else spec.get("replicas", 1)
        replicas = replicas if isinstance(replicas, int) else 1
        yield PodTemplate(obj, template.get("metadata") or {}, template.get("spec") or {}, replicas)


def _claims_of(template: PodTemplate) -> list[str]:
    return [str(v["persistentVolumeClaim"].get("claimName")) for v in template.spec.get("volumes") or []
            if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)]


# -- the checks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartClaim:
    """A declared volume whose claim the chart creates: what that claim must ask for to bind."""

    volume: str
    claim: str
    storage_class: str
    request: str
    access_modes: tuple[str, ...]
    class_key: bool  # the spec writes the class into the chart (storageClassKey)


@dataclass(frozen=True)
class Context:
    block: str
    namespace: str
    engine: str
    fence: Fence
    project: Obj | None = None
    declared_secrets: frozenset[str] = frozenset()
    volumes: tuple[tuple[str, str], ...] = ()  # (volume name, claim name) the spec declares for the block
    chart_claims: tuple[ChartClaim, ...] = ()  # the declared volumes whose claim the chart creates (chartClaim)
    resources_loc: Loc = ("resources",)
    mirror: str | None = None  # the registry every image must come from (render --mirror)
    endpoint: str | None = None  # where the spec says the building block answers (handed to who requires it)


def check_release(ctx: Context, objects: list[Obj]) -> list[Finding]:
    return [*_kinds(ctx, objects), *_pod_security(ctx, objects), *_claims(ctx, objects), *_budget(ctx, objects),
            *_routes(ctx, objects), *_endpoint(ctx, objects), *_images(ctx, objects), *_references(ctx, objects)]


def _endpoint(ctx: Context, objects: list[Obj]) -> Iterator[Finding]:
    """The endpoint the spec hands to the building blocks that require this one names a Service of
    the chart, on one of its ports (`<service>[.<namespace>[.svc[.cluster.local]]]:<port>`, or a URL)."""
    if not ctx.endpoint:
        return
    address = ctx.endpoint.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = address.rpartition(":")
    if not host:
        host, port = address, ""
    name, _, rest = host.partition(".")
    namespace = rest.split(".", 1)[0] if rest else ctx.namespace
    if namespace != ctx.namespace or (rest and not rest.startswith(f"{namespace}.svc") and rest != namespace):
        return  # elsewhere: not this chart's to have
    services = {str(_meta(o).get("name")): o for o in objects if o.get("kind") == "Service"}
    service = services.get(name)
    if service is None:
        close = difflib.get_close_matches(name, sorted(services), n=1, cutoff=0.3)
        yield Finding("E727", ctx.block, ("endpoint",), f"endpoint {ctx.endpoint!r} names Service {name!r}, which the chart does "
                      "not create", (f"did you mean {close[0]!r}? " if close else "") + "the chart's Services: "
                      + (", ".join(sorted(services)) or "none"))
        return
    ports = [str(p.get("port")) for p in _service_ports(service)]
    if port and port not in ports:
        yield Finding("E727", ctx.block, ("endpoint",), f"endpoint {ctx.endpoint!r} names port {port} of Service {name!r}, "
                      f"which has ports {', '.join(ports)}", "use one of the Service's ports")


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _plural(kind: str) -> str:
    if kind in PLURALS:
        return PLURALS[kind]
    lower = kind.lower()
    return lower + ("es" if lower.endswith(("s", "x", "ch", "sh")) else "s") if not lower.endswith("y") else lower[:-1] + "ies"


def _allows(rules: list[Obj], group: str, resource: str, verb: str) -> bool:
    for rule in rules:
        if (group in (rule.get("apiGroups") or []) or "*" in (rule.get("apiGroups") or [])) and \
                (resource in (rule.get("resources") or []) or "*" in (rule.get("resources") or [])) and \
                (verb in (rule.get("verbs") or []) or "*" in (rule.get("verbs") or [])):
            return True
    return False


def _listed(entries: list[Obj], group: str, kind: str) -> bool:
    return any(str(e.get("group", "")) in (group, "*") and str(e.get("kind", "")) in (kind, "*") for e in entries or [])


def _kinds(ctx: Context, objects: list[Obj]) -> Iterator[Finding]:
    """Every object is one the release's reconciler may create, in its own namespace."""
    for obj in objects:
        kind, api = str(obj.get("kind", "")), str(obj.get("apiVersion", ""))
        group, namespace = _group(api), _meta(obj).get("namespace")
        if kind in CLUSTER_SCOPED:
            yield Finding("E723", ctx.block, (), f"the chart renders {_name(obj)} ({api}), a cluster-wide kind: the namespace's "
                          "reconciler may not create it", _KIND_HINT)
            continue
        if namespace and namespace != ctx.namespace:
            yield Finding("E723", ctx.block, (), f"the chart renders {_name(obj)} in namespace {namespace!r}, outside "
                          f"{ctx.namespace!r}", "a building block's chart writes only into its own namespace")
            continue
        refused = []
        if not _allows(ctx.fence.rules, group, _plural(kind), "create"):
            refused.append("the namespace's helm-reconciler Role may not create")
        if ctx.project is not None and not _project_permits(ctx.project, group, kind):
            refused.append(f"AppProject {_meta(ctx.project).get('name')} does not permit")
        if refused:
            yield Finding("E723", ctx.block, (), f"the chart renders {_name(obj)} ({api}), which {' and '.join(refused)}", _KIND_HINT)


def _project_permits(project: Obj, group: str, kind: str) -> bool:
    spec = project.get("spec") or {}
    if _listed(spec.get("namespaceResourceBlacklist") or [], group, kind):
        return False
    whitelist = spec.get("namespaceResourceWhitelist")
    return not whitelist or _listed(whitelist, group, kind)


_KIND_HINT = ("the platform renders namespaces, volumes, RBAC, network policies and quotas: switch the chart's own off in "
              "the building block's values")


def _pod_security(ctx: Context, objects: list[Obj]) -> Iterator[Finding]:
    for template in pod_templates(objects):
        forbidden = evaluate(ctx.fence.level, ctx.fence.version, template.metadata, template.spec)
        if forbidden:  # worded like the API server's refusal
            yield Finding("E724", ctx.block, ("podSecurity",),
                          f"{_name(template.owner)} violates PodSecurity \"{ctx.fence.level}:{ctx.fence.version}\": "
                          + ", ".join(map(str, forbidden)),
                          "set the security context in the building block's values; if the chart cannot meet the level, "
                          "declare podSecurity with its reason")


def _claims(ctx: Context, objects: list[Obj]) -> Iterator[Finding]:
    """Data lands only on claims the spec declares, and every declared claim is used."""
    declared = set(ctx.fence.claims)
    mounted: set[str] = set()
    created: list[tuple[str, Obj, str]] = []  # (claim, its spec, what creates it) for the chart's own claims
    for template in pod_templates(objects):
        for claim in _claims_of(template):
            mounted.add(claim)
            if claim not in declared and claim not in {_meta(o).get("name") for o in objects if o.get("kind") == "PersistentVolumeClaim"}:
                yield Finding("E725", ctx.block, ("volumes",), f"{_name(template.owner)} mounts claim {claim!r}, which neither the "
                              "spec nor the chart declares", "give the chart the claim of a declared volume (claimKey)")
        if template.owner.get("kind") == "StatefulSet":
            sts = str(_meta(template.owner).get("name"))
            for vct in (template.owner.get("spec") or {}).get("volumeClaimTemplates") or []:
                name = str(_meta(vct).get("name"))
                for ordinal in range(max(template.replicas, 1)):
                    claim = f"{name}-{sts}-{ordinal}"
                    mounted.add(claim)
                    created.append((claim, vct.get("spec") or {}, f"{_name(template.owner)} creates claim {claim!r} from its "
                                    f"volumeClaimTemplate {name!r}"))
    created += [(str(_meta(o).get("name")), o.get("spec") or {}, f"the chart creates {_name(o)}")
                for o in objects if o.get("kind") == "PersistentVolumeClaim"]
    bound = {c.claim: c for c in ctx.chart_claims}
    for claim, spec, what in created:
        if claim in bound:
            yield from _chart_claim(ctx, bound[claim], spec, what)
        elif claim not in ctx.fence.bound:
            yield Finding("E725", ctx.block, ("volumes",), f"{what}: no static volume of the spec is bound to it, so its data "
                          "lands on whatever the default storage class provisions",
                          f"declare a volume bound to it (chartClaim: {claim}, with storageClassKey), or point the chart at a "
                          "declared volume's claim (claimKey) instead of its own")
    for volume, claim in ctx.volumes:
        if claim not in mounted:
            field_name = "chartClaim" if claim in bound else "claimKey"
            yield Finding("E725", ctx.block, _volume_loc(volume, field_name),
                          f"volume {volume!r} (claim {claim!r}) is mounted by no pod of the chart: its data would go elsewhere",
                          "name the claim a StatefulSet's volumeClaimTemplate or the chart creates (chartClaim)" if claim in bound
                          else "set claimKey to the chart value that takes an existing claim")


def _volume_loc(volume: str, field_name: str) -> Loc:
    # Findings name the spec's volumes; the in-chart database's is named "database".
    return Volume.field_loc(volume, field_name, volume == "database")


def _chart_claim(ctx: Context, declared: ChartClaim, spec: Obj, what: str) -> Iterator[Finding]:
    """The chart's own claim binds to the volume pre-bound to it (Kubernetes matches a pre-bound
    volume by its claimRef before any class) if the volume is large enough and has its access
    modes. Its class decides what happens if the volume is ever missing: the volume's class (no
    provisioner) waits for it, any other provisions a volume of its own."""
    request = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if request is None or _quantity(request) > _quantity(declared.request):
        yield Finding("E725", ctx.block, _volume_loc(declared.volume, "chartClaim"),
                      f"{what} requesting {request}, more than volume {declared.volume!r} holds ({declared.request}): it would "
                      "not bind", "set the chart's persistence size to the volume's size (or less) in the building block's values")
    modes = [m for m in spec.get("accessModes") or [] if m not in declared.access_modes]
    if modes:
        yield Finding("E725", ctx.block, _volume_loc(declared.volume, "chartClaim"),
                      f"{what} with access modes {', '.join(modes)}, which volume {declared.volume!r} does not have: it would "
                      "not bind", "give the volume those accessModes, or set the chart's to the volume's")
    asked = spec.get("storageClassName")
    if asked == declared.storage_class:
        return
    of_class = f"of storage class {asked!r}" if asked else "without a storage class (the cluster's default)"
    if declared.class_key:
        yield Finding("E725", ctx.block, _volume_loc(declared.volume, "storageClassKey"),
                      f"{what} {of_class}, not {declared.storage_class!r} of volume {declared.volume!r}: if the volume were "
                      "missing, another would be provisioned", "set storageClassKey to the chart value that takes that claim's "
                      "storage class")
    else:
        yield Finding("E725", ctx.block, _volume_loc(declared.volume, "chartClaim"),
                      f"{what} {of_class}: it binds to volume {declared.volume!r} by the volume's claimRef, but if the volume "
                      "were missing its class would provision another",
                      f"if the chart has a value for that claim's storage class, name it in storageClassKey (it gets "
                      f"{declared.storage_class!r}, which never provisions); Flux trees patch a claim the chart creates "
                      "under that name, a volumeClaimTemplate's they cannot", severity="warning")


def _quantity(value: Any) -> Decimal:
    try:
        return parse_quantity(str(value))
    except (ValueError, ArithmeticError):
        return Decimal(0)


def _container_resources(container: Obj, fence: Fence) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    out_req, out_lim = {}, {}
    for r in RESOURCES:
        limit = limits.get(r, fence.default_limit.get(r))
        # No request: the API server takes the limit (the container's own), else the LimitRange default.
        request = requests.get(r, limits.get(r, fence.default_request.get(r)))
        out_req[r], out_lim[r] = _quantity(request or 0), _quantity(limit or 0)
    return out_req, out_lim


def _pod_resources(template: PodTemplate, fence: Fence) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """What a pod counts against the quota: the sum of its containers, or its largest init
    container where that is more."""
    requests = dict.fromkeys(RESOURCES, Decimal(0))
    limits = dict.fromkeys(RESOURCES, Decimal(0))
    for container in template.spec.get("containers") or []:
        req, lim = _container_resources(container, fence)
        for r in RESOURCES:
            requests[r] += req[r]
            limits[r] += lim[r]
    for container in template.spec.get("initContainers") or []:
        req, lim = _container_resources(container, fence)
        for r in RESOURCES:
            requests[r] = max(requests[r], req[r])
            limits[r] = max(limits[r], lim[r])
    return requests, limits


def _budget(ctx: Context, objects: list[Obj]) -> Iterator[Finding]:
    quota = ctx.fence.quota
    if not quota:
        return
    totals: dict[str, Decimal] = {}
    parts: dict[str, list[str]] = {}
    for template in pod_templates(objects):
        requests, limits = _pod_resources(template, ctx.fence)
        for prefix, amounts in (("requests", requests), ("limits", limits)):
            for r, amount in amounts.items():
                key = f"{prefix}.{r}"
                totals[key] = totals.get(key, Decimal(0)) + amount * template.replicas
                if amount:
                    parts.setdefault(key, []).append(f"{_name(template.owner)} {_show(amount, r)}"
                                                     + (f" x{template.replicas}" if template.replicas != 1 else ""))
    claims = list(ctx.fence.claims.values()) + [o for o in objects if o.get("kind") == "PersistentVolumeClaim"]
    storage = sum((_quantity(((c.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage", 0)) for c in claims),
                  start=Decimal(0))
    count = len(claims)
    for template in pod_templates(objects):
        templates = (template.owner.get("spec") or {}).get("volumeClaimTemplates") if template.owner.get("kind") == "StatefulSet" else []
        for vct in templates or []:
            size = _quantity(((vct.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage", 0))
            count += max(template.replicas, 1)
            storage += size * max(template.replicas, 1)
    totals["requests.storage"], totals["persistentvolumeclaims"] = storage, Decimal(count)
    for key, total in sorted(totals.items()):
        if key in quota and total > _quantity(quota[key]):
            unit = key.rsplit(".", 1)[-1]
            detail = "; ".join(parts.get(key, [])[:8]) + (" ..." if len(parts.get(key, [])) > 8 else "")
            yield Finding("E726", ctx.block, ctx.resources_loc,
                          f"the chart's pods need {key} {_show(total, unit)} in all, above the namespace's quota of {quota[key]}"
                          + (f" ({detail})" if detail else ""),
                          "raise the building block's resources, or lower the chart's requests, limits or replicas in values")


def _show(amount: Decimal, unit: str) -> str:
    if unit == "cpu":
        return f"{amount.normalize():f}" if amount == amount.to_integral_value() or amount >= 1 else f"{int(amount * 1000)}m"
    if unit in ("memory", "storage"):
        for suffix, size in (("Gi", 2**30), ("Mi", 2**20)):
            if amount >= size:
                return f"{(amount / size).quantize(Decimal('0.01')).normalize():f}{suffix}"
        return str(int(amount))
    return str(int(amount))


def _service_ports(service: Obj) -> list[Obj]:
    return [p for p in (service.get("spec") or {}).get("ports") or [] if isinstance(p, dict)]


def _matches(selector: Obj, labels: Obj) -> bool:
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def _container_ports(template: PodTemplate) -> list[Obj]:
    return [p for c in template.spec.get("containers") or [] for p in c.get("ports") or [] if isinstance(p, dict)]


def _target_ports(service: Obj, port: Obj, templates: list[PodTemplate]) -> set[int]:
    """The container ports a Service port reaches (named target ports resolved)."""
    target = port.get("targetPort", port.get("port"))
    selector = (service.get("spec") or {}).get("selector") or {}
    selected = [t for t in templates if selector and _matches(selector, t.metadata.get("labels") or {})]
    if isinstance(target, int):
        return {target}
    return {int(p["containerPort"]) for t in selected for p in _container_ports(t) if p.get("name") == target and "containerPort" in p}


def _routes(ctx: Context, objects: list[Obj]) -> Iterator[Finding]:
    services = {str(_meta(o).get("name")): o for o in objects if o.get("kind") == "Service"}
    templates = list(pod_templates(objects))
    reached: dict[int, dict[Loc, set[int]]] = {}  # route port -> the routes on it and the container ports behind them
    for route in ctx.fence.routes:
        kind, route_name = str(route.get("kind")), str(_meta(route).get("name"))
        field_name = "tcpRoutes" if kind == "IngressRouteTCP" else "routes"
        spec_name = route_name.removesuffix("-http") if kind == "IngressRoute" else route_name
        if kind == "IngressRoute" and route_name.endswith("-http"):
            continue  # the redirect twin names the same service
        for rule in (route.get("spec") or {}).get("routes") or []:
            for target in rule.get("services") or []:
                name, port = str(target.get("name")), target.get("port")
                service = services.get(name)
                if service is None:
                    close = difflib.get_close_matches(name, sorted(services), n=1, cutoff=0.3)
                    yield Finding("E727", ctx.block, (field_name, spec_name, "service"),
                                  f"{kind}/{route_name} routes to Service {name!r}, which the chart does not create",
                                  (f"did you mean {close[0]!r}? " if close else "") + "the chart's Services: "
                                  + (", ".join(sorted(services)) or "none"))
                    continue
                ports = [p for p in _service_ports(service) if p.get("port") == port or p.get("name") == port]
                if not ports:
                    yield Finding("E727", ctx.block, (field_name, spec_name, "port"),
                                  f"{kind}/{route_name} routes to port {port} of Service {name!r}, which has ports "
                                  + ", ".join(str(p.get("port")) for p in _service_ports(service)), "use one of the Service's ports")
                    continue
                if isinstance(port, int):
                    reached.setdefault(port, {}).setdefault((field_name, spec_name, "port"), set()).update(
                        _target_ports(service, ports[0], templates))
    yield from _policy_ports(ctx, templates, reached)


def _policy_ports(ctx: Context, templates: list[PodTemplate], reached: dict[int, dict[Loc, set[int]]]) -> Iterator[Finding]:
    """A port a network policy opens must be one the selected pods listen on (policies name pod
    ports, not Service ports)."""
    listening = {int(p["containerPort"]) for t in templates for p in _container_ports(t) if "containerPort" in p}
    for policy in ctx.fence.policies:
        spec = policy.get("spec") or {}
        for rule in spec.get("ingress") or []:
            for entry in rule.get("ports") or []:
                port = entry.get("port")
                if not isinstance(port, int) or port in listening:
                    continue
                if any(reached.get(port, {}).values()):
                    continue  # a Service port the pods do not listen on: said below, at its route, with the pods' port
                route = _route_with_port(ctx.fence, port)
                yield Finding("E727", ctx.block, route or ("routes",),
                              f"NetworkPolicy/{_meta(policy).get('name')} opens port {port}, on which no pod of the chart listens",
                              "network policies name the pods' ports: route to a port the chart's pods listen on")
    # Network policies name the pods' ports: a route whose Service sends its port to another
    # reaches the pods only if that one is open (the route's targetPort).
    opened = {e.get("port") for policy in ctx.fence.policies for rule in (policy.get("spec") or {}).get("ingress") or []
              for e in rule.get("ports") or []}
    for port, routes in sorted(reached.items()):
        for loc, targets in routes.items():
            if targets and opened and not targets & opened:
                yield Finding("E727", ctx.block, loc, f"the Service sends the route's port {port} to "
                              f"{', '.join(map(str, sorted(targets)))}, which no network policy of the namespace opens: the "
                              "route's traffic is dropped", f"set the route's targetPort: {min(targets)} (network policies "
                              "name the pods' ports, not the Service's)")


def _route_with_port(fence: Fence, port: int) -> Loc | None:
    for route in fence.routes:
        for rule in (route.get("spec") or {}).get("routes") or []:
            if any(s.get("port") == port for s in rule.get("services") or []):
                name = str(_meta(route).get("name")).removesuffix("-http")
                return ("tcpRoutes" if route.get("kind") == "IngressRouteTCP" else "routes", name, "port")
    return None


def images(objects: list[Obj]) -> list[tuple[Obj, str]]:
    """(owner, image) of every container of every pod template."""
    return [(t.owner, str(c.get("image", ""))) for t in pod_templates(objects)
            for key in ("initContainers", "containers") for c in t.spec.get(key) or [] if isinstance(c, dict)]


def image_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return bool(tag) and tag != "latest"


# Amazon ECR registries are always private (they need the account's credentials).
PRIVATE_REGISTRY = ".dkr.ecr."
# Bitnami stopped serving versioned tags at docker.io/bitnami in 2025; they live on under
# docker.io/bitnamilegacy (https://github.com/bitnami/containers/issues/83267).
WITHDRAWN = ("docker.io/bitnami/", "bitnami/")


def _images(ctx: Context, objects: list[Obj]) -> Iterator[Finding]:
    seen: set[str] = set()
    for owner, image in images(objects):
        if image in seen:
            continue
        seen.add(image)
        if not image_pinned(image):
            yield Finding("E729", ctx.block, ("values",), f"{_name(owner)} runs image {image or '(none)'!r}, which is not pinned to a "
                          "tag or digest", "set the image's tag in the building block's values (a version, or @sha256:...)")
        elif PRIVATE_REGISTRY in image:
            yield Finding("E729", ctx.block, ("values",), f"{_name(owner)} runs image {image!r} from a private registry",
                          "use a public image, or mirror it (govstack-gen bom --mirror)")
        elif ctx.mirror and not image.startswith(f"{ctx.mirror}/"):
            yield Finding("E729", ctx.block, ("values",), f"{_name(owner)} runs image {image!r}, not one of the mirror "
                          f"{ctx.mirror}: render --mirror rewrites only the images values name",
                          "name the image in the building block's values (registry, repository, tag), so the mirror rewrites it")
        elif image.startswith(WITHDRAWN):
            yield Finding("E729", ctx.block, ("values",), f"{_name(owner)} runs image {image!r}, which Bitnami no longer serves "
                          "there", "take the same tag from docker.io/bitnamilegacy in the building block's values")


def _references(ctx: Context, objects: list[Obj]) -> Iterator[Finding]:
    """Secrets and ConfigMaps the pods need exist somewhere (a warning: they may come from
    outside the tree)."""
    secrets = {str(_meta(o).get("name")) for o in objects if o.get("kind") == "Secret"} | ctx.fence.secrets | ctx.declared_secrets
    maps = {str(_meta(o).get("name")) for o in objects if o.get("kind") == "ConfigMap"} | ctx.fence.config_maps
    missing: dict[tuple[str, str], str] = {}
    for template in pod_templates(objects):
        for kind, name in _referenced(template.spec):
            if (kind == "Secret" and name not in secrets) or (kind == "ConfigMap" and name not in maps):
                missing.setdefault((kind, name), _name(template.owner))
    for (kind, name), owner in sorted(missing.items()):
        yield Finding("E730", ctx.block, ("secrets",) if kind == "Secret" else (), f"{owner} needs {kind} {name!r}, which neither "
                      "the chart nor the tree creates", "declare it under the building block's secrets, or let the chart "
                      "create it", severity="warning")


def _referenced(spec: Obj) -> Iterator[tuple[str, str]]:
    """Required (not optional) Secrets and ConfigMaps of a pod spec."""
    for volume in spec.get("volumes") or []:
        if isinstance(volume.get("secret"), dict) and not volume["secret"].get("optional"):
            yield "Secret", str(volume["secret"].get("secretName"))
        if isinstance(volume.get("configMap"), dict) and not volume["configMap"].get("optional"):
            yield "ConfigMap", str(volume["configMap"].get("name"))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if isinstance(source.get("secret"), dict) and not source["secret"].get("optional"):
                yield "Secret", str(source["secret"].get("name"))
            if isinstance(source.get("configMap"), dict) and not source["configMap"].get("optional"):
                yield "ConfigMap", str(source["configMap"].get("name"))
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}) if isinstance(env, dict) else {}
                for kind, field_name in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if isinstance(ref.get(field_name), dict) and not ref[field_name].get("optional"):
                        yield kind, str(ref[field_name].get("name"))
            for source in container.get("envFrom") or []:
                for kind, field_name in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                    if isinstance(source.get(field_name), dict) and not source[field_name].get("optional"):
                        yield kind, str(source[field_name].get("name"))
