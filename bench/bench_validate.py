"""Benchmark the schema checks of `govstack-gen validate` on 1,000 rendered objects.

    python3 bench/bench_validate.py              # 1,000 objects, 3 runs
    python3 bench/bench_validate.py --objects 5000

Objects come from a synthetic environment (bench_render.py's generator) rendered in memory:
Namespaces, quotas, RBAC, PVs and claims, network policies, HelmReleases, sources, routes.
It measures, in this process:

- govstack-gen: read the CRDs of ../shared/crds (timed apart), then compile each schema once and
  check every object;
- the peer: `kubernetes_validate.validate` per object (what a script calling the library does;
  it loads and compiles the schema on every call), built-in kinds only, and the same
  objects through govstack-gen for the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_render import synthetic_spec

from govstack_gen.pipeline import load_and_resolve
from govstack_gen.render.targets import ENGINES
from govstack_gen.validation.check import _schema_errors
from govstack_gen.validation.schemas import SchemaSet, load_crds

CRDS = Path(__file__).resolve().parent.parent.parent / "shared" / "crds"


def objects(count: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        out: list[dict[str, Any]] = []
        blocks = 10
        while len(out) < count:
            spec = Path(tmp) / "environment.yaml"
            spec.write_text(synthetic_spec(blocks))
            env = load_and_resolve(spec)
            out = [obj for path, obj in ENGINES["flux"](env)
                   if (not path.endswith("kustomization.yaml") and "/base/" in path) or path.startswith(("clusters/", "platform/cluster"))]
            blocks *= 2
        return out[:count]


def load() -> float:
    start = time.perf_counter()
    load_crds(sorted(CRDS.rglob("*.yaml")))
    return time.perf_counter() - start


def ours(objs: list[dict[str, Any]]) -> float:
    """Compile (once per kind) and check; the CRD files are read beforehand (timed apart)."""
    schemas = SchemaSet(crds=load_crds(sorted(CRDS.rglob("*.yaml")))[0])
    start = time.perf_counter()
    errors = [e for obj in objs for e in (_schema_errors(obj, schemas) or [])]
    assert not errors, errors[:3]
    return time.perf_counter() - start


def peer(objs: list[dict[str, Any]]) -> float:
    import kubernetes_validate  # type: ignore[import-untyped]

    start = time.perf_counter()
    for obj in objs:
        kubernetes_validate.validate(obj, "1.35", strict=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    objs = objects(args.objects)
    kinds = sorted({o["kind"] for o in objs})
    builtin = [o for o in objs if SchemaSet().is_builtin(o["apiVersion"])]
    print(f"{len(objs)} objects of {len(kinds)} kinds ({len(builtin)} built-in): {', '.join(kinds)}")
    crds = statistics.median(load() for _ in range(args.runs))
    all_ours = statistics.median(ours(objs) for _ in range(args.runs))
    builtin_ours = statistics.median(ours(builtin) for _ in range(args.runs))
    builtin_peer = statistics.median(peer(builtin) for _ in range(args.runs))
    print("| benchmark | median | ratio |\n|---|---:|---|")
    print(f"| read the CRDs of ../shared/crds (once per run) | {crds * 1000:.0f} ms | |")
    print(f"| govstack-gen, {len(objs)} objects (schemas compiled and checked) | {all_ours * 1000:.0f} ms | |")
    print(f"| govstack-gen, {len(builtin)} built-in objects | {builtin_ours * 1000:.0f} ms | |")
    print(f"| kubernetes_validate.validate per object, same {len(builtin)} | {builtin_peer * 1000:.0f} ms | "
          f"{builtin_peer / builtin_ours:.1f}x govstack-gen |")


if __name__ == "__main__":
    main()
