"""`govstack-gen graph`: the dependency graph of an environment's building blocks as Mermaid or
DOT, the order both engines follow (Flux `dependsOn`, Argo CD sync waves: `resolve.depths`).

Edges point from a building block to what waits for it: `platform --> messaging --> payments`
reads "platform before messaging before payments". Solid edges are `dependsOn` and strong
requirements, dotted ones weak requirements (ordered because the provider is present), and
labelled dotted ones influences (`messaging -. influences .-> monitoring`: messaging changes
monitoring's values; no order).
"""

from __future__ import annotations

import json
import re

from govstack_gen.resolve import Resolved, depths

__all__ = ["PLATFORM", "as_json", "dot", "mermaid"]

PLATFORM = "platform"


ORDER, WEAK, INFLUENCE = "order", "weak", "influence"


EXTERNAL = "external"


def _edges(env: Resolved) -> list[tuple[str, str, str]]:
    edges = []
    for block in env.blocks:
        for dependency in block.depends_on or (PLATFORM,):
            edges.append((dependency, block.id, WEAK if dependency in block.weak else ORDER))
        edges += [(source, block.id, INFLUENCE) for source in block.influenced_by]
        edges += [(service.id, block.id, EXTERNAL) for service in block.external]
    return sorted(edges)


_MERMAID_ARROWS = {ORDER: "-->", WEAK: "-.->", INFLUENCE: "-. influences .->", EXTERNAL: "-. called by .->"}
_DOT_STYLES = {ORDER: "", WEAK: " [style=dashed]", INFLUENCE: ' [style=dotted, label="influences"]',
               EXTERNAL: ' [style=dotted, label="called by"]'}


def _mermaid_id(name: str, external: frozenset[str] = frozenset()) -> str:
    # Mermaid ids: letters, digits and underscores; names keep their spelling in the label.
    if name == PLATFORM:
        return PLATFORM
    return ("ext_" if name in external else "bb_") + re.sub(r"[^A-Za-z0-9]", "_", name)


def mermaid(env: Resolved) -> str:
    level = depths(env)
    lines = ["flowchart LR", f'  {PLATFORM}[["{PLATFORM}"]]']
    for block in env.blocks:
        lines.append(f'  {_mermaid_id(block.id)}["{block.id}<br/>{block.namespace} · wave {level[block.id]}"]')
    external = frozenset(s.id for s in env.external)
    lines += [f'  {_mermaid_id(s.id, external)}{{{{"{s.id}<br/>external service"}}}}' for s in env.external]
    lines += [f"  {_mermaid_id(a, external)} {_MERMAID_ARROWS[kind]} {_mermaid_id(b)}" for a, b, kind in _edges(env)]
    return "\n".join(lines) + "\n"


def dot(env: Resolved) -> str:
    level = depths(env)
    lines = [f'digraph "{env.name}" {{', "  rankdir=LR;", f'  "{PLATFORM}" [shape=box3d];']
    for block in env.blocks:
        lines.append(f'  "{block.id}" [label="{block.id}\\n{block.namespace} · wave {level[block.id]}"];')
    lines += [f'  "{s.id}" [shape=hexagon, label="{s.id}\\nexternal service"];' for s in env.external]
    lines += [f'  "{a}" -> "{b}"{_DOT_STYLES[kind]};' for a, b, kind in _edges(env)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def as_json(env: Resolved) -> str:
    """For scripts: every building block with its namespace and wave, the external services, and
    the edges with their kind (order, weak, influence, external), as the other formats draw them."""
    level = depths(env)
    doc = {
        "environment": env.name,
        "buildingBlocks": [{"id": b.id, "namespace": b.namespace, "wave": level[b.id]} for b in env.blocks],
        "externalServices": [s.id for s in env.external],
        "edges": [{"from": a, "to": b, "kind": kind} for a, b, kind in _edges(env)],
    }
    return json.dumps(doc, indent=2) + "\n"
