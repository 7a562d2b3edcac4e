"""Mutation fuzzing of whole specs: every mutation of every example and valid case renders, or
fails with coded, located diagnostics, never a traceback.

test_loader.py mutates the k3s example's text line by line, within the shapes YAML allows. This
fuzzer mutates the parsed spec as data, the way an independent one found four crash classes the
text fuzzer never reached: any node replaced by a value of another type (another node of the
spec, a huge number, a quantity beyond any disk, a name longer than a file system allows), keys
and list items deleted or duplicated, two nodes swapped, and a line of the dumped text written
twice (duplicate keys).
"""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govstack_gen.errors import SpecError
from govstack_gen.pipeline import render_spec
from helpers import CASES, EXAMPLES

SEEDS = sorted(EXAMPLES.glob("*/environment.yaml")) + sorted((CASES / "valid").glob("*/environment.yaml"))
assert len(SEEDS) >= 8
DATA = {spec: yaml.safe_load(spec.read_text()) for spec in SEEDS}

# Values of other types and sizes than the schema expects: the ones that broke the product.
ODD = [0, -1, 1, 10**400, -(10**400), 1e308, 0.5, True, None, "", "x" * 300, "9" * 400 + "Gi", "1e400", "0Gi", "-1Gi",
       "${block.id}", "a/../../b", [], {}, [None], {"": None}, "é\u202e", "1" * 30 + "Ei", ["x" * 300]]

Path_ = tuple[str | int, ...]


def _keys_and_scalars(data: Any) -> tuple[set[str], list[Any]]:
    keys: set[str] = set()
    scalars: list[Any] = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            keys.update(str(k) for k in node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif node is None or isinstance(node, (str, int, float, bool)):
            scalars.append(node)
    return keys, scalars


# A dictionary, as fuzzers keep one: every key and scalar of the seeds and of the shipped
# catalog's entries, and the parts of the values keys the entries' influences append to, so a
# mutation can give a block a value where an influence goes, or one block another's id.
_ENTRIES = [yaml.safe_load(f.read_text()) for f in sorted((Path(__file__).parent.parent / "govstack_gen" / "catalog" /
                                                          "entries").glob("*.yaml"))]
_FOUND = [_keys_and_scalars(d) for d in [*DATA.values(), *_ENTRIES]]
KEYS = sorted({k for keys, _ in _FOUND for k in keys} | {"values", "serverFiles", "prometheus.yml", "catalogs"})
# By repr: True and 1 are equal as set members, and sorting mixes types otherwise.
SCALARS = [s for _, s in sorted({repr(s): s for _, scalars in _FOUND for s in scalars}.items())]


def nodes(data: Any, at: Path_ = ()) -> list[Path_]:
    """Every node's path, the root's included."""
    found = [at]
    if isinstance(data, dict):
        for key, value in data.items():
            found += nodes(value, (*at, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += nodes(value, (*at, index))
    return found


def get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def put(data: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    get(data, path[:-1])[path[-1]] = value
    return data


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Path, str]:
    """A seed spec and a mutation of it, as the text written to environment.yaml."""
    seed = draw(st.sampled_from(SEEDS))
    data = copy.deepcopy(DATA[seed])
    for _ in range(draw(st.integers(1, 4))):
        paths = nodes(data)
        # A depth first, then a node at it: the few shallow nodes (catalogs, stages, a whole
        # building block) are picked as often as the many deep ones.
        depth = draw(st.integers(0, max(len(p) for p in paths)))
        path = draw(st.sampled_from([p for p in paths if len(p) == depth] or paths))
        action = draw(st.sampled_from(["retype", "retype", "alias", "graft", "lengthen", "same-id", "swap", "delete",
                                       "duplicate"]))
        if action == "retype":
            other = get(data, draw(st.sampled_from(paths)))
            data = put(data, path, copy.deepcopy(draw(st.sampled_from([*ODD, other]))))
        elif action == "alias":  # a scalar of the spec or the catalog where another was
            data = put(data, path, draw(st.sampled_from(SCALARS)))
        elif action == "graft":  # a new key in a mapping, holding an odd value, a scalar, or a mapping to graft into next
            target = get(data, path)
            if isinstance(target, dict):
                value = draw(st.sampled_from([*ODD, {}, draw(st.sampled_from(SCALARS))]))
                target[draw(st.sampled_from(KEYS))] = copy.deepcopy(value)
        elif action == "lengthen":  # a name past what a file system or a DNS label holds
            value = get(data, path)
            if isinstance(value, str) and value:
                data = put(data, path, (value * (300 // len(value) + 1))[:300])
            elif isinstance(value, list) and value and isinstance(value[0], str) and value[0]:
                value[0] = (value[0] * (300 // len(value[0]) + 1))[:300]
        elif action == "same-id":  # two items of a list under one id (or name)
            items = get(data, path)
            if isinstance(items, list) and len(items) > 1 and all(isinstance(i, dict) for i in items):
                first, second = draw(st.permutations(range(len(items))))[:2]
                for key in ("id", "name"):
                    if key in items[first] and key in items[second]:
                        items[second][key] = items[first][key]
        elif action == "swap":
            there = draw(st.sampled_from(paths))
            if path and there and path[: len(there)] != there and there[: len(path)] != path:
                a, b = copy.deepcopy(get(data, path)), copy.deepcopy(get(data, there))
                data = put(put(data, path, b), there, a)
        elif path:
            parent = get(data, path[:-1])
            if action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, list):
                parent.insert(int(path[-1]), copy.deepcopy(parent[int(path[-1])]))
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)
    lines = text.splitlines(keepends=True)
    twice: bool = draw(st.booleans())
    if lines and twice:
        index = draw(st.integers(0, len(lines) - 1))
        lines.insert(index, lines[index])  # a key written twice, or a list item
    return seed, "".join(lines)


def render_mutation(seed: Path, text: str, folder: Path) -> None:
    """The property: a render, or a SpecError whose every diagnostic is coded and located in the
    spec or one of its catalog entries."""
    if folder.exists():
        shutil.rmtree(folder)
    if (seed.parent / "catalog").is_dir():
        shutil.copytree(seed.parent / "catalog", folder / "catalog")
    folder.mkdir(exist_ok=True)
    spec = folder / "environment.yaml"
    spec.write_text(text, encoding="utf-8")
    try:
        files = render_spec(spec)
    except SpecError as exc:
        assert exc.diagnostics
        for diagnostic in exc.diagnostics:
            assert diagnostic.code and diagnostic.message
            # Located in a file the user has: the spec, or an entry of a catalog folder it names.
            where = diagnostic.location.file
            assert not Path(where).is_absolute() and (folder / where).is_file(), diagnostic.render()
    else:
        assert all(path.endswith(".yaml") and content.endswith(b"\n") for path, content in files.items())


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_data_renders_or_fails_with_coded_diagnostics(tmp_path_factory: pytest.TempPathFactory,
                                                              case: tuple[Path, str]) -> None:
    render_mutation(*case, tmp_path_factory.getbasetemp() / "fuzz-data")


# The long run: `GOVSTACK_FUZZ_EXAMPLES=N pytest -m fuzz_long tests/test_fuzz.py` (20,000 by
# default; .ci/run runs 2,000).
LONG_RUN = int(os.environ.get("GOVSTACK_FUZZ_EXAMPLES", "20000"))


@pytest.mark.fuzz_long
@settings(max_examples=LONG_RUN, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_data_long_run(tmp_path_factory: pytest.TempPathFactory, case: tuple[Path, str]) -> None:
    render_mutation(*case, tmp_path_factory.getbasetemp() / "fuzz-long")
