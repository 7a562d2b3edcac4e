"""Shared test helpers: paths, the kustomize binary, and schema validation of rendered objects.

Kept out of conftest.py so tests import them explicitly.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from govstack_gen.validation.schemas import structural  # the OpenAPI -> JSON Schema mapping: its own oracles in test_schemas

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CRDS = SHARED / "crds"
EXAMPLES = ROOT / "examples"
CASES = ROOT / "tests" / "cases"


@functools.cache
def kustomize_command() -> tuple[str, ...]:
    """The standalone kustomize (pinned, built by scripts/install-tools), else kubectl kustomize."""
    if os.environ.get("KUSTOMIZE"):
        return (os.environ["KUSTOMIZE"], "build")
    result = subprocess.run([str(ROOT / "scripts" / "install-tools")], capture_output=True, text=True, check=False)
    bin_dir = result.stdout.strip()
    if result.returncode == 0 and bin_dir and (Path(bin_dir) / "kustomize").exists():
        return (str(Path(bin_dir) / "kustomize"), "build")
    if shutil.which("kustomize"):
        return ("kustomize", "build")
    if shutil.which("kubectl"):
        return ("kubectl", "kustomize")
    raise RuntimeError(f"no kustomize available: {result.stderr}")


@functools.cache
def sops_tools() -> Path:
    """The folder holding sops, age and age-keygen (pinned, built by scripts/install-tools sops)."""
    result = subprocess.run([str(ROOT / "scripts" / "install-tools"), "sops"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/install-tools sops failed:\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


@functools.cache
def helm_binary() -> str:
    """The pinned helm (scripts/install-tools helm builds it from its Go module once)."""
    result = subprocess.run([str(ROOT / "scripts" / "install-tools"), "helm"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/install-tools helm failed:\n{result.stderr[-4000:]}")
    return result.stdout.strip().splitlines()[-1]


def age_key(folder: Path) -> tuple[Path, str]:
    """A new age identity: (key file, public key)."""
    key = folder / "age.key"
    subprocess.run([str(sops_tools() / "age-keygen"), "-o", str(key)], capture_output=True, check=True)
    public = subprocess.run([str(sops_tools() / "age-keygen"), "-y", str(key)], capture_output=True, text=True, check=True)
    return key, public.stdout.strip()


def sops_encrypt(tree: Path, rel: str, secret: dict[str, Any]) -> None:
    """Write a Secret at tree/rel and encrypt it in place with the tree's rendered .sops.yaml."""
    target = tree / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(secret))
    subprocess.run([str(sops_tools() / "sops"), "--encrypt", "--in-place", rel], cwd=tree, capture_output=True, text=True,
                   check=True)


def kustomize_build(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run([*kustomize_command(), str(directory)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"kustomize build {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def read_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- schema validation --------------------------------------------------------------------------


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON Schema of the object, from every CRD under ../shared/crds."""
    out = {}
    for path in sorted(CRDS.rglob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = structural(version["schema"]["openAPIV3Schema"])
                schema.setdefault("properties", {})["metadata"] = {"type": "object"}  # ObjectMeta: checked apart
                out[(f"{group}/{version['name']}", kind)] = schema
    return out


def validate_object(obj: dict[str, Any]) -> list[str]:
    """Errors of one rendered object: CRs against ../shared/crds, core kinds against the
    Kubernetes OpenAPI schemas (strict: unknown fields are errors)."""
    import jsonschema
    import kubernetes_validate  # type: ignore[import-untyped]

    key = (obj.get("apiVersion", ""), obj.get("kind", ""))
    if key[0].startswith("kustomize.config.k8s.io/"):
        return []  # kustomize's own config: checked by running kustomize build
    schema = crd_schemas().get(key)
    if schema is not None:
        validator = jsonschema.Draft7Validator(schema)
        errors = [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(obj)]
        return errors + _metadata_errors(obj)
    group = key[0].rpartition("/")[0]
    if "." in group and not group.endswith(".k8s.io"):  # not a built-in API group: needs a CRD
        return [f"no CRD for {key} under {CRDS}"]
    try:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'.'.join(map(str, exc.path))}: {exc.message}"]
    return []


def _metadata_errors(obj: dict[str, Any]) -> list[str]:
    meta = obj.get("metadata") or {}
    errors = [] if isinstance(meta.get("name"), str) and meta["name"] else ["metadata.name missing"]
    for field in ("labels", "annotations"):
        for k, v in (meta.get(field) or {}).items():
            if not isinstance(k, str) or not isinstance(v, str):
                errors.append(f"metadata.{field}.{k}: must be a string")
    return errors


# The commit of GovStackWorkingGroup/sandbox-deployment that ../shared/charts/sandbox was taken
# from (SOURCES.md gives its first 12 digits; test_catalog checks the entries pin it).
SANDBOX_COMMIT = "15bc760128286f7154cfc6d4ffb21322351d164c"
