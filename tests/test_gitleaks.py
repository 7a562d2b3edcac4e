"""No secret in any rendered tree (CHECKLIST §2.7): gitleaks (pinned, built from its Go module by
scripts/install-tools gitleaks) with its default rules finds nothing, SOPS files included, and
does find a token planted in a tree (so a silent scanner cannot pass the test)."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from govstack_gen.cli import main
from govstack_gen.pipeline import render_spec
from helpers import CASES, EXAMPLES, ROOT, age_key, sops_encrypt, write_tree

SPECS = sorted(EXAMPLES.glob("*/environment.yaml")) + sorted((CASES / "valid").glob("*/environment.yaml"))


@functools.cache
def gitleaks() -> str:
    result = subprocess.run([str(ROOT / "scripts" / "install-tools"), "gitleaks"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/install-tools gitleaks failed:\n{result.stderr[-4000:]}")
    return result.stdout.strip().splitlines()[-1]


def leaks(tree: Path, report: Path) -> list[dict[str, Any]]:
    subprocess.run([gitleaks(), "dir", str(tree), "--no-banner", "--log-level", "error", "--exit-code", "0",
                    "--report-format", "json", "--report-path", str(report)], capture_output=True, text=True, check=True)
    found: list[dict[str, Any]] = json.loads(report.read_text())
    return found


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_gitleaks_finds_nothing_in_a_rendered_tree(spec: Path, tmp_path: Path) -> None:
    write_tree(tmp_path / "tree", render_spec(spec))
    assert leaks(tmp_path / "tree", tmp_path / "report.json") == []


def test_sops_files_pass_and_a_planted_token_does_not(tmp_path: Path) -> None:
    _, public = age_key(tmp_path)
    spec = tmp_path / "environment.yaml"
    text = (EXAMPLES / "sandbox-k3s" / "environment.yaml").read_text()
    spec.write_text(text.replace("age1y432xsy8kt340n8ecm722ayg98vglrz0llkwd8nkpdgy0mz9395saxptqr", public))
    tree = tmp_path / "tree"
    assert main(["render", str(spec), "--output", str(tree)]) == 0
    sops_encrypt(tree, "secrets/dev/cache/cache-redis.sops.yaml", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cache-redis"},
        "stringData": {"password": "ghp_" + "Zq7Xc2Lm9Pv4Rt8Yw1Ks6Jd3Hf5Gb0Na2Ue"}})
    assert leaks(tree, tmp_path / "report.json") == []  # encrypted: nothing readable
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "values.yaml").write_text("token: ghp_" + "Zq7Xc2Lm9Pv4Rt8Yw1Ks6Jd3Hf5Gb0Na2Ue\n")
    [found] = leaks(tmp_path / "plain", tmp_path / "report2.json")
    assert found["File"].endswith("values.yaml") and found["StartLine"] == 1
