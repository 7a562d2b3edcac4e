"""Benchmark govstack-gen against its floor and its peers, on synthetic environments.

    python3 bench/bench_render.py                 # N = 10, 100, 1000; 3 runs each
    python3 bench/bench_render.py --sizes 10,100 --runs 5

For each N (building blocks, each with a chart, values, two volumes, two routes, a team and a
dependency; three stages, a third of the blocks overridden per stage) it measures, in fresh processes, the median
wall time and the peak memory of:

- `govstack-gen render` into an empty directory (fresh) and again (unchanged);
- the floor: a pure-Python program that writes the same files with no logic (os.open/os.write),
  so `x floor` says what the tool costs on top of the disk;
- `kustomize build` of every stage (all its overlays), only up to N = 100 by default: kustomize
  grows quadratically and takes minutes beyond;

plus `govstack-gen --help` and the bare interpreter start-up. It ends with the scaling exponent
of the fresh render between the two largest sizes (1.0 = linear).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sandbox-k3s" / "environment.yaml"

FLOOR = """
import os, sys
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
files = [(p.relative_to(src), p.read_bytes()) for p in sorted(src.rglob("*")) if p.is_file()]
made = set()
for rel, content in files:
    if rel.parent not in made:
        os.makedirs(dst / rel.parent, exist_ok=True)
        made.add(rel.parent)
    fd = os.open(dst / rel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, content)
    os.close(fd)
"""


def synthetic_spec(blocks: int) -> str:
    lines = [
        "apiVersion: govstack.dev/v1alpha2", "kind: Environment", "metadata:", "  name: bench",
        "platform:", "  type: k3s",
        "storage:", "  backends:",
        "    - {name: main, type: local, root: /srv/k8s-data, node: {labels: {storage-id: main-01}}}",
        "    - {name: files, type: nfs, server: nfs.example.org, root: /exports/bench}",
        "ingress:", "  traefik: {storage: {backend: main}}", "  certResolvers: [letsencrypt]", "  certResolver: letsencrypt",
        "access:", "  groupsPrefix: 'oidc:'", "  teams:",
        *(f"    - {{name: team-{t}, groups: [group-{t}]}}" for t in range(10)),
        "gitops:", "  url: https://git.example.org/gov/bench.git", "stages:",
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
            "    resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: '1', memory: 2Gi}}",
            "    volumes:",
            "      - {name: data, size: 10Gi, backend: main, database: true, claimKey: persistence.existingClaim}",
            "      - {name: files, size: 5Gi, backend: files, accessModes: [ReadWriteMany]}",
            f"    teams: {{team-{i % 10}: edit}}",
            "    routes:",
            "      - {name: app, service: web, port: 8080}",
            "      - {name: api, service: api, port: 9090, middlewares: [internal]}",
            "    middlewares:",
            "      - {name: internal, ipAllowList: {sourceRange: [10.0.0.0/8]}}",
        ]
        if i:
            lines.append(f"    dependsOn: [bb-{(i - 1):04d}]")
        # Requirements and influences by labels: a weak requirement on the block two before, and
        # every tenth block adds a scrape job to block 0's values.
        lines.append(f"    labels: {{provides-bb-{i:04d}: 'true', tier: t{i % 10}}}")
        if i >= 2:
            lines.append(f"    requires: {{weak: [{{matchLabels: {{provides-bb-{i - 2:04d}: 'true'}}}}]}}")
        if i and i % 10 == 0:
            lines.append("    influences: [{target: {matchLabels: {provides-bb-0000: 'true'}}, "
                         f"append: [{{key: scrape.jobs, item: {{job: bb-{i:04d}}}}}]}}]")
    return "\n".join(lines) + "\n"


def run(argv: Sequence[str], expect: int = 0) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process, which must exit with `expect`."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != expect:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}")
    return elapsed, usage.ru_maxrss


def measure(argv: Sequence[str], runs: int, before: Callable[[], object] | None = None,
            expect: int = 0) -> tuple[float, int]:
    samples = []
    for _ in range(runs):
        if before:
            before()
        samples.append(run(argv, expect))
    return statistics.median(s[0] for s in samples), max(s[1] for s in samples)


def kustomize() -> list[str] | None:
    result = subprocess.run([str(ROOT / "scripts" / "install-tools")], capture_output=True, text=True, check=False)
    binary = Path(result.stdout.strip() or "/nonexistent") / "kustomize"
    if binary.exists():
        return [str(binary), "build"]
    return ["kubectl", "kustomize"] if shutil.which("kubectl") else None


def stage_kustomization(tree: Path, stage: str) -> Path:
    """One kustomization with everything a stage applies: its platform layer and every overlay."""
    folder = tree.parent / f"all-{stage}"
    folder.mkdir(exist_ok=True)
    overlays = sorted(p.name for p in (tree / "building-blocks" / stage).iterdir())
    resources = [f"../{tree.name}/platform/{stage}", *(f"../{tree.name}/building-blocks/{stage}/{o}" for o in overlays)]
    (folder / "kustomization.yaml").write_text("resources:\n" + "".join(f"  - {r}\n" for r in resources))
    return folder


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--kustomize-max", type=int, default=100, help="largest N to run kustomize on")
    args = parser.parse_args(argv)
    tool = shutil.which("govstack-gen") or str(Path(sys.executable).parent / "govstack-gen")
    work = Path(tempfile.mkdtemp(prefix="govstack-bench-"))
    rows: list[tuple[str, float, int, str]] = []
    floor_start, _ = measure([sys.executable, "-c", "pass"], args.runs * 3)
    rows.append(("python3 -c pass", floor_start, 0, ""))
    help_time, help_rss = measure([tool, "--help"], args.runs * 3)
    rows.append(("govstack-gen --help", help_time, help_rss, f"{help_time / floor_start:.1f}x start-up"))
    example_out = work / "example"
    fresh = measure([tool, "render", str(EXAMPLE), "-o", str(example_out)], args.runs,
                    lambda: shutil.rmtree(example_out, ignore_errors=True))
    rows.append(("render sandbox-k3s, fresh", *fresh, ""))
    rows.append(("render sandbox-k3s, unchanged", *measure([tool, "render", str(EXAMPLE), "-o", str(example_out)], args.runs),
                 ""))
    build = kustomize()
    fresh_times: dict[int, float] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        case = work / f"n{size}"
        case.mkdir()
        spec = case / "environment.yaml"
        spec.write_text(synthetic_spec(size))
        out, floor_out = case / "tree", case / "floor"
        render = [tool, "render", str(spec), "-o", str(out)]
        t_fresh, m_fresh = measure(render, args.runs, lambda o=out: shutil.rmtree(o, ignore_errors=True))  # type: ignore[misc]
        t_same, m_same = measure(render, args.runs)
        t_floor, m_floor = measure([sys.executable, "-c", FLOOR, str(out), str(floor_out)], args.runs,
                                   lambda f=floor_out: shutil.rmtree(f, ignore_errors=True))  # type: ignore[misc]
        files = sum(1 for p in out.rglob("*") if p.is_file())
        fresh_times[size] = t_fresh
        rows.append((f"N={size}: floor, {files} files", t_floor, m_floor, ""))
        rows.append((f"N={size}: render, fresh", t_fresh, m_fresh, f"{t_fresh / t_floor:.2f}x floor"))
        rows.append((f"N={size}: render, unchanged", t_same, m_same, f"{t_same / t_floor:.2f}x floor"))
        # The same spec as v1alpha1 wrote it: what `migrate` reads, rewrites and checks in memory.
        old_spec = case / "v1alpha1" / "environment.yaml"
        old_spec.parent.mkdir()
        old_spec.write_text(spec.read_text().replace("govstack.dev/v1alpha2", "govstack.dev/v1alpha1", 1)
                            .replace(", claimKey: ", ", valuesKey: "))
        t_migrate, m_migrate = measure([tool, "migrate", "--check", str(old_spec)], args.runs, expect=1)  # 1: would change
        rows.append((f"N={size}: migrate --check, v1alpha1 spec", t_migrate, m_migrate, f"{t_migrate / t_fresh:.2f}x render"))
        if build and size <= args.kustomize_max:
            samples = [measure([*build, str(stage_kustomization(out, stage))], 1) for stage in ("dev", "staging", "prod")]
            t_k = statistics.median(s[0] for s in samples)
            rows.append((f"N={size}: {build[0].rsplit('/', 1)[-1]} build, one stage", t_k, max(s[1] for s in samples),
                         f"{t_k / t_fresh:.2f}x render"))
    shutil.rmtree(work)
    print(f"{'benchmark':<42} {'median':>10} {'peak RSS':>10}  ratio      ({args.runs} runs, {os.cpu_count()} cpus)")
    for name, seconds, rss, ratio in rows:
        memory = f"{rss / 1024:.0f} MB" if rss else ""
        print(f"{name:<42} {seconds * 1000:>8.0f}ms {memory:>10}  {ratio}")
    sizes = sorted(fresh_times)
    if len(sizes) >= 2:
        small, large = sizes[-2], sizes[-1]
        exponent = math.log(fresh_times[large] / fresh_times[small]) / math.log(large / small)
        print(f"scaling exponent of the fresh render, N={small} -> N={large}: {exponent:.2f}")


if __name__ == "__main__":
    main()
