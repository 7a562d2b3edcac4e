"""Benchmark the commands users run most: `govstack-gen --help`, a render of the shipped
example, an unchanged re-render, and a render of a synthetic environment of N building blocks.

    python3 bench/bench_render.py [--runs 7] [--sizes 10,100]

Each figure is the median wall time of fresh processes (what a CI job or a shell pays),
next to the bare interpreter start-up as the floor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sandbox-k3s" / "environment.yaml"


def synthetic_spec(blocks: int) -> str:
    """An environment of `blocks` building blocks in 3 stages, each with values and a dependency."""
    lines = [
        "apiVersion: govstack.dev/v1alpha1", "kind: Environment", "metadata:", "  name: bench",
        "platform:", "  type: eks", "gitops:", "  url: https://git.example.org/gov/bench.git", "stages:",
    ]
    for stage in ("dev", "staging", "prod"):
        lines += [f"  - name: {stage}", f"    domain: {stage}.example.org", "    buildingBlocks:"]
        for i in range(0, blocks, 3):
            lines += [f"      bb-{i:04d}:", "        replicas: 2", "        values: {image: {tag: '1.2.4'}}"]
    lines.append("buildingBlocks:")
    for i in range(blocks):
        lines += [
            f"  - id: bb-{i:04d}", "    chart:", "      repo: https://charts.example.org", f"      name: chart-{i % 7}",
            '      version: "1.0.0"', "    values:", "      image: {repository: registry.example.org/app, tag: '1.2.3'}",
            "      config: {level: info, retries: 3}",
        ]
        if i:
            lines.append(f"    dependsOn: [bb-{(i - 1):04d}]")
    return "\n".join(lines) + "\n"


def timed(argv: Sequence[str], runs: int, setup: object = None) -> float:
    samples = []
    for _ in range(runs):
        if callable(setup):
            setup()
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="10,100")
    args = parser.parse_args(argv)
    script = shutil.which("govstack-gen") or str(Path(sys.executable).parent / "govstack-gen")
    work = Path(tempfile.mkdtemp(prefix="govstack-bench-"))
    rows: list[tuple[str, float]] = [("python3 -c pass (floor)", timed([sys.executable, "-c", "pass"], args.runs)),
                                     ("govstack-gen --help", timed([script, "--help"], args.runs))]
    out = work / "example"

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)

    render = [script, "render", str(EXAMPLE), "--output", str(out)]
    rows.append(("render sandbox-k3s (fresh)", timed(render, args.runs, clean)))
    rows.append(("render sandbox-k3s (unchanged)", timed(render, args.runs)))
    for size in (int(s) for s in args.sizes.split(",")):
        spec = work / f"n{size}" / "environment.yaml"
        spec.parent.mkdir()
        spec.write_text(synthetic_spec(size))
        target = work / f"n{size}" / "out"
        cmd = [script, "render", str(spec), "--output", str(target)]
        rows.append((f"render N={size} x 3 stages (fresh)", timed(cmd, args.runs, lambda t=target: shutil.rmtree(t, True))))
        rows.append((f"render N={size} x 3 stages (unchanged)", timed(cmd, args.runs)))
    shutil.rmtree(work)
    floor = rows[0][1]
    print(f"{'benchmark':<40} {'median':>10} {'x floor':>8}   ({args.runs} runs, {os.cpu_count()} cpus)")
    for name, seconds in rows:
        print(f"{name:<40} {seconds * 1000:>8.0f}ms {seconds / floor:>8.1f}")


if __name__ == "__main__":
    main()
