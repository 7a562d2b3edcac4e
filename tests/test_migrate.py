"""Spec versions: a spec written in an older version renders the same tree (with a warning), and
`govstack-gen migrate` rewrites it in place, changing only the apiVersion and the renamed keys."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govstack_gen.cli import main
from govstack_gen.pipeline import render_spec
from govstack_gen.spec.load import parse_document
from govstack_gen.spec.model import API_VERSION
from govstack_gen.spec.versions import CURRENT, KNOWN, STEPS
from helpers import CASES, EXAMPLES

OLD, NEW = "govstack.dev/v1alpha1", "govstack.dev/v1alpha2"
SPECS = sorted([*EXAMPLES.glob("*/environment.yaml"), *(CASES / "valid").glob("*/environment.yaml")])


def downgrade(text: str) -> str:
    """The spec as v1alpha1 wrote it: the apiVersion, and every volume's claimKey as valuesKey
    (found through the loader's positions, so only the keys of volumes change)."""
    doc = parse_document(text.encode(), "environment.yaml")
    lines = text.split("\n")
    spots = sorted((pos for loc, pos in doc.key_pos.items()
                    if loc[-1] == "claimKey" and len(loc) == 5 and loc[0] == "buildingBlocks" and loc[2] == "volumes"),
                   reverse=True)
    for line, col in spots:
        row = lines[line - 1]
        assert row[col - 1:].startswith("claimKey")
        lines[line - 1] = row[:col - 1] + "valuesKey" + row[col - 1 + len("claimKey"):]
    return "\n".join(lines).replace(f"apiVersion: {NEW}", f"apiVersion: {OLD}", 1)


def copy_case(spec: Path, to: Path) -> Path:
    shutil.copytree(spec.parent, to, ignore=shutil.ignore_patterns("expected", "expected.txt"))
    return to / "environment.yaml"


def test_the_versions_table_ends_at_the_models_version() -> None:
    assert CURRENT == API_VERSION == NEW
    assert KNOWN == (OLD, NEW)
    assert [s.target for s in STEPS] == list(KNOWN[1:])


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_an_older_spec_renders_the_same_tree_and_migrates_back_to_the_same_bytes(
        spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    current = copy_case(spec, tmp_path / "new")
    old = copy_case(spec, tmp_path / "old")
    old.write_text(downgrade(current.read_text()))
    assert old.read_text() != current.read_text()
    assert render_spec(old) == render_spec(current)

    assert main(["migrate", str(old), "--check"]) == 1
    assert main(["migrate", str(old)]) == 0
    assert old.read_bytes() == current.read_bytes()
    assert main(["migrate", str(old), "--check"]) == 0
    out = capsys.readouterr()
    assert f"environment.yaml: {OLD} -> {NEW}" in out.out
    assert "Traceback" not in out.err


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


SPEC = f"""\
# The operator's notes stay where they are.
apiVersion: {OLD}   # written for govstack-gen 0.1
kind: Environment
metadata: {{name: sandbox}}
platform: {{type: k3s}}
gitops: {{url: "https://git.example.org/env.git"}}
stages: [{{name: dev, domain: dev.example.org}}]
storage:
  backends: [{{name: main, type: hostPath, root: /srv/data}}]
catalogs: [catalog]
buildingBlocks:
  - id: cache
    catalog: {{name: cache}}
    secrets: [{{name: cache-redis, source: external}}]
    volumes:
      - {{name: data, valuesKey: master.persistence.existingClaim}}   # flow style
  - id: ledger
    catalog: {{name: ledger}}
    volumes:
      - name: files
        size: 1Gi
        "valuesKey": persistence.existingClaim  # quoted
"""

ENTRY = f"""\
apiVersion: {OLD}
kind: CatalogEntry
metadata: {{name: ledger, version: "1.0.0"}}
spec:
  chart: {{repo: "https://charts.example.org", name: ledger, version: "1.0.0"}}
  resources: {{requests: {{cpu: 100m, memory: 128Mi}}, limits: {{cpu: 500m, memory: 512Mi}}}}
  volumes:
    - name: files
      size: 2Gi
      valuesKey: data.existingClaim
"""


def test_migrate_rewrites_the_spec_and_its_catalog_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path / "environment.yaml", SPEC)
    entry = write(tmp_path / "catalog" / "ledger-1.0.0.yaml", ENTRY)
    os.chmod(spec, 0o640)
    before = render_spec(spec)

    assert main(["migrate", str(spec)]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"environment.yaml: {OLD} -> {NEW}",
        "  buildingBlocks[0].volumes[0]: valuesKey -> claimKey (line 16)",
        "  buildingBlocks[1].volumes[0]: valuesKey -> claimKey (line 22)",
        f"catalog/ledger-1.0.0.yaml: {OLD} -> {NEW}",
        "  spec.volumes[0]: valuesKey -> claimKey (line 10)",
    ]
    assert "migrated 2 files" in out.err
    # Only the tokens changed: comments, flow style, quoting and permissions stay.
    assert spec.read_text() == (SPEC.replace(f"apiVersion: {OLD}", f"apiVersion: {NEW}")
                                .replace("valuesKey: master", "claimKey: master")
                                .replace('"valuesKey": persistence', '"claimKey": persistence'))
    assert entry.read_text() == ENTRY.replace(OLD, NEW).replace("valuesKey:", "claimKey:")
    assert spec.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog", "environment.yaml"]  # no temporary file left
    assert render_spec(spec) == before


def test_an_older_spec_and_catalog_are_read_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path / "environment.yaml", SPEC)
    write(tmp_path / "catalog" / "ledger-1.0.0.yaml", ENTRY)
    render = ["render", str(spec), "--output", str(tmp_path / "out")]
    # The second render takes the quick path (nothing changed): it reads the spec, not the catalog.
    for argv, catalog_read in ((render, True), (["graph", str(spec)], True), (["bom", str(spec)], True), (render, False)):
        assert main(argv) == 0, argv
        err = capsys.readouterr().err
        assert (f"warning[E117]: environment.yaml:2:13: apiVersion: {OLD} is an older spec version, read as {NEW} "
                "(valuesKey -> claimKey)") in err, argv
        assert (f"warning[E117]: catalog/ledger-1.0.0.yaml:1:13: apiVersion: {OLD}" in err) is catalog_read, argv
    assert "nothing changed" in err


def test_errors_of_an_older_spec_point_at_the_file_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path / "environment.yaml", SPEC.replace(
        "catalog: {name: cache}\n", "catalog: {name: cache}\n    values: {master: {persistence: {existingClaim: mine}}}\n"))
    write(tmp_path / "catalog" / "ledger-1.0.0.yaml", ENTRY)
    assert main(["render", str(spec), "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"warning[E117]: environment.yaml:2:13: apiVersion: {OLD} is an older spec version" in err
    # line 17 holds `valuesKey: master...`: the error is there, at the value
    assert "error[E515]: environment.yaml:17:33: buildingBlocks[0].volumes[0].claimKey: values already set" in err
    assert err.endswith("1 error; nothing was written\n"
                        "for more about an error, try `govstack-gen explain E515` (or another code above)\n")


def test_both_names_of_a_renamed_field_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path / "environment.yaml", SPEC.replace(
        "{name: data, valuesKey: master.persistence.existingClaim}",
        "{name: data, valuesKey: master.persistence.existingClaim, claimKey: x.y}"))
    write(tmp_path / "catalog" / "ledger-1.0.0.yaml", ENTRY)
    before = spec.read_bytes()
    for argv in (["render", str(spec), "--output", str(tmp_path / "out")], ["migrate", str(spec)]):
        assert main(argv) == 1
        lines = capsys.readouterr().err.splitlines()
        at = lines.index("error[E118]: environment.yaml:16:22: buildingBlocks[0].volumes[0].valuesKey: 'valuesKey' (its "
                         f"{OLD} name) and 'claimKey' are both set")
        assert lines[at + 1] == "  hint: keep 'claimKey' only"
        assert lines[-2] == "1 error; nothing was written"
        assert lines[-1].startswith("for more about") and "`govstack-gen explain E118`" in lines[-1]  # the error's, not E117's
    assert spec.read_bytes() == before
    assert (tmp_path / "catalog" / "ledger-1.0.0.yaml").read_text() == ENTRY  # nothing written anywhere


def test_an_unknown_version_is_refused_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file for a newer govstack-gen: one clear error, not one per field it does not know."""
    spec = write(tmp_path / "environment.yaml", SPEC.replace(OLD, "govstack.dev/v1beta1").replace(
        "platform: {type: k3s}", "platform: {type: k3s, gpus: true}"))
    for argv in (["render", str(spec), "--output", str(tmp_path / "out")], ["migrate", str(spec)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err == (
            "error[E116]: environment.yaml:2:13: apiVersion: govstack.dev/v1beta1 is not a spec version this "
            "govstack-gen reads\n"
            f"  hint: it reads {NEW} and converts {OLD}; a newer govstack-gen may read this one\n"
            "1 error; nothing was written\n"
            "for more about this error, try `govstack-gen explain E116`\n")


def test_migrate_to_an_unknown_version_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path / "environment.yaml", SPEC)
    assert main(["migrate", str(spec), "--to", "govstack.dev/v1alpha3"]) == 2
    err = capsys.readouterr().err
    assert "--to: 'govstack.dev/v1alpha3' is not a spec version govstack-gen" in err
    assert f"({OLD}, {NEW}); a newer govstack-gen may" in err
    assert spec.read_text() == SPEC


def test_migrate_stops_at_the_version_asked_and_leaves_newer_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path / "environment.yaml", SPEC)
    entry = write(tmp_path / "catalog" / "ledger-1.0.0.yaml", ENTRY.replace(OLD, NEW).replace("valuesKey", "claimKey"))
    assert main(["migrate", str(spec), "--to", OLD]) == 0
    assert "nothing to migrate (2 files checked)" in capsys.readouterr().err
    assert spec.read_text() == SPEC
    spec.write_text(SPEC.replace(OLD, NEW).replace("valuesKey", "claimKey"))
    assert main(["migrate", str(spec), "--to", OLD]) == 0
    err = capsys.readouterr().err
    assert f"environment.yaml: {NEW} is past {OLD}; left as it is" in err
    assert f"catalog/ledger-1.0.0.yaml: {NEW} is past {OLD}; left as it is" in err
    assert entry.read_text().startswith(f"apiVersion: {NEW}")


def test_migrate_writes_nothing_when_a_catalog_file_is_broken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path / "environment.yaml", SPEC)
    write(tmp_path / "catalog" / "ledger-1.0.0.yaml", ENTRY)
    write(tmp_path / "catalog" / "zz-broken.yaml", "apiVersion: [unclosed\n")
    assert main(["migrate", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "error[E106]: catalog/zz-broken.yaml:" in err
    assert err.endswith("1 error; nothing was written\nfor more about this error, try `govstack-gen explain E106`\n")
    assert spec.read_text() == SPEC
    assert (tmp_path / "catalog" / "ledger-1.0.0.yaml").read_text() == ENTRY


def test_migrate_keeps_windows_line_ends(tmp_path: Path) -> None:
    spec = tmp_path / "environment.yaml"
    spec.write_bytes(SPEC.replace("\n", "\r\n").encode())
    write(tmp_path / "catalog" / "ledger-1.0.0.yaml", ENTRY)
    assert main(["migrate", str(spec)]) == 0
    text = spec.read_bytes().decode()
    assert text.count("\r\n") == SPEC.count("\n") and "\n" not in text.replace("\r\n", "")
    assert f"apiVersion: {NEW}   # written" in text and "valuesKey" not in text


def test_steps_chain_each_reading_the_names_the_earlier_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A later version that renames again (a key renamed twice, a parent renamed and a key under
    it): each step reads the document as the earlier ones left it; the file is edited once per
    key, with its last name. The third version is made up for the test; the table is data."""
    from govstack_gen.spec import versions

    v3 = "govstack.dev/v1alpha3"
    steps = (*versions.STEPS, versions.Step(NEW, v3, {"Environment": (
        versions.Rename(("buildingBlocks", versions.WILD, "volumes", versions.WILD), "claimKey", "claimValue"),
        versions.Rename(("buildingBlocks", versions.WILD), "volumes", "storage"),
        versions.Rename(("buildingBlocks", versions.WILD, "volumes", versions.WILD), "size", "capacity"),
    )}))
    monkeypatch.setattr(versions, "STEPS", steps)
    monkeypatch.setattr(versions, "KNOWN", (OLD, NEW, v3))
    text = SPEC.replace("catalogs: [catalog]\n", "")
    doc = parse_document(text.encode(), "environment.yaml")
    conversion = versions.plan(doc, v3)
    assert conversion is not None and conversion.target == v3
    assert versions.describe(conversion) == [
        "buildingBlocks[0].volumes[0]: valuesKey -> claimKey (line 15)",
        "buildingBlocks[1].volumes[0]: valuesKey -> claimKey (line 21)",
        "buildingBlocks[0].volumes[0]: claimKey -> claimValue (line 15)",
        "buildingBlocks[1].volumes[0]: claimKey -> claimValue (line 21)",
        "buildingBlocks[1].volumes[0]: size -> capacity (line 20)",
        "buildingBlocks[0]: volumes -> storage (line 14)",
        "buildingBlocks[1]: volumes -> storage (line 18)",
    ]
    rewritten = versions.rewrite(text, doc, conversion)
    assert rewritten == (text.replace(OLD, v3).replace("volumes:", "storage:").replace("valuesKey", "claimValue")
                         .replace("size: 1Gi", "capacity: 1Gi"))
    converted = versions.apply(doc, conversion)
    assert parse_document(rewritten.encode(), "environment.yaml").data == converted.data
    # Positions follow the keys to their new names.
    assert converted.key_pos[("buildingBlocks", 1, "storage", 0, "capacity")] == (20, 9)
    assert converted.value_pos[("buildingBlocks", 0, "storage", 0, "claimValue")] == (15, 33)


# -- the rewrite, over the ways YAML lets a volume be written ---------------------------------------

KEY_STYLES = ("{}", "'{}'", '"{}"')


@st.composite
def volume_texts(draw: st.DrawFn) -> tuple[str, str]:
    """A volume as v1alpha1 and as v1alpha2 write it: block or flow style, keys in any order,
    quoted or not, comments around, with or without the renamed key."""
    fields = [("name", "v"), ("size", "1Gi")]
    if draw(st.booleans()):
        fields.append(("valuesKey", draw(st.sampled_from(["a.existingClaim", "'b.claim'", '"valuesKey"']))))
    fields = draw(st.permutations(fields))
    styles = [draw(st.sampled_from(KEY_STYLES)) for _ in fields]
    flow = draw(st.booleans())
    comment = draw(st.sampled_from(["", "  # valuesKey: kept in a comment"]))

    def text(renamed: str) -> str:
        items = [(style.format(renamed if key == "valuesKey" else key), value)
                 for (key, value), style in zip(fields, styles, strict=True)]
        if flow:
            return "      - {" + ", ".join(f"{k}: {v}" for k, v in items) + "}" + comment + "\n"
        lines = [f"        {k}: {v}" for k, v in items]
        return "      -\n" + "\n".join(lines) + comment + "\n"

    return text("valuesKey"), text("claimKey")


@settings(max_examples=150, deadline=None)
@given(st.lists(volume_texts(), min_size=1, max_size=4))
def test_the_rewrite_changes_exactly_the_renamed_keys(volumes: list[tuple[str, str]]) -> None:
    def spec(version: str, index: int) -> str:
        return (f"apiVersion: {version}  # apiVersion: {OLD}\nkind: Environment\nbuildingBlocks:\n  - id: b\n"
                "    volumes:\n" + "".join(v[index] for v in volumes))

    from govstack_gen.spec.versions import apply, plan, rewrite

    old, new = spec(OLD, 0), spec(NEW, 1)
    doc = parse_document(old.encode(), "environment.yaml")
    conversion = plan(doc)
    assert conversion is not None
    assert rewrite(old, doc, conversion) == new
    assert parse_document(new.encode(), "environment.yaml").data == apply(doc, conversion).data


def test_the_template_migrates_to_every_spec_version_and_the_readme_lists_them() -> None:
    """A new spec version needs its copier migration (else `copier update` leaves the operator's
    own blocks in the old names) and its line in the README's table."""
    import yaml

    from helpers import ROOT

    migrations = yaml.safe_load((ROOT / "copier.yml").read_text())["_migrations"]
    targets = [m["command"][m["command"].index("--to") + 1] for m in migrations if m["command"][:2] == ["govstack-gen", "migrate"]]
    assert targets == list(KNOWN[1:])
    for migration in migrations:  # each migration is staged for copier's merge, at the same release
        assert migration["when"] == "{{ _stage == 'before' }}"
    assert len(migrations) == 2 * len(targets)
    assert all(m["command"] == ["git", "add", "--update"] for m in migrations[1::2])
    readme = (ROOT / "README.md").read_text()
    for version in KNOWN:
        assert f"| `{version}` |" in readme, version


def test_migrate_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    shared = write(tmp_path / "shared" / "sandbox.yaml", SPEC.replace("catalogs: [catalog]\n", ""))
    spec = tmp_path / "env" / "environment.yaml"
    spec.parent.mkdir()
    spec.symlink_to(shared)
    assert main(["migrate", str(spec)]) == 0
    assert spec.is_symlink()
    assert shared.read_text().startswith(f"# The operator's notes stay where they are.\napiVersion: {NEW}")
