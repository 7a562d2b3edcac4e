"""What building blocks need from each other, by labels rather than by name.

A requirement is a label selector (Kubernetes' matchLabels and matchExpressions with In, NotIn,
Exists, DoesNotExist) whose expressions may also compare semantic versions (>=, >, <, <=, ==).
`strong` requirements must be met by another building block of the environment, or the render
fails naming the catalog entries that would meet it; `weak` ones only order: a building block is
deployed after every provider of its requirements that is present. Both drive the graph that
becomes Flux `dependsOn` and Argo CD sync waves, and the network flows between the two.

The same selectors pick the targets of influences (a building block changing another's values)
and the external services a building block may call (met requirements, never deployed).
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from govstack_gen.errors import Diagnostic
from govstack_gen.spec.load import Loc, SpecDocument
from govstack_gen.spec.model import BuildingBlock, Environment, ExternalService, Influence, LabelExpression, Requirement, Selector
from govstack_gen.spec.semver import parse_version
from govstack_gen.spec.types import values_path
from govstack_gen.spec.validate import kind_of

if TYPE_CHECKING:
    from govstack_gen.catalog import Catalog

__all__ = [
    "LabelIndex", "append_at", "append_conflict", "blocks_index", "check_externals", "check_influences", "check_requirements",
    "check_selectors", "describe",
    "external_calls", "externals_index", "influences_on", "matches", "providers", "requirement_edges",
]

VERSION_OPERATORS = frozenset({">=", ">", "<", "<=", "=="})


def _holds(expression: LabelExpression, labels: dict[str, str]) -> bool:
    value = labels.get(expression.key)
    op = expression.operator
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op == "In":
        return value in expression.values
    if op == "NotIn":
        return value not in expression.values
    have, want = parse_version(value or ""), parse_version(expression.values[0] if expression.values else "")
    if have is None or want is None:
        return False
    return {">=": have >= want, ">": have > want, "<": have < want, "<=": have <= want, "==": have == want}[op]


def matches(selector: Selector, labels: dict[str, str], *, versions: bool = True) -> bool:
    """Whether `labels` satisfy the selector (without its version comparisons if versions=False)."""
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    return all(_holds(e, labels) for e in selector.match_expressions if versions or e.operator not in VERSION_OPERATORS)


def describe(selector: Selector) -> str:
    """A selector as people write it: provides-event-streaming=true, version>=3.0.0."""
    parts = [f"{k}={v}" for k, v in sorted(selector.match_labels.items())]
    for e in selector.match_expressions:
        if e.operator in ("Exists", "DoesNotExist"):
            parts.append(("" if e.operator == "Exists" else "!") + e.key)
        elif e.operator in ("In", "NotIn"):
            parts.append(f"{e.key} {'in' if e.operator == 'In' else 'notin'} ({', '.join(e.values)})")
        else:
            parts.append(f"{e.key}{e.operator}{e.values[0] if e.values else ''}")
    return ", ".join(parts)


class LabelIndex:
    """Labelled things by label, so a selector looks at the candidates its labels name instead of
    at everything: selecting stays linear in the environment's size."""

    def __init__(self, items: Iterable[tuple[str, dict[str, str]]]):
        self.labels = dict(items)
        self.by_pair: dict[tuple[str, str], set[str]] = {}
        self.by_key: dict[str, set[str]] = {}
        for name, labels in self.labels.items():
            for key, value in labels.items():
                self.by_pair.setdefault((key, value), set()).add(name)
                self.by_key.setdefault(key, set()).add(name)

    def select(self, selector: Selector) -> list[str]:
        """Names whose labels satisfy the selector, sorted."""
        narrowing = [self.by_pair.get(pair, set()) for pair in selector.match_labels.items()]
        for e in selector.match_expressions:
            if e.operator == "In":
                narrowing.append(set().union(*(self.by_pair.get((e.key, v), set()) for v in e.values)))
            elif e.operator == "Exists" or e.operator in VERSION_OPERATORS:
                narrowing.append(self.by_key.get(e.key, set()))
        candidates = set.intersection(*narrowing) if narrowing else set(self.labels)
        return sorted(c for c in candidates if matches(selector, self.labels[c]))


def blocks_index(env: Environment) -> LabelIndex:
    return LabelIndex((b.id, b.labels) for b in env.building_blocks)


def externals_index(env: Environment) -> LabelIndex:
    return LabelIndex((s.id, s.labels) for s in env.external_services)


def providers(index: LabelIndex, block: BuildingBlock, requirement: Selector) -> list[str]:
    """Ids of the other building blocks that meet a requirement, sorted."""
    return [b for b in index.select(requirement) if b != block.id]


def external_calls(env: Environment) -> dict[str, dict[str, str | None]]:
    """block id -> {external service id: the chart value taking its address, or None}: what each
    building block may call outside the cluster, through its requirements or declared flows."""
    index = externals_index(env)
    out = {}
    for block in env.building_blocks:
        calls: dict[str, str | None] = {s: None for s in block.network.connects_to if s in index.labels}
        for _, requirement in _requirements(block):
            for service in index.select(requirement):
                calls[service] = calls.get(service) or requirement.url_key
        out[block.id] = dict(sorted(calls.items()))
    return out


def provider_addresses(env: Environment) -> dict[str, list[tuple[str, str, tuple[str, int]]]]:
    """block id -> [(values key, provider id, (strength, index))]: the in-cluster providers whose
    address a requirement's urlKey hands to the block's chart."""
    index = blocks_index(env)
    out: dict[str, list[tuple[str, str, tuple[str, int]]]] = {}
    for block in env.building_blocks:
        found = out.setdefault(block.id, [])
        for strength in ("strong", "weak"):
            for r_index, requirement in enumerate(getattr(block.requires, strength)):
                if requirement.url_key:
                    found += [(requirement.url_key, provider, (strength, r_index))
                              for provider in providers(index, block, requirement)]
    return out


def requirement_edges(env: Environment) -> dict[str, dict[str, str]]:
    """block id -> {provider id: why}: the order and the flows requirements add to dependsOn."""
    index = blocks_index(env)
    out: dict[str, dict[str, str]] = {}
    for block in env.building_blocks:
        edges = out.setdefault(block.id, {})
        for strength, requirement in _requirements(block):
            for provider in providers(index, block, requirement):
                edges.setdefault(provider, f"requires ({strength}) {requirement.description or describe(requirement)}")
    return out


def _requirements(block: BuildingBlock) -> Iterable[tuple[str, Requirement]]:
    yield from (("strong", r) for r in block.requires.strong)
    yield from (("weak", r) for r in block.requires.weak)


# -- checks -------------------------------------------------------------------------------------


def check_selectors(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    """Each expression has the number of values its operator takes (and versions where compared)."""
    out = []
    for b_index, block in enumerate(env.building_blocks):
        places: list[tuple[Loc, Selector]] = [
            (("buildingBlocks", b_index, "requires", strength, r_index), r)
            for strength, group in (("strong", block.requires.strong), ("weak", block.requires.weak))
            for r_index, r in enumerate(group)
        ]
        places += [(("buildingBlocks", b_index, "influences", i, "target"), inf.target) for i, inf in enumerate(block.influences)]
        for loc, selector in places:
            if not selector.match_labels and not selector.match_expressions:
                out.append(doc.diagnostic(loc, "E317", "empty selector: it would select every building block",
                                          "give matchLabels or matchExpressions, e.g. matchLabels: {provides-monitoring: \"true\"}"))
            for e_index, expression in enumerate(selector.match_expressions):
                problem = _expression_problem(expression)
                if problem:
                    out.append(doc.diagnostic((*loc, "matchExpressions", e_index), "E317", problem[0], problem[1]))
    return out


def _expression_problem(expression: LabelExpression) -> tuple[str, str] | None:
    op, values = expression.operator, expression.values
    if op in ("Exists", "DoesNotExist") and values:
        return f"operator {op} takes no values", "remove values, or use In/NotIn"
    if op in ("In", "NotIn") and not values:
        return f"operator {op} needs at least one value", "list the label values, e.g. values: [\"true\"]"
    if op in VERSION_OPERATORS:
        if len(values) != 1:
            return f"operator {op} compares with exactly one version", "write values: [\"3.0.0\"]"
        if parse_version(values[0]) is None:
            return f"{values[0]!r} is not a semantic version", "write a version such as 3.0.0"
    return None


def check_requirements(env: Environment, doc: SpecDocument, catalog: Catalog) -> list[Diagnostic]:
    """Every strong requirement met by another building block of the environment."""
    blocks, externals = blocks_index(env), externals_index(env)
    out = []
    for b_index, block in enumerate(env.building_blocks):
        for r_index, requirement in enumerate(block.requires.strong):
            if _expression_problems(requirement) or providers(blocks, block, requirement) or externals.select(requirement):
                continue
            loc: Loc = ("buildingBlocks", b_index, "requires", "strong", r_index)
            out.append(_unmet(env, doc, block, requirement, loc, catalog))
    by_id = {b.id: b for b in env.building_blocks}
    addresses = provider_addresses(env)
    for b_index, block in enumerate(env.building_blocks):
        for key, provider, (strength, r_index) in addresses[block.id]:
            if by_id[provider].endpoint is None:
                out.append(doc.diagnostic(("buildingBlocks", b_index, "requires", strength, r_index, "urlKey"), "E319",
                                          f"{block.id!r} takes the address of {provider!r} at {key}, and {provider!r} "
                                          "declares no endpoint", f"give {provider!r} an endpoint (where its chart's Service "
                                          "answers, e.g. ${block.id}-kafka.${block.namespace}.svc.cluster.local:9092), or drop "
                                          "urlKey"))
    return out


def _expression_problems(selector: Selector) -> bool:
    return any(_expression_problem(e) for e in selector.match_expressions) or not (selector.match_labels or selector.match_expressions)


def _unmet(env: Environment, doc: SpecDocument, block: BuildingBlock, requirement: Requirement, loc: Loc,
           catalog: Catalog) -> Diagnostic:
    what = requirement.description or describe(requirement)
    wanted = describe(requirement)
    found = [e for e in catalog.latest() if matches(requirement, e.labels)]
    candidates = [str(e) + (" (an external service)" if e.section == "externalServices" else "") for e in found]
    offer = ("catalog entries that meet it: " + ", ".join(candidates)
             + f" (add one to {found[0].section}, e.g. catalog: {{name: {found[0].name}}})"
             if found else f"no catalog entry meets it either: add a building block labelled {wanted}")
    near: list[BuildingBlock | ExternalService] = [
        b for b in env.building_blocks if b.id != block.id and matches(requirement, b.labels, versions=False)]
    near += [s for s in env.external_services if matches(requirement, s.labels, versions=False)]
    if near:
        have = ", ".join(f"{b.id} has version {b.labels.get(_version_key(requirement), '(none)')}" for b in near)
        return doc.diagnostic(loc, "E313", f"{block.id!r} requires {what} ({wanted}): {have}",
                              "upgrade the provider (a newer catalog version or chart) or relax the requirement; " + offer)
    return doc.diagnostic(loc, "E312", f"{block.id!r} requires {what} ({wanted}), and no building block of the environment provides it",
                          offer)


def _version_key(requirement: Requirement) -> str:
    return next((e.key for e in requirement.match_expressions if e.operator in VERSION_OPERATORS), "version")


# -- influences ---------------------------------------------------------------------------------


def influences_on(env: Environment) -> dict[str, list[tuple[str, Influence]]]:
    """target id -> [(influencing id, influence)], influencing building blocks in id order."""
    index = blocks_index(env)
    out: dict[str, list[tuple[str, Influence]]] = {}
    for block in sorted(env.building_blocks, key=lambda b: b.id):
        for influence in block.influences:
            for target in providers(index, block, influence.target):
                out.setdefault(target, []).append((block.id, influence))
    return out


def append_conflict(values: dict[str, Any], path: list[str]) -> str | None:
    """Why an item cannot be appended at `path` of these values (a key on the way holds no
    mapping, or the last one no list), or None: absent and null keys are created."""
    node: Any = values
    for depth, part in enumerate(path):
        below = node.get(part)
        if below is None:
            return None
        if depth == len(path) - 1:
            return None if isinstance(below, list) else f"the value there is {kind_of(below)}, not a list"
        if not isinstance(below, dict):
            where = ".".join(p.replace(".", "\\.") for p in path[: depth + 1])
            return f"{where} is {kind_of(below)}, not a mapping the key can go through"
        node = below
    return None


def append_at(values: dict[str, Any], path: list[str], item: Any) -> None:
    """Append the item to the list at `path`, creating what is absent or null (after
    append_conflict found nothing in the way)."""
    node = values
    for part in path[:-1]:
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
    if node.get(path[-1]) is None:
        node[path[-1]] = []
    node[path[-1]].append(item)


def check_influences(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    """An influence appends to lists: on the way to its key, the target's values (with what the
    influences before it appended) hold mappings, and at the key a list, or nothing."""
    index = {b.id: i for i, b in enumerate(env.building_blocks)}
    out = []
    for target, influences in influences_on(env).items():
        values = copy.deepcopy(env.building_blocks[index[target]].values)
        for source, influence in influences:
            # By identity: with two building blocks of one id (E-coded elsewhere) an id is ambiguous.
            s_index, i_index = next((s, i) for s, block in enumerate(env.building_blocks)
                                    for i, own in enumerate(block.influences) if own is influence)
            for a_index, append in enumerate(influence.append):
                conflict = append_conflict(values, values_path(append.key))
                if conflict is None:
                    append_at(values, values_path(append.key), append.item)
                    continue
                out.append(doc.diagnostic(("buildingBlocks", s_index, "influences", i_index, "append", a_index, "key"), "E317",
                                          f"{source!r} appends to {append.key} of {target!r}, where {conflict}",
                                          f"point the influence at a list in the values of {target!r}, or make that value a list"))
    return out


# -- external services --------------------------------------------------------------------------


def check_externals(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    """Each external service has an address and networks, and a name no building block has."""
    blocks = {b.id: i for i, b in enumerate(env.building_blocks)}
    out = []
    seen: dict[str, int] = {}
    for index, service in enumerate(env.external_services):
        loc: Loc = ("externalServices", index)
        if service.id in blocks or service.id in seen:
            first = ("buildingBlocks", blocks[service.id], "id") if service.id in blocks else ("externalServices", seen[service.id], "id")
            out.append(doc.diagnostic((*loc, "id"), "E301", f"name {service.id!r} is used twice",
                                      "building blocks and external services share one name space (network policies, graph)",
                                      related=(first,)))
        seen.setdefault(service.id, index)
        for field, hint in (("url", "its address, e.g. url: https://messaging.gov.example/api"),
                            ("cidrs", "the networks it answers from, e.g. cidrs: [203.0.113.0/24]")):
            if not getattr(service, field):
                out.append(doc.diagnostic(loc, "E202", f"missing required field {field!r}", f"add {hint}", key=True))
        for c_index, cidr in enumerate(service.cidrs):
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                out.append(doc.diagnostic((*loc, "cidrs", c_index), "E613", f"{cidr!r} is not a network in CIDR form",
                                          "e.g. 203.0.113.0/24 (host bits zero)"))
    return out
