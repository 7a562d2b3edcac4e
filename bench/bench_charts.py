"""Benchmark `govstack-gen validate --charts` on the examples, against the real charts.

    python3 bench/bench_charts.py                # both examples, 3 runs
    python3 bench/bench_charts.py --runs 5

Fresh processes, as CI runs them; the median wall time and peak RSS of

- `validate` without --charts (schemas, kustomize builds, policy): the base;
- `validate --charts` with an empty render cache (every release rendered, values probed) and
  again with the cache warm (nothing rendered);
- the peer: `helm template` of every release one after the other, with the same release name,
  namespace and values and nothing checked (what a CI script looping over the releases costs).

Charts from ../shared/charts; helm and kustomize as the tests use them ($HELM, $KUSTOMIZE, else
scripts/install-tools).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHARTS = ROOT.parent / "shared" / "charts"
CRDS = ROOT.parent / "shared" / "crds"
EXAMPLES = ["sandbox-k3s", "sandbox-eks"]


def tool(name: str) -> str:
    if os.environ.get(name.upper()):
        return os.environ[name.upper()]
    out = subprocess.run([str(ROOT / "scripts" / "install-tools"), *([] if name == "kustomize" else [name])], capture_output=True,
                         text=True, check=True).stdout.strip().splitlines()[-1]
    return str(Path(out) / "kustomize") if name == "kustomize" else out


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of the command and its children."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise RuntimeError(result.stderr[-2000:])
    return elapsed, int(result.stderr.strip().splitlines()[-1])


def helm_loop(spec: Path, env: dict[str, str], helm: str) -> list[str]:
    """A script that runs helm template for every release validate --charts renders."""
    sys.path.insert(0, str(ROOT))
    from govstack_gen.pipeline import load_and_resolve
    from govstack_gen.validation.charts import ChartStore
    from govstack_gen.validation.releases import releases
    from govstack_gen.validation.run import build_stages

    resolved = load_and_resolve(spec)
    built, _ = build_stages(resolved, (env["KUSTOMIZE"], "build"))
    store = ChartStore([CHARTS])
    lines = []
    for stage, objects in built.items():
        for release in releases(stage, resolved.gitops.engine, objects):
            chart = store.find(release.chart)
            if isinstance(chart, Path):
                values = Path(tempfile.mkstemp(suffix=".json")[1])
                values.write_text(json.dumps(release.values))
                lines.append(f"{helm} template {release.name} {chart} --namespace {release.namespace} --kube-version 1.35.0 "
                             f"--values {values} --include-crds --skip-tests > /dev/null || true")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    helm, kustomize = tool("helm"), tool("kustomize")
    print("| benchmark | median | peak RSS | ratio |\n|---|---:|---:|---|")
    for example in EXAMPLES:
        spec = ROOT / "examples" / example / "environment.yaml"
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "HELM": helm, "KUSTOMIZE": kustomize, "XDG_CACHE_HOME": tmp}
            validate = [sys.executable, "-m", "govstack_gen", "validate", str(spec), "--crds", str(CRDS)]
            charts = [*validate, "--charts", "--chart-dir", str(CHARTS), "--offline"]
            script = Path(tmp) / "loop.sh"
            script.write_text("\n".join(helm_loop(spec, env, helm)) + "\n")
            rows: dict[str, list[tuple[float, int]]] = {"base": [], "cold": [], "warm": [], "peer": []}
            for _ in range(args.runs):
                rows["base"].append(timed(validate, env))
                for entry in Path(tmp).glob("govstack-gen/renders/*.json"):
                    entry.unlink()
                rows["cold"].append(timed(charts, env))
                rows["warm"].append(timed(charts, env))
                rows["peer"].append(timed(["bash", str(script)], env))
            median = {k: (statistics.median(t for t, _ in v), max(m for _, m in v)) for k, v in rows.items()}
            releases = len(script.read_text().splitlines())
            labels = {"base": f"{example}: validate", "cold": f"{example}: validate --charts, cold cache",
                      "warm": f"{example}: validate --charts, warm cache", "peer": f"{example}: helm template x{releases} (peer)"}
            for key, label in labels.items():
                seconds, rss = median[key]
                ratio = {"cold": f"{(median['cold'][0] - median['base'][0]) / median['peer'][0]:.2f}x peer (charts part)",
                         "warm": f"+{median['warm'][0] - median['base'][0]:.2f} s over validate"}.get(key, "")
                print(f"| {label} | {seconds * 1000:,.0f} ms | {rss // 1024} MB | {ratio} |")


if __name__ == "__main__":
    main()
