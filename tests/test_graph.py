"""`govstack-gen graph`: the dependency graph as Mermaid (checked by Mermaid's own parser) and
DOT, with the order both engines follow."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from govstack_gen.cli import main
from govstack_gen.pipeline import load_and_resolve
from govstack_gen.resolve import depths
from helpers import CASES, EXAMPLES, ROOT

SPECS = sorted(EXAMPLES.glob("*/environment.yaml")) + sorted((CASES / "valid").glob("*/environment.yaml"))


@pytest.fixture(scope="module")
def mermaid_parser() -> Path:
    result = subprocess.run([str(ROOT / "scripts" / "install-tools"), "mermaid"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def parse(parser: Path, diagram: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(parser)], input=diagram, capture_output=True, text=True, check=False, timeout=120)


def graph(capsys: pytest.CaptureFixture[str], spec: Path, *argv: str) -> str:
    capsys.readouterr()
    assert main(["graph", str(spec), *argv]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_mermaid_output_parses_with_mermaid(spec: Path, mermaid_parser: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = parse(mermaid_parser, graph(capsys, spec))
    assert result.returncode == 0, result.stderr
    assert '"diagramType":"flowchart-v2"' in result.stdout


def test_the_parser_rejects_a_broken_diagram(mermaid_parser: Path) -> None:
    result = parse(mermaid_parser, 'flowchart LR\n  a[["x"] -->\n')
    assert result.returncode == 1 and "Parse error" in result.stderr


def test_sandbox_graph(capsys: pytest.CaptureFixture[str]) -> None:
    spec = EXAMPLES / "sandbox-k3s" / "environment.yaml"
    text = graph(capsys, spec)
    edges = set(re.findall(r"^  (\w+) --> (\w+)$", text, re.M))
    assert ("bb_information_mediator", "bb_digital_registries") in edges and ("platform", "bb_messaging") in edges
    assert ("platform", "bb_digital_registries") not in edges  # only roots hang off the platform
    assert '  bb_digital_registries["digital-registries<br/>digital-registries · wave 1"]' in text.splitlines()
    dot = graph(capsys, spec, "--format", "dot")
    assert dot.startswith('digraph "sandbox" {\n  rankdir=LR;\n') and dot.endswith("}\n")
    assert '  "information-mediator" -> "digital-registries";' in dot.splitlines()


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_waves_and_depends_on_follow_the_graph(spec: Path) -> None:
    env = load_and_resolve(spec)
    level = depths(env)
    for block in env.blocks:
        assert level[block.id] == (1 + max(level[d] for d in block.depends_on) if block.depends_on else 0)
