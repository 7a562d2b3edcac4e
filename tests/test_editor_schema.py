"""The editor schema (docs/environment.schema.json, shipped in every generated repository) as
the ecosystem's own validators read it: ajv, the validator of JavaScript editors and tools
(draft 2020-12, strict mode), and check-jsonschema with its default regular-expression engine.
JSON Schema patterns are ECMA-262 regular expressions: a Python-only construct such as a named
group makes both refuse the schema itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from govstack_gen.spec.load import parse_document
from helpers import CASES, EXAMPLES, ROOT

SCHEMA = ROOT / "docs" / "environment.schema.json"
SPECS = sorted(EXAMPLES.glob("*/environment.yaml")) + sorted((CASES / "valid").glob("*/environment.yaml"))
BROKEN = CASES / "invalid" / "unknown-field-typo" / "environment.yaml"  # replcias: the schema must refuse it


@pytest.fixture(scope="module")
def ajv() -> Path:
    result = subprocess.run([str(ROOT / "scripts" / "install-tools"), "ajv"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def as_json(spec: Path, folder: Path) -> Path:
    """The spec as the editor sees it (YAML read as data), in a JSON file for ajv."""
    path = folder / f"{spec.parent.parent.name}-{spec.parent.name}.json"
    path.write_text(json.dumps(parse_document(spec.read_bytes(), spec.name).data))
    return path


def test_ajv_compiles_the_schema_strictly_and_validates_every_spec(ajv: Path, tmp_path: Path) -> None:
    assert len(SPECS) >= 8
    files = [as_json(spec, tmp_path) for spec in [*SPECS, BROKEN]]
    result = subprocess.run(["node", str(ajv), str(SCHEMA), *map(str, files)], capture_output=True, text=True, check=False,
                            timeout=120)
    assert result.returncode == 0, f"ajv refuses the schema: {result.stderr}"
    found = json.loads(result.stdout)
    broken = found.pop(str(files[-1]))
    assert found == {str(f): [] for f in files[:-1]}
    assert any("replcias" in error or "additional properties" in error for error in broken), broken


def test_ajv_refuses_a_python_only_pattern(ajv: Path, tmp_path: Path) -> None:
    """The checker can fail: the named group this schema once had is refused by ajv."""
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string",
                                  "pattern": "^(?P<num>[0-9]+)$"}))
    result = subprocess.run(["node", str(ajv), str(schema)], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 2 and "Invalid" in result.stderr


def check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA), *map(str, files)],
                          capture_output=True, text=True, check=False, timeout=300)


def test_check_jsonschema_with_its_default_regex_engine() -> None:
    result = check_jsonschema(*SPECS)
    assert result.returncode == 0, result.stdout + result.stderr
    refused = check_jsonschema(BROKEN)
    assert refused.returncode == 1 and "replcias" in refused.stdout + refused.stderr
