"""kustomize build of every overlay, with the kustomize the user has.

Looked up in this order: --kustomize, $KUSTOMIZE, `kustomize` on PATH, `kubectl kustomize`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Build", "KustomizeNotFound", "build_overlay", "kustomize_command"]

BUILD_TIMEOUT_S = 300
GLOG_PREFIX = re.compile(r"^[EWIF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] ", re.MULTILINE)


class KustomizeNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Build:
    folder: str
    objects: list[dict[str, Any]]
    error: str = ""  # kustomize's stderr when the build failed


def kustomize_command(explicit: str | None = None) -> tuple[str, ...]:
    chosen = explicit or os.environ.get("KUSTOMIZE")
    if chosen:
        if not shutil.which(chosen):
            raise KustomizeNotFound(f"kustomize {chosen!r} is not an executable")
        return (chosen, "build")
    if shutil.which("kustomize"):
        return ("kustomize", "build")
    if shutil.which("kubectl"):
        return ("kubectl", "kustomize")
    raise KustomizeNotFound("neither kustomize nor kubectl is on PATH")


def build_overlay(command: tuple[str, ...], root: Path, folder: str) -> Build:
    from ruamel.yaml import YAML

    result = subprocess.run([*command, str(root / folder)], capture_output=True, check=False, timeout=BUILD_TIMEOUT_S)
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().replace(str(root) + os.sep, "")
        message = GLOG_PREFIX.sub("", message)  # kubectl's log prefix carries a timestamp and a pid
        return Build(folder, [], message or f"exit status {result.returncode}")
    objects = [doc for doc in YAML(typ="safe").load_all(result.stdout) if isinstance(doc, dict)]
    return Build(folder, objects)
