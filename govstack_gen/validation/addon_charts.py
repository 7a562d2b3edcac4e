"""`validate --charts` for the add-ons layer: Traefik's chart rendered with the values the tree
gives it (k3s's HelmChartConfig over k3s's packaging of the chart; the HelmRelease or the Argo
CD Application elsewhere), and what it makes held to the routes around it: every entry point a
route of the stage uses is a port of Traefik's Service, acme.json is on the tree's static claim,
its pods meet the Pod Security level of the namespace the tree creates, and every value the
tree writes changes what the chart renders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from govstack_gen.errors import Diagnostic
from govstack_gen.render import addons
from govstack_gen.render.k8s import PSS_VERSION
from govstack_gen.resolve import Resolved
from govstack_gen.spec.locate import BlockLocator
from govstack_gen.validation.chart_checks import pod_templates
from govstack_gen.validation.chart_render import Rendered, Renderer
from govstack_gen.validation.charts import ChartRef
from govstack_gen.validation.podsecurity import evaluate
from govstack_gen.validation.releases import Release, releases

__all__ = ["K3S_TRAEFIK", "check_addon_charts", "traefik_release"]

Obj = dict[str, Any]
# What k3s bundles, as k3s-io/k3s-charts packages it: the chart the HelmChartConfig's values are
# checked against (k3s brings its own; a newer k3s may bundle a newer one).
K3S_TRAEFIK = ChartRef("https://k3s.io/k3s-charts", "traefik", "39.0.701+up39.0.7")


def traefik_release(env: Resolved, stage: str, objects: list[Obj]) -> Release | None:
    """The Helm release of Traefik among a stage's built objects, as it would be installed."""
    if not addons.has_addons(env):
        return None
    if addons.bundled_traefik(env):
        from ruamel.yaml import YAML

        config = next((o for o in objects if o.get("kind") == "HelmChartConfig"
                       and (o.get("metadata") or {}).get("name") == "traefik"), None)
        if config is None:
            return None
        values = YAML(typ="safe").load(str((config.get("spec") or {}).get("valuesContent") or "")) or {}
        return Release(stage, env.gitops.engine, "traefik", "traefik", addons.K3S_TRAEFIK_NAMESPACE, K3S_TRAEFIK, values)
    return next((r for r in releases(stage, env.gitops.engine, objects) if r.block == "traefik" and r.name == "traefik"), None)


def check_addon_charts(env: Resolved, locator: BlockLocator, built: dict[str, list[Obj]],
                       renderer: Renderer) -> tuple[list[Diagnostic], int]:
    """The diagnostics (each told once, with the stages it holds in) and the releases rendered."""
    found = [(stage, release) for stage, objects in built.items() if (release := traefik_release(env, stage, objects))]
    findings: dict[tuple[str, str, str, tuple[str | int, ...], str], list[str]] = {}
    rendered_count = 0
    for (stage, release), result in zip(found, renderer.render_all(r for _, r in found), strict=True):
        rendered_count += bool(result.objects)
        for code, message, hint, loc, severity in _check(env, release, result, built[stage], renderer):
            findings.setdefault((code, message, hint, loc, severity), []).append(stage)
    stages = [s.name for s in env.stages]
    out = []
    for (code, message, hint, loc, severity), where in findings.items():
        scope = "" if sorted(where) == sorted(stages) else f" (stage{'s' if len(where) > 1 else ''} {', '.join(sorted(where))})"
        location, path = locator.doc.place(loc)
        out.append(Diagnostic(code, f"traefik{scope}: {message}", location, path, hint, severity))
    return sorted(out, key=Diagnostic.sort_key), rendered_count


Finding = tuple[str, str, str, tuple[str | int, ...], str]  # code, message, hint, spec path, severity


def _chart_loc(env: Resolved) -> tuple[str | int, ...]:
    assert env.ingress is not None
    return ("ingress", "traefik", "chart") if env.ingress.traefik.chart is not None else ("ingress",)


def _check(env: Resolved, release: Release, result: Rendered, stage_objects: list[Obj], renderer: Renderer) -> Iterator[Finding]:
    if result.missing:
        yield ("E720", f"chart {release.chart} not found: {result.missing}",
               "pass --chart-dir DIR with Traefik's chart folder or package (helm pull), or allow fetching", _chart_loc(env), "error")
        return
    if result.error:
        yield ("E722", f"helm cannot render chart {release.chart}: {' / '.join(result.error.splitlines()[:3])}",
               "fix what the spec gives Traefik (ingress) until `helm template` renders it", _chart_loc(env), "error")
        return
    objects = list(result.objects)
    yield from _entry_points(env, objects, stage_objects)
    yield from _acme_claim(env, objects)
    if not addons.bundled_traefik(env):  # kube-system enforces no level; Traefik's own namespace does
        for template in pod_templates(objects):
            forbidden = evaluate("restricted", PSS_VERSION, template.metadata, template.spec)
            if forbidden:
                name = f"{template.owner.get('kind')}/{(template.owner.get('metadata') or {}).get('name')}"
                yield ("E724", f"{name} violates PodSecurity \"restricted:{PSS_VERSION}\": " + ", ".join(map(str, forbidden)),
                       "Traefik's namespace enforces the restricted level", ("ingress",), "error")
    assert result.chart is not None
    yield from _unread(release, result, renderer)


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


def _unread(release: Release, result: Rendered, renderer: Renderer) -> Iterator[Finding]:
    """Each top-level value the tree writes, dropped, changes what the chart renders."""
    assert result.chart is not None
    baseline = json.dumps(result.objects, sort_keys=True)
    for key in sorted(release.values):
        without = {k: v for k, v in release.values.items() if k != key}
        probe = renderer.render_with(release, result.chart, without)
        if not probe.error and json.dumps(probe.objects, sort_keys=True) == baseline:
            yield ("E728", f"values key {key!r} of Traefik changes nothing the chart renders",
                   f"chart {release.chart} does not read it: report it (govstack-gen writes it)", ("ingress",), "error")
