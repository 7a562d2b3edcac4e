"""helm, the external binary charts are rendered with (like kustomize: found, never bundled).

Looked up in this order: --helm, $HELM, `helm` on PATH. `scripts/install-tools helm` builds the
pinned one from its Go module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["HelmNotFound", "Template", "helm_command", "helm_pull", "helm_template", "helm_version"]

TEMPLATE_TIMEOUT_S = 120
PULL_TIMEOUT_S = 120


class HelmNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Template:
    """What `helm template` made of a chart: its manifests, or why it could not."""

    manifest: str = ""
    error: str = ""


def helm_command(explicit: str | None = None) -> str:
    chosen = explicit or os.environ.get("HELM")
    if chosen:
        found = shutil.which(chosen)
        if not found:
            raise HelmNotFound(f"helm {chosen!r} is not an executable")
        return found
    found = shutil.which("helm")
    if not found:
        raise HelmNotFound("helm is not on PATH")
    return found


def helm_version(helm: str) -> str:
    result = subprocess.run([helm, "version", "--template", "{{.Version}}"], capture_output=True, check=False, timeout=30)
    return result.stdout.decode("utf-8", "replace").strip() if result.returncode == 0 else ""


def helm_template(helm: str, chart: Path, release: str, namespace: str, values: dict[str, Any], kube_version: str) -> Template:
    """`helm template` as the engines install: hooks and CRDs included, tests left out (Flux runs
    them only when asked), the cluster's Kubernetes version given."""
    with tempfile.TemporaryDirectory(prefix="govstack-gen-helm-") as tmp:
        values_file = Path(tmp) / "values.json"  # JSON is YAML: no quoting surprises
        values_file.write_text(json.dumps(values), encoding="utf-8")
        command = [helm, "template", release, str(chart), "--namespace", namespace, "--kube-version", kube_version,
                   "--values", str(values_file), "--include-crds", "--skip-tests"]
        env = {**os.environ, "HELM_CACHE_HOME": str(Path(tmp) / "cache"), "HELM_CONFIG_HOME": str(Path(tmp) / "config"),
               "HELM_DATA_HOME": str(Path(tmp) / "data")}
        try:
            result = subprocess.run(command, capture_output=True, check=False, timeout=TEMPLATE_TIMEOUT_S, env=env)
        except subprocess.TimeoutExpired:
            return Template(error=f"helm template took longer than {TEMPLATE_TIMEOUT_S} s")
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().replace(str(values_file), "values")
        return Template(error=message or f"exit status {result.returncode}")
    return Template(manifest=result.stdout.decode("utf-8", "replace"))


def helm_pull(helm: str, args: list[str], destination: Path) -> str:
    """`helm pull ARGS --destination DIR`; the error text, or "" on success."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run([helm, "pull", *args, "--destination", str(destination)], capture_output=True, check=False,
                                timeout=PULL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"helm pull took longer than {PULL_TIMEOUT_S} s"
    return "" if result.returncode == 0 else result.stderr.decode("utf-8", "replace").strip() or f"exit status {result.returncode}"
