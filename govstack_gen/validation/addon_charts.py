"""`validate --charts` for the add-ons layer: each add-on chart rendered with the values the tree
gives it (Traefik: k3s's HelmChartConfig over k3s's packaging of the chart, the HelmRelease or
the Argo CD Application elsewhere; cert-manager, the EFS CSI driver, the ACK RDS controller and
the Karpenter controller of each stage: their HelmRelease or Application), and what it makes
held to what the tree relies on:

- Traefik: every entry point a route of the stage uses is a port of its Service, acme.json is
  on the tree's static claim (E731);
- every add-on: its controllers' pods on the core pool (E732), the IAM role on its service
  account where the spec gives one (E732), the EFS driver's CSIDriver object (the tree renders
  none: E732), cert-manager's and Karpenter's CRDs and Karpenter's cluster name (E732), its
  pods under the restricted Pod Security level of the namespace the tree creates for it (E724),
  and every value the tree writes changes what the chart renders (E728)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from govstack_gen.errors import Diagnostic
from govstack_gen.render import addons
from govstack_gen.render.k8s import PSS_VERSION
from govstack_gen.resolve import Resolved
from govstack_gen.spec.locate import BlockLocator
from govstack_gen.spec.model import NodePool
from govstack_gen.validation.chart_checks import images, pod_templates
from govstack_gen.validation.chart_render import Rendered, Renderer
from govstack_gen.validation.charts import ChartRef
from govstack_gen.validation.podsecurity import evaluate
from govstack_gen.validation.releases import Release, releases

__all__ = ["K3S_TRAEFIK", "Checked", "addon_checked", "bundled_traefik_release", "check_addon_charts"]

Obj = dict[str, Any]
# What k3s bundles, as k3s-io/k3s-charts packages it: the chart the HelmChartConfig's values are
# checked against (k3s brings its own; a newer k3s may bundle a newer one).
K3S_TRAEFIK = ChartRef("https://k3s.io/k3s-charts", "traefik", "39.0.701+up39.0.7")


def bundled_traefik_release(env: Resolved, stage: str, objects: list[Obj]) -> Release | None:
    """k3s's bundled Traefik as it would be installed: the HelmChartConfig's values over k3s's
    packaging of the chart (None where Traefik is not k3s's)."""
    if not (addons.traefik_rendered(env) and addons.bundled_traefik(env)):
        return None
    from ruamel.yaml import YAML

    config = next((o for o in objects if o.get("kind") == "HelmChartConfig"
                   and (o.get("metadata") or {}).get("name") == "traefik"), None)
    if config is None:
        return None
    values = YAML(typ="safe").load(str((config.get("spec") or {}).get("valuesContent") or "")) or {}
    return Release(stage, env.gitops.engine, "traefik", "traefik", addons.K3S_TRAEFIK_NAMESPACE, K3S_TRAEFIK, values)


@dataclass(frozen=True)
class Checked:
    """An add-on's release in a stage, and what the spec says of it."""

    stage: str
    release: Release
    spec: addons.AddonRelease


def addon_checked(env: Resolved, built: dict[str, list[Obj]]) -> list[Checked]:
    """Every add-on release of every stage, as it would be installed."""
    out = []
    for stage, objects in built.items():
        specs = {r.name: r for r in addons.stage_releases(env, stage)}
        bundled = bundled_traefik_release(env, stage, objects)
        if bundled is not None:  # kube-system is not the tree's: no Pod Security level of ours there
            out.append(Checked(stage, bundled, addons.AddonRelease("traefik", bundled.namespace, addons.traefik_chart(env),
                                                                   bundled.values, ("ingress",), own_namespace=False)))
        out += [Checked(stage, r, specs[r.name]) for r in releases(stage, env.gitops.engine, objects)
                if r.name in specs and r.block == r.name]
    return out


def check_addon_charts(env: Resolved, locator: BlockLocator, built: dict[str, list[Obj]],
                       renderer: Renderer, mirror: str | None = None) -> tuple[list[Diagnostic], int]:
    """The diagnostics (each told once, with the stages it holds in) and the releases rendered;
    `mirror`: the registry of render --mirror (the add-ons' images are not rewritten: a warning)."""
    found = addon_checked(env, built)
    findings: dict[tuple[str, str, str, str, tuple[str | int, ...], str], list[str]] = {}
    rendered_count = 0
    for checked, result in zip(found, renderer.render_all(c.release for c in found), strict=True):
        rendered_count += bool(result.objects)
        for code, message, hint, loc, severity in _check(env, checked, result, built[checked.stage], renderer, mirror):
            findings.setdefault((checked.spec.name, code, message, hint, loc, severity), []).append(checked.stage)
    stages = [s.name for s in env.stages]
    out = []
    for (name, code, message, hint, loc, severity), where in findings.items():
        scope = "" if sorted(where) == sorted(stages) else f" (stage{'s' if len(where) > 1 else ''} {', '.join(sorted(where))})"
        location, path = locator.doc.place(loc)
        out.append(Diagnostic(code, f"{name}{scope}: {message}", location, path, hint, severity))
    return sorted(out, key=Diagnostic.sort_key), rendered_count


Finding = tuple[str, str, str, tuple[str | int, ...], str]  # code, message, hint, spec path, severity


def _check(env: Resolved, checked: Checked, result: Rendered, stage_objects: list[Obj], renderer: Renderer,
           mirror: str | None) -> Iterator[Finding]:
    release, spec = checked.release, checked.spec
    chart_loc = spec.chart_loc or spec.loc
    if result.missing:
        yield ("E720", f"chart {release.chart} not found: {result.missing}",
               "pass --chart-dir DIR with the add-on's chart folder or package (helm pull), or allow fetching",
               chart_loc, "error")
        return
    if result.error:
        yield ("E722", f"helm cannot render chart {release.chart}: {' / '.join(result.error.splitlines()[:3])}",
               "fix what the spec gives the add-on until `helm template` renders it", chart_loc, "error")
        return
    objects = list(result.objects)
    if spec.name == "traefik":
        yield from _entry_points(env, objects, stage_objects)
        yield from _acme_claim(env, objects)
    yield from _on_core_pool(env.node_pools.core, objects, spec.loc)
    yield from _specific(spec, objects)
    if spec.own_namespace:  # kube-system enforces no level; the add-on namespaces the tree creates do
        for template in pod_templates(objects):
            forbidden = evaluate("restricted", PSS_VERSION, template.metadata, template.spec)
            if forbidden:
                name = f"{template.owner.get('kind')}/{(template.owner.get('metadata') or {}).get('name')}"
                yield ("E724", f"{name} violates PodSecurity \"restricted:{PSS_VERSION}\": " + ", ".join(map(str, forbidden)),
                       f"namespace {release.namespace} enforces the restricted level", spec.loc, "error")
    if mirror is not None and not (spec.name == "traefik" and addons.bundled_traefik(env)):  # k3s's: in its air-gap images
        outside = sorted({image for _, image in images(objects) if not image.startswith(f"{mirror}/")})
        if outside:
            yield ("E729", f"runs image{'s' if len(outside) > 1 else ''} {', '.join(outside)}, not of the mirror {mirror}: "
                   "render --mirror takes the add-ons' charts from it, their images keep their references",
                   "map those registries to the mirror in the container runtime (k3s registries.yaml, containerd hosts.toml, "
                   "an ECR pull-through cache); `govstack-gen bom --charts --mirror` lists them", spec.loc, "warning")
    assert result.chart is not None
    yield from _unread(checked, result, renderer)


def _on_core_pool(core: NodePool, objects: list[Obj], loc: tuple[str | int, ...]) -> Iterator[Finding]:
    """Each controller's pods select the core pool's labels and tolerate its taints (a
    DaemonSet's run on every node, as a node agent must)."""
    for template in pod_templates(objects):
        if template.owner.get("kind") == "DaemonSet":
            continue
        name = f"{template.owner.get('kind')}/{(template.owner.get('metadata') or {}).get('name')}"
        selector = template.spec.get("nodeSelector") or {}
        missing = sorted(f"{k}={v}" for k, v in core.labels.items() if selector.get(k) != v)
        if missing:
            yield ("E732", f"{name} does not select the core pool ({', '.join(missing)} missing from its nodeSelector)",
                   "the chart no longer reads the placement values the tree writes: check its values", loc, "error")
        tolerations = [t for t in template.spec.get("tolerations") or [] if isinstance(t, dict)]
        for taint in core.taints:
            if not any(_tolerates(t, taint.key, taint.value, taint.effect) for t in tolerations):
                yield ("E732", f"{name} does not tolerate the core pool's taint {taint.key}:{taint.effect}",
                       "the chart no longer reads the placement values the tree writes: check its values", loc, "error")


def _tolerates(toleration: Obj, key: str, value: str, effect: str) -> bool:
    if toleration.get("key") not in (None, "", key) or toleration.get("effect") not in (None, "", effect):
        return False
    if toleration.get("operator") == "Exists":
        return True
    return toleration.get("key") == key and str(toleration.get("value") or "") == value


def _specific(spec: addons.AddonRelease, objects: list[Obj]) -> Iterator[Finding]:
    """What the tree relies on each chart for."""
    kinds = {(o.get("kind"), (o.get("metadata") or {}).get("name")) for o in objects}
    if spec.name == "aws-efs-csi-driver" and ("CSIDriver", "efs.csi.aws.com") not in kinds:
        yield ("E732", "the chart creates no CSIDriver efs.csi.aws.com, which the tree leaves to it",
               "EFS volumes would not mount: use a driver chart that creates it, or provided: true", spec.loc, "error")
    if spec.name == "cert-manager":
        for crd in ("certificates.cert-manager.io", "clusterissuers.cert-manager.io"):
            if ("CustomResourceDefinition", crd) not in kinds:
                yield ("E732", f"the chart installs no CRD {crd}, which the platform layer's objects need",
                       "the chart no longer reads crds.enabled: check its values", spec.loc, "error")
    if spec.name == "karpenter":
        yield from _karpenter(spec, objects)
    if spec.role_arn is not None:
        accounts = [o for o in objects if o.get("kind") == "ServiceAccount"
                    and ((o.get("metadata") or {}).get("annotations") or {}).get(addons.IRSA_ROLE) == spec.role_arn]
        if not accounts:
            yield ("E732", f"no service account of the chart is annotated with the IAM role {spec.role_arn}",
                   "the chart no longer reads serviceAccount.annotations: check its values", (*spec.loc, "roleArn"), "error")


def _karpenter(spec: addons.AddonRelease, objects: list[Obj]) -> Iterator[Finding]:
    """The CRDs of the NodePool and EC2NodeClass the platform layer renders, and a controller
    that manages the stage's cluster (the one whose nodes it would otherwise launch and delete)."""
    kinds = {(o.get("kind"), (o.get("metadata") or {}).get("name")) for o in objects}
    for crd in ("nodepools.karpenter.sh", "ec2nodeclasses.karpenter.k8s.aws"):
        if ("CustomResourceDefinition", crd) not in kinds:
            yield ("E732", f"the chart installs no CRD {crd}, which the platform layer's objects need",
                   "install the chart with its crds/ folder (Flux: install.crds), or the karpenter-crd chart", spec.loc, "error")
    wanted = spec.values["settings"]["clusterName"]
    names = {str(e.get("value")) for t in pod_templates(objects) for c in t.spec.get("containers") or [] if isinstance(c, dict)
             for e in c.get("env") or [] if isinstance(e, dict) and e.get("name") == "CLUSTER_NAME"}
    if names != {wanted}:
        found = ", ".join(sorted(names)) or "none"
        yield ("E732", f"the controller's CLUSTER_NAME is {found}, not the stage's cluster {wanted}",
               "the chart no longer reads settings.clusterName: check its values", (*spec.loc, "clusterName"), "error")


def _entry_points(env: Resolved, objects: list[Obj], stage_objects: list[Obj]) -> Iterator[Finding]:
    """Every entry point a route of the stage names is a port of Traefik's Service; a TCP entry
    point on the port the spec gives it."""
    assert env.ingress is not None
    exposed = {str(p.get("name")): p.get("port") for o in objects if o.get("kind") == "Service"
               for p in (o.get("spec") or {}).get("ports") or [] if isinstance(p, dict)}
    declared = {e.name: (index, e.port) for index, e in enumerate(env.ingress.entry_points)}
    used = sorted({str(point) for o in stage_objects if o.get("kind") in ("IngressRoute", "IngressRouteTCP")
                   for point in (o.get("spec") or {}).get("entryPoints") or []})
    for point in used:
        index, port = declared.get(point, (None, None))
        loc: tuple[str | int, ...] = ("ingress", "entryPoints", index) if index is not None else ("ingress",)
        if point not in exposed:
            yield ("E731", f"a route uses entry point {point!r}, which Traefik's Service does not expose",
                   "the chart no longer reads what the tree writes for it: check its values for ports", loc, "error")
        elif port is not None and exposed[point] != port:
            yield ("E731", f"Traefik's Service exposes entry point {point!r} on port {exposed[point]}, not {port}",
                   "the chart no longer reads what the tree writes for it: check its values for ports", loc, "error")


def _acme_claim(env: Resolved, objects: list[Obj]) -> Iterator[Finding]:
    if env.acme is None:
        return
    mounted = {str((v.get("persistentVolumeClaim") or {}).get("claimName")) for t in pod_templates(objects)
               for v in t.spec.get("volumes") or [] if isinstance(v, dict) and v.get("persistentVolumeClaim")}
    if env.acme.claim not in mounted:
        yield ("E731", f"Traefik's pods do not mount the claim {env.acme.claim!r} of acme.json",
               "the chart no longer reads its persistence values: acme.json would be lost on every restart",
               ("ingress", "certResolvers"), "error")


def _unread(checked: Checked, result: Rendered, renderer: Renderer) -> Iterator[Finding]:
    """Each top-level value the tree writes, dropped, changes what the chart renders."""
    assert result.chart is not None
    release = checked.release
    baseline = json.dumps(result.objects, sort_keys=True)
    for key in sorted(release.values):
        without = {k: v for k, v in release.values.items() if k != key}
        probe = renderer.render_with(release, result.chart, without)
        if not probe.error and json.dumps(probe.objects, sort_keys=True) == baseline:
            yield ("E728", f"values key {key!r} changes nothing the chart renders",
                   f"chart {release.chart} does not read it: report it (govstack-gen writes it)", checked.spec.loc, "error")
