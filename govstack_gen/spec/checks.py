"""Rules across objects of a valid-shaped spec: names, namespaces, dependencies, overrides.

Each rule is a small function `(env, doc) -> list[Diagnostic]`; `check_environment` runs them
all so the user sees every problem at once.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from govstack_gen.errors import Diagnostic, SpecError
from govstack_gen.spec.addons import check_addons
from govstack_gen.spec.databases import check_databases
from govstack_gen.spec.load import SpecDocument
from govstack_gen.spec.model import Environment, GitChart
from govstack_gen.spec.requirements import (
    check_externals,
    check_influences,
    check_requirements,
    check_selectors,
    requirement_edges,
)
from govstack_gen.spec.secrets import check_secret_refs, check_secrets
from govstack_gen.spec.storage import check_storage
from govstack_gen.spec.tenancy import RESERVED_NAMESPACES, check_tenancy
from govstack_gen.spec.types import is_commit, parse_quantity

if TYPE_CHECKING:
    from govstack_gen.catalog import Catalog

__all__ = ["RESERVED_IDS", "RESERVED_NAMESPACES", "check_environment", "find_cycle"]

# Names of Flux objects in flux-system that a building block id or the environment name
# (the GitRepository) would otherwise replace.
# Names of the layers' own objects: Flux Kustomizations in flux-system, Argo CD Applications and
# AppProjects in argocd (the add-ons layer, and Traefik's chart where it is ours to install).
RESERVED_IDS = frozenset({"platform", "flux-system", "addons", "traefik", "root", "cert-manager", "aws-efs-csi-driver", "karpenter",
                          "ack-rds-controller"})
# Stage names that would collide with the shared folders beside the stage folders.
RESERVED_STAGES = frozenset({"base", "cluster"})

Rule = Callable[[Environment, SpecDocument], list[Diagnostic]]


def check_environment(env: Environment, doc: SpecDocument, catalog: Catalog) -> list[Diagnostic]:
    """The warnings; raises SpecError with every finding when one is an error."""
    found = [d for rule in RULES for d in rule(env, doc)]
    found += check_requirements(env, doc, catalog)
    if any(d.severity == "error" for d in found):
        raise SpecError(found)
    return found


def _duplicate_ids(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    first: dict[str, int] = {}
    out = []
    for index, block in enumerate(env.building_blocks):
        if block.id in first:
            out.append(doc.diagnostic(("buildingBlocks", index, "id"), "E301", f"building block id {block.id!r} is used twice",
                                      "give each building block its own id", related=(("buildingBlocks", first[block.id], "id"),)))
        else:
            first[block.id] = index
        if block.id in RESERVED_IDS:
            out.append(doc.diagnostic(("buildingBlocks", index, "id"), "E305", f"building block id {block.id!r} is reserved",
                                      "the platform layer uses this name; choose another id"))
    return out


def _environment_name(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    if env.metadata.name in RESERVED_IDS:
        return [doc.diagnostic(("metadata", "name"), "E305", f"environment name {env.metadata.name!r} is reserved",
                               "it would replace the GitRepository of Flux's own bootstrap; choose another name")]
    return []


def _namespaces(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    owner: dict[str, int] = {}
    out = []
    for index, block in enumerate(env.building_blocks):
        ns = block.ns
        loc: tuple[str | int, ...] = ("buildingBlocks", index, "namespace" if block.namespace else "id")
        if ns in RESERVED_NAMESPACES or ns.startswith("kube-"):
            out.append(doc.diagnostic(loc, "E305", f"namespace {ns!r} is reserved for the cluster or the platform",
                                      f"set namespace: {block.id}-bb (or any name that is not reserved)"))
        if ns in owner and env.building_blocks[owner[ns]].id != block.id:
            other = env.building_blocks[owner[ns]]
            out.append(doc.diagnostic(loc, "E302", f"namespace {ns!r} is already used by building block {other.id!r}",
                                      "each building block gets its own namespace (isolation, quotas, RBAC)",
                                      related=(("buildingBlocks", owner[ns]),)))
        owner.setdefault(ns, index)
    return out


def _unknown_dependencies(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    ids = [b.id for b in env.building_blocks]
    out = []
    for index, block in enumerate(env.building_blocks):
        for dep_index, dep in enumerate(block.depends_on):
            if dep not in ids:
                close = difflib.get_close_matches(dep, ids, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "known building blocks: " + ", ".join(sorted(ids))
                out.append(doc.diagnostic(("buildingBlocks", index, "dependsOn", dep_index), "E303",
                                          f"{block.id!r} depends on unknown building block {dep!r}", hint))
    return out


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as [a, b, ..., a], or None. Deterministic: nodes are visited in order."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt in graph and nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for start in graph:
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def _cycles(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    required = requirement_edges(env)
    why = {(b.id, d): "dependsOn" for b in env.building_blocks for d in b.depends_on}
    why |= {(b, p): reason for b, edges in required.items() for p, reason in edges.items() if (b, p) not in why}
    graph: dict[str, list[str]] = {}
    for block, dependency in why:
        graph.setdefault(block, []).append(dependency)
    cycle = find_cycle({b.id: sorted(graph.get(b.id, [])) for b in env.building_blocks})
    if not cycle:
        return []
    index = next(i for i, b in enumerate(env.building_blocks) if b.id == cycle[0])
    edges = "; ".join(f"{a} -> {b}: {why[(a, b)]}" for a, b in itertools.pairwise(cycle))
    field = "dependsOn" if why[(cycle[0], cycle[1])] == "dependsOn" else "requires"
    return [doc.diagnostic(("buildingBlocks", index, field), "E304", "dependency cycle: " + " -> ".join(cycle),
                           f"a cycle has no order (neither Flux's dependsOn nor Argo CD's sync waves); remove one edge of it ({edges})")]


def _stages(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    ids = [b.id for b in env.building_blocks]
    seen: dict[str, int] = {}
    out = []
    for s_index, stage in enumerate(env.stages):
        if stage.name in seen:
            out.append(doc.diagnostic(("stages", s_index, "name"), "E307", f"stage {stage.name!r} is defined twice",
                                      "give each stage its own name", related=(("stages", seen[stage.name], "name"),)))
        seen.setdefault(stage.name, s_index)
        if stage.name in RESERVED_STAGES:
            out.append(doc.diagnostic(("stages", s_index, "name"), "E305", f"stage name {stage.name!r} is reserved",
                                      "the output tree has a folder of that name beside the stage folders; choose another name"))
        for bb_id, override in stage.building_blocks.items():
            loc: tuple[str | int, ...] = ("stages", s_index, "buildingBlocks", bb_id)
            if bb_id not in ids:
                close = difflib.get_close_matches(bb_id, ids, n=1)
                out.append(doc.diagnostic(loc, "E306", f"stage {stage.name!r} overrides unknown building block {bb_id!r}",
                                          f"did you mean {close[0]!r}?" if close else "known building blocks: " + ", ".join(sorted(ids)),
                                          key=True))
            block = next((b for b in env.building_blocks if b.id == bb_id), None)
            if override.version and is_commit(override.version) and block is not None and not isinstance(block.chart, GitChart):
                out.append(doc.diagnostic((*loc, "version"), "E206", f"version {override.version!r} is a git commit, but "
                                          f"{bb_id!r} takes its chart from a Helm repository",
                                          "give the chart version (an exact semantic version such as \"1.4.2\")"))
            for directive_loc in _directives(override.values, (*loc, "values")):
                out.append(doc.diagnostic(directive_loc, "E310",
                                          f"key {directive_loc[-1]!r} would be read as a kustomize patch directive",
                                          "stage values become a strategic-merge patch, where keys starting with '$' are directives; "
                                          "set this value in the building block's base values instead", key=True))
            for null_loc in _nulls(override.values, (*loc, "values")):
                out.append(doc.diagnostic(null_loc, "E308", "null in stage values",
                                          "a stage overlay can only add or change values; to remove a value for one stage, move it "
                                          "out of the building block's base values into the stages that need it", key=True))
    return out


def _nulls(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None:
                yield (*loc, key)
            else:
                yield from _nulls(item, (*loc, key))


def _directives(value: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$"):
                yield (*loc, key)
            yield from _directives(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _directives(item, (*loc, index))


def _resources(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    out = []
    for index, block in enumerate(env.building_blocks):
        if block.resources is None:
            continue
        for name in ("cpu", "memory"):
            request = getattr(block.resources.requests, name)
            limit = getattr(block.resources.limits, name)
            if parse_quantity(request) > parse_quantity(limit):
                out.append(doc.diagnostic(("buildingBlocks", index, "resources", "requests", name), "E309",
                                          f"{name} request {request} is above the limit {limit}",
                                          "requests must be less than or equal to limits"))
    return out


RULES: tuple[Rule, ...] = (
    _environment_name, _duplicate_ids, _namespaces, _unknown_dependencies, _cycles, _stages, _resources, check_storage, check_tenancy,
    check_addons, check_secrets, check_secret_refs, check_databases, check_selectors, check_influences, check_externals,
)
