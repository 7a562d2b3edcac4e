"""Hostile and odd YAML: refused quickly, with a located error, in bounded memory."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govstack_gen.errors import SpecError
from govstack_gen.pipeline import load_and_resolve, render_spec
from govstack_gen.spec.load import MAX_SPEC_BYTES, parse_document
from helpers import CASES, EXAMPLES

VALID = (CASES / "valid" / "overrides" / "environment.yaml").read_text()
# The richest spec (storage, routes, teams, flows) is what the mutation fuzzer starts from.
RICH = (EXAMPLES / "sandbox-k3s" / "environment.yaml").read_text()


def codes(raw: bytes) -> list[str]:
    with pytest.raises(SpecError) as exc:
        parse_document(raw, "environment.yaml")
    return [d.code for d in exc.value.diagnostics]


def test_alias_bomb_is_refused_before_expansion() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    start = time.perf_counter()
    assert codes("\n".join(lines).encode()) == ["E108"]
    assert time.perf_counter() - start < 1.0


def test_oversized_file_is_refused_without_parsing(tmp_path: Path) -> None:
    spec = tmp_path / "environment.yaml"
    spec.write_bytes(b"# padding\n" * (5 * 1024 * 1024))  # 50 MB
    start = time.perf_counter()
    with pytest.raises(SpecError) as exc:
        load_and_resolve(spec)
    assert [d.code for d in exc.value.diagnostics] == ["E110"]
    assert time.perf_counter() - start < 1.0
    assert spec.stat().st_size > MAX_SPEC_BYTES


def test_merge_keys_are_refused() -> None:
    assert codes(b"metadata:\n  <<: {name: x}\n") == ["E108"]
    assert codes(b"metadata:\n  <<: [{name: x}]\n") == ["E108"]
    assert parse_document(b"metadata:\n  name: '<<'\n  other: <<\n", "e.yaml").data["metadata"]["other"] == "<<"


def test_tabs_are_refused_in_indentation_but_kept_in_block_text() -> None:
    assert codes(b"a:\n\tb: 1\n") == ["E105"]
    assert parse_document(b"a: |\n  x\n  \ty\n", "e.yaml").data == {"a": "x\n\ty\n"}


def test_deep_nesting_is_refused() -> None:
    assert codes(("a: " + "[" * 200 + "]" * 200).encode()) == ["E112"]


def test_complex_keys_are_refused() -> None:
    assert "E113" in codes(b"? [a, b]\n: c\n")
    assert "E113" in codes(b"values:\n  1: a\n")


def test_every_duplicate_key_is_reported() -> None:
    assert codes(b"a: 1\nb: 2\na: 3\nb: 4\n") == ["E107", "E107"]


def test_an_unquoted_date_stays_the_text_helm_would_see(tmp_path: Path) -> None:
    spec = tmp_path / "environment.yaml"
    spec.write_text(VALID.replace("              country: SE\n", "              country: SE\n              since: 2024-01-31\n"))
    env = load_and_resolve(spec)
    assert env.block("repo-chart").values["serverFiles"]["prometheus.yml"]["global"]["external_labels"]["since"] == "2024-01-31"


# -- property: any mutation of a valid spec gives a render or coded diagnostics -----------------

LINES = RICH.splitlines(keepends=True)
NOISE = st.sampled_from(["<<: ", "!x ",
                         "", " ", "  ", "\t", ":", "- ", "&a ", "*a", "'", '"', "{", "}", "[", "]", "---\n", "yes",
                         "-1", "1.10", "\x00", "\ufeff", "#", "?", "!!str ", "null", "~", "é", "0755", "${x}", "..", "\n"])


@st.composite
def mutated_specs(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "insert", "replace-value"]))
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "insert":
            line = lines[index]
            cut = draw(st.integers(0, len(line)))
            lines[index] = line[:cut] + draw(NOISE) + line[cut:]
        else:
            key, sep, _ = lines[index].partition(": ")
            if sep:
                lines[index] = key + sep + draw(NOISE | st.text(max_size=8)) + "\n"
        if not lines:
            break
    return "".join(lines)


def check_mutation(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    spec = tmp_path_factory.mktemp("fuzz") / "environment.yaml"
    spec.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        files = render_spec(spec)
    except SpecError as exc:
        assert exc.diagnostics
        for diagnostic in exc.diagnostics:
            assert diagnostic.location.file == "environment.yaml"
            assert diagnostic.message
    else:
        assert all(path.endswith(".yaml") and content.endswith(b"\n") for path, content in files.items())


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_specs())
def test_mutated_specs_render_or_fail_with_coded_diagnostics(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    check_mutation(tmp_path_factory, text)


@pytest.mark.fuzz_long
@settings(max_examples=int(os.environ.get("GOVSTACK_FUZZ_EXAMPLES", "20000")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(mutated_specs())
def test_mutated_specs_long_run(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    """The same property, 20,000 examples: `pytest -m fuzz_long` (about 10 minutes here;
    GOVSTACK_FUZZ_EXAMPLES=N for another count, .ci/run runs 2,000)."""
    check_mutation(tmp_path_factory, text)
