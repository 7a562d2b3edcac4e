"""checkov (PyPI, the scanner platform teams run on manifests) finds nothing to fail in any
rendered tree. Exceptions would be listed here with their reason, and in the README; there
are none."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import pytest

from govstack_gen.pipeline import render_spec
from helpers import CASES, EXAMPLES, ROOT, write_tree

SPECS = sorted(EXAMPLES.glob("*/environment.yaml")) + sorted((CASES / "valid").glob("*/environment.yaml"))
ACCEPTED: dict[str, str] = {}  # check id -> why it does not apply to what govstack-gen renders


@functools.cache
def checkov() -> str:
    result = subprocess.run([str(ROOT / "scripts" / "install-tools"), "checkov"], capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_checkov_finds_no_failed_check(spec: Path, tmp_path: Path) -> None:
    write_tree(tmp_path, render_spec(spec))
    # --skip-download: no call home for guidelines; this machine (and CI) has no network.
    result = subprocess.run([checkov(), "--directory", str(tmp_path), "--framework", "kubernetes", "--skip-download",
                             "--quiet", "--compact", "--output", "json"], capture_output=True, text=True)
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [(c["check_id"], c["resource"], c["file_path"]) for r in reports for c in r.get("results", {}).get("failed_checks", [])
              if c["check_id"] not in ACCEPTED]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert not failed, failed
    assert passed > 0 and all(r.get("summary", {}).get("parsing_errors", 0) == 0 for r in reports)
