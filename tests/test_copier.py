"""The copier template bootstraps an environment repository that renders and passes its own CI
at once, and stays upgradable with `copier update`. Real copier, real git, in tmp_path."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_copy, run_update

from govstack_gen.catalog import load_catalog
from govstack_gen.cli import main
from helpers import ROOT, SHARED, age_key, helm_binary, kustomize_command, sops_encrypt

# The commands CI of the generated repository runs (govstack-gen, yamllint) from this Python.
ENV = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org",
           # The tests of the tree and its upgrades; the charts' own test is test_ci_checks_the_charts.
           GOVSTACK_CHARTS="off")


def run(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = kustomize_command()  # for `govstack-gen validate` in the generated CI script
    env = ENV | ({"KUSTOMIZE": command[0]} if command[1] == "build" else {}) | (env or {})
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def copy(dst: Path, src: Path = ROOT, vcs_ref: str = "HEAD", **data: Any) -> None:
    with warnings.catch_warnings():
        # The template is this working tree; uncommitted edits during development are expected.
        warnings.filterwarnings("ignore", message=".*dirty.*", category=Warning)
        warnings.filterwarnings("ignore", message=".*DirtyLocal.*", category=Warning)
        run_copy(str(src), dst, data=data, defaults=True, vcs_ref=vcs_ref, quiet=True)


def commit_all(repo: Path, message: str) -> None:
    assert run(repo, "git", "add", "-A").returncode == 0
    assert run(repo, "git", "commit", "-qm", message).returncode == 0


def bootstrap(repo: Path) -> None:
    """What an operator does after `copier copy`: render, commit."""
    assert run(repo, "git", "init", "-q").returncode == 0
    assert main(["render", str(repo / "environment.yaml")]) == 0
    commit_all(repo, "bootstrap")


def test_copy_with_defaults_renders_and_passes_its_ci(tmp_path: Path) -> None:
    repo = tmp_path / "env"
    copy(repo)
    for name in (".copier-answers.yml", ".github/workflows/govstack.yml", ".gitlab-ci.yml", ".pre-commit-config.yaml",
                 ".yamllint.yaml", "renovate.json", "scripts/ci.sh", "README.md"):
        assert (repo / name).is_file(), name
    assert (repo / "environment.schema.json").read_text() == (ROOT / "docs" / "environment.schema.json").read_text()
    # The editor's schema line names a file beside the spec: the one shipped with the repository.
    first = (repo / "environment.yaml").read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    assert (repo / first.split("$schema=", 1)[1]).resolve() == (repo / "environment.schema.json").resolve()
    bootstrap(repo)
    assert main(["render", str(repo / "environment.yaml"), "--check"]) == 0
    result = run(repo, "bash", "scripts/ci.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid: " in result.stdout and " 0 errors" in result.stdout  # govstack-gen validate ran
    lint = run(repo, sys.executable, "-m", "yamllint", "--strict", "-c", ".yamllint.yaml", "clusters", "platform", "building-blocks")
    assert lint.returncode == 0, lint.stdout
    for workflow in (".github/workflows/govstack.yml", ".gitlab-ci.yml", ".pre-commit-config.yaml"):
        yaml.safe_load((repo / workflow).read_text())


def test_copy_for_argocd_renders_an_app_of_apps(tmp_path: Path) -> None:
    repo = tmp_path / "env"
    copy(repo, gitops_engine="argocd")
    assert "engine: argocd" in (repo / "environment.yaml").read_text()
    assert "application-root.yaml" in (repo / "README.md").read_text()
    bootstrap(repo)
    assert (repo / "clusters" / "dev" / "application-root.yaml").is_file()
    result = run(repo, "bash", "scripts/ci.sh")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_checks_the_charts(tmp_path: Path) -> None:
    """With the charts reachable (here: ../shared/charts), the generated CI renders and checks
    them: a building block whose chart breaks its namespace's rules fails it."""
    repo = tmp_path / "env"
    copy(repo, building_blocks=["monitoring"])
    bootstrap(repo)
    env = {"GOVSTACK_CHARTS": "check", "GOVSTACK_CHART_DIRS": str(SHARED / "charts"), "HELM": helm_binary(),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = run(repo, "bash", "scripts/ci.sh", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    # monitoring and k3s's Traefik (configured by the add-ons layer), in dev and prod
    assert "4 chart releases rendered and checked; 0 errors" in result.stdout
    repo = tmp_path / "env-cache"
    copy(repo, building_blocks=["cache"])
    bootstrap(repo)
    # A planted regression: values that let Redis escalate privileges.
    spec = repo / "environment.yaml"
    pins = "    values:\n      image: {registry: "  # the image the template pins, where the operator adds values
    assert pins in spec.read_text()
    spec.write_text(spec.read_text().replace(pins, "    values:\n      master: {containerSecurityContext: "
                                             "{allowPrivilegeEscalation: true}}\n      image: {registry: "))
    assert main(["render", str(spec)]) == 0
    commit_all(repo, "cache: privilege escalation")
    result = run(repo, "bash", "scripts/ci.sh", env=env)
    assert result.returncode == 1
    assert 'cache: StatefulSet/cache-redis-master violates PodSecurity "restricted:v1.33": allowPrivilegeEscalation' in result.stdout
    off = run(repo, "bash", "scripts/ci.sh", env={**env, "GOVSTACK_CHARTS": "off"})
    assert off.returncode == 0 and "GOVSTACK_CHARTS=off: the charts are not rendered and checked" in off.stderr


def test_ci_prints_the_rendered_diff_when_the_tree_is_stale(tmp_path: Path) -> None:
    repo = tmp_path / "env"
    copy(repo)
    bootstrap(repo)
    spec = repo / "environment.yaml"
    spec.write_text(spec.read_text().replace("interval: 10m", "interval: 5m"))
    result = run(repo, "bash", "scripts/ci.sh")
    assert result.returncode == 1
    assert "-  interval: 10m" in result.stdout and "+  interval: 5m" in result.stdout
    assert "out of date" in result.stderr


def test_copy_with_an_answers_file(tmp_path: Path) -> None:
    for stage in ("staging", "prod"):
        (tmp_path / stage).mkdir()
    keys = {stage: age_key(tmp_path / stage)[1] for stage in ("staging", "prod")}
    answers = tmp_path / "answers.yml"
    answers.write_text(yaml.safe_dump({
        "env_name": "ng-prod", "platform": "eks", "base_domain": "Gov.Example.NG", "stages": ["staging", "prod"],
        "git_url": "ssh://git@github.com/gov/ng-prod.git", "storage_backend": "efs", "efs_file_system_id": "fs-0a1b2c3d4e5f60718",
        "building_blocks": ["information-mediator", "digital-registries", "cache"], "teams": {"integration": ["integration-team"]},
        "platform_admins": ["ng-admins"], "sops_age_keys": keys,
    }))
    repo = tmp_path / "env"
    result = subprocess.run([sys.executable, "-m", "copier", "copy", "--data-file", str(answers), "--defaults", "--vcs-ref",
                             "HEAD", "--quiet", str(ROOT), str(repo)], capture_output=True, text=True, env=ENV)
    assert result.returncode == 0, result.stderr
    text = (repo / "environment.yaml").read_text()
    assert "domain: staging.gov.example.ng" in text and "fileSystemId: fs-0a1b2c3d4e5f60718" in text
    assert "id: payments" not in text
    bootstrap(repo)
    assert sorted(p.name for p in (repo / "clusters").iterdir()) == ["prod", "staging"]
    # With the clusters' keys, the cache's password is a SOPS Secret: encrypted for staging's key by
    # the rendered .sops.yaml, decrypted by Flux.
    assert yaml.safe_load((repo / ".sops.yaml").read_text())["creation_rules"][0]["age"] == keys["staging"]
    assert (repo / "clusters/staging/kustomization-cache-secrets.yaml").is_file()
    sops_encrypt(repo, "secrets/staging/cache/cache-redis.sops.yaml", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cache-redis"}, "stringData": {"password": "x" * 20}})
    result = run(repo, "bash", "scripts/ci.sh")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("answers", [
    {"env_name": "Bad_Name"},
    {"git_url": "git@github.com:gov/x.git"},
    {"stages": []},
    {"building_blocks": ["information-mediator", "identity"]},
    {"building_blocks": ["payments", "messaging"]},  # payments requires the information mediator
    {"sops_age_keys": {"dev": "age1notakey"}},
    {"sops_age_keys": {"qa": "age1y432xsy8kt340n8ecm722ayg98vglrz0llkwd8nkpdgy0mz9395saxptqr"}},
    {"platform": "eks", "storage_backend": "hostPath"},
    {"storage_root": "/srv/../etc"},
    {"storage_backend": "efs", "efs_file_system_id": "fs-XYZ"},
])
def test_invalid_answers_are_refused(tmp_path: Path, answers: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        copy(tmp_path / "env", **answers)
    assert not (tmp_path / "env" / "environment.yaml").exists()


def template_repo(path: Path) -> None:
    """A git repository holding this working tree's template files (what a release tag holds)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    for rel in listed:
        if rel == "copier.yml" or rel.startswith(("template/", "docs/")):
            target = path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, target, follow_symlinks=False)
    assert run(path, "git", "init", "-q").returncode == 0
    commit_all(path, "template")


def test_update_keeps_the_operators_edits_and_brings_the_new_template(tmp_path: Path) -> None:
    template, repo = tmp_path / "template", tmp_path / "env"
    template_repo(template)
    assert run(template, "git", "tag", "v1.0.0").returncode == 0
    copy(repo, src=template, vcs_ref="v1.0.0")
    bootstrap(repo)
    spec = repo / "environment.yaml"
    spec.write_text(spec.read_text().replace("interval: 10m", "interval: 5m"))  # the operator's own change
    assert main(["render", str(spec)]) == 0
    commit_all(repo, "faster reconciliation")
    readme = template / "template" / "README.md.jinja"  # the template's next release
    readme.write_text(readme.read_text() + "\nSee the GovStack operations handbook for runbooks.\n")
    jinja = template / "template" / "environment.yaml.jinja"
    jinja.write_text(jinja.read_text().replace("# One cluster per stage; each stage lists only what differs for it.",
                                               "# One cluster per stage; a stage lists only what differs for it."))
    commit_all(template, "v2")
    assert run(template, "git", "tag", "v2.0.0").returncode == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_update(str(repo), defaults=True, overwrite=True, vcs_ref="v2.0.0", quiet=True)
    text = spec.read_text()
    assert "interval: 5m" in text  # kept
    assert "a stage lists only what differs for it" in text  # arrived
    assert "operations handbook" in (repo / "README.md").read_text()
    assert not list(repo.rglob("*.rej"))
    assert yaml.safe_load((repo / ".copier-answers.yml").read_text())["_commit"] == "v2.0.0"
    assert main(["render", str(spec), "--check"]) == 0


OPERATOR_BLOCK = """\
  - id: archive  # the operator's own building block, written in v1alpha1
    chart: {repo: "https://charts.example.org", name: archive, version: "2.0.1"}
    resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: 500m, memory: 512Mi}}
    volumes:
      - {name: files, size: 5Gi, valuesKey: persistence.existingClaim}
"""


def spec_version_release(template: Path) -> None:
    """Template releases v0.1.0 (it wrote spec govstack.dev/v1alpha1) and v0.2.0 (this working
    tree: v1alpha2, and the migration in copier.yml)."""
    template_repo(template)
    jinja = template / "template" / "environment.yaml.jinja"
    current = jinja.read_text()
    assert "apiVersion: govstack.dev/v1alpha2" in current
    jinja.write_text(current.replace("govstack.dev/v1alpha2", "govstack.dev/v1alpha1"))
    commit_all(template, "0.1.0")
    assert run(template, "git", "tag", "v0.1.0").returncode == 0
    jinja.write_text(current)
    commit_all(template, "0.2.0")
    assert run(template, "git", "tag", "v0.2.0").returncode == 0


def operator_repo(repo: Path, template: Path) -> Path:
    """An environment repository made from v0.1.0, with the operator's own edits committed."""
    copy(repo, src=template, vcs_ref="v0.1.0")
    bootstrap(repo)
    spec = repo / "environment.yaml"
    assert "apiVersion: govstack.dev/v1alpha1" in spec.read_text()
    spec.write_text(spec.read_text().replace("interval: 10m", "interval: 5m") + OPERATOR_BLOCK)
    assert main(["render", str(spec)]) == 0
    commit_all(repo, "faster reconciliation; the archive")
    return spec


@pytest.mark.parametrize("migrated_by_hand", [False, True], ids=["as-written", "migrated-by-hand-before"])
def test_update_across_a_spec_version_migrates_the_operators_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   migrated_by_hand: bool) -> None:
    template, repo = tmp_path / "template", tmp_path / "env"
    spec_version_release(template)
    spec = operator_repo(repo, template)
    if migrated_by_hand:  # the template's migration then finds nothing to do
        assert main(["migrate", str(spec)]) == 0
        commit_all(repo, "govstack-gen migrate")
    tree = {p: p.read_bytes() for p in (repo / "building-blocks").rglob("*") if p.is_file()}
    for name, value in ENV.items():  # the migration runs the govstack-gen of this Python, through PATH
        monkeypatch.setenv(name, value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_update(str(repo), defaults=True, overwrite=True, vcs_ref="v0.2.0", quiet=True, unsafe=True)
    text = spec.read_text()
    assert "apiVersion: govstack.dev/v1alpha2" in text  # the template's side and the operator's agree
    assert "      - {name: files, size: 5Gi, claimKey: persistence.existingClaim}\n" in text  # the operator's block, migrated
    assert "valuesKey" not in text
    assert "interval: 5m" in text  # the operator's edit, kept
    assert "<<<<<<<" not in text and ">>>>>>>" not in text
    assert not list(repo.rglob("*.rej"))
    assert yaml.safe_load((repo / ".copier-answers.yml").read_text())["_commit"] == "v0.2.0"
    capsys.readouterr()
    assert main(["render", str(spec), "--check"]) == 0  # the same tree: a rename changes no rendered byte
    assert "E117" not in capsys.readouterr().err
    assert {p: p.read_bytes() for p in (repo / "building-blocks").rglob("*") if p.is_file()} == tree


def test_update_across_a_spec_version_needs_trust(tmp_path: Path) -> None:
    """Migrations run commands: copier refuses them unless trusted, and then changes nothing."""
    from copier.errors import UnsafeTemplateError

    template, repo = tmp_path / "template", tmp_path / "env"
    spec_version_release(template)
    spec = operator_repo(repo, template)
    before = spec.read_bytes()
    with warnings.catch_warnings(), pytest.raises(UnsafeTemplateError, match="migrations"):
        warnings.simplefilter("ignore")
        run_update(str(repo), defaults=True, overwrite=True, vcs_ref="v0.2.0", quiet=True)
    assert spec.read_bytes() == before
    assert run(repo, "git", "status", "--porcelain").stdout == ""


def test_renovate_sees_every_chart_version_written_in_environment_yaml() -> None:
    """Catalog entries bring their charts; a chart or image written in environment.yaml (a custom
    building block, or an entry's chart pinned there) is what Renovate watches."""
    import json
    import re

    managers = json.loads((ROOT / "template" / "renovate.json").read_text())["customManagers"]
    text = """
  - id: registry
    chart:
      repo: https://charts.example.org
      name: registry
      version: "1.2.3"
  - id: messaging
    chart:
      repo: oci://registry-1.docker.io/bitnamicharts
      name: kafka
      version: "26.2.0"
  - id: payments
    chart:
      git: https://github.com/GovStackWorkingGroup/sandbox-deployment.git
      path: blocks/mifos-payment-hub
      version: v0.1.0
"""
    entries = ROOT / "govstack_gen" / "catalog" / "entries"  # image mappings as the entries (and overrides) write them
    text += (entries / "messaging-3.6.0.yaml").read_text() + (entries / "cache-7.0.11.yaml").read_text()
    found, images = set(), set()
    for manager in managers:
        for pattern in manager["matchStrings"]:
            for m in re.finditer(re.sub(r"\(\?<(\w+)>", r"(?P<\1>", pattern), text):  # JavaScript named groups -> Python
                found.add(m.group("currentValue"))
                if "repository" in m.groupdict():
                    images.add(f"{m.group('registry')}/{m.group('repository')}:{m.group('currentValue')}")
    assert {"1.2.3", "26.2.0", "v0.1.0"} <= found
    assert images == {"docker.io/bitnamilegacy/kafka:3.6.0", "docker.io/bitnamilegacy/redis:7.0.11",
                      "docker.io/bitnamilegacy/jmx-exporter:0.19.0-debian-11-r95"}


def image_pins(values: Any) -> dict[str, Any]:
    """The image mappings (registry, repository, tag) in chart values, nested as they are found."""
    if not isinstance(values, dict):
        return {}
    found = {key: ({k: value[k] for k in ("registry", "repository", "tag")} if {"registry", "repository", "tag"} <= value.keys()
                   else image_pins(value)) for key, value in values.items() if isinstance(value, dict)}
    return {key: value for key, value in found.items() if value}


def test_the_template_pins_what_each_entry_pins() -> None:
    """copier.yml repeats, for environment.yaml and Renovate, each entry's chart and the images its
    values (and its in-chart database's values) set: read here from the entry files themselves."""
    pins = yaml.safe_load((ROOT / "copier.yml").read_text())["catalog_pins"]["default"]
    assert pins
    for name, pin in pins.items():
        entry = yaml.safe_load((ROOT / "govstack_gen" / "catalog" / "entries" / f"{name}-{pin['version']}.yaml").read_text())
        spec = entry["spec"]
        assert pin["chart"] == spec["chart"], name
        assert pin.get("values", {}) == image_pins(spec.get("values")), name
        assert pin.get("databaseValues", {}) == image_pins(spec.get("database", {}).get("inChart", {}).get("values")), name
        commit = "git" in spec["chart"] and re.fullmatch(r"[0-9a-f]{40}", spec["chart"]["version"])
        assert bool(pin.get("branch")) == bool(commit), f"{name}: a chart pinned to a commit names the branch it follows"
    assert any("branch" in pin for pin in pins.values()) and any("values" in pin for pin in pins.values())


def test_the_template_offers_the_catalog_and_knows_its_requirements() -> None:
    """copier.yml's choices, pinned versions and dependency rules are those of the catalog."""
    import ast
    import re

    questions = yaml.safe_load((ROOT / "copier.yml").read_text())
    offered = set(questions["building_blocks"]["choices"].values())
    latest = {e.name: e for e in load_catalog().latest() if e.section == "buildingBlocks"}
    assert offered == set(latest)
    assert {name: pins["version"] for name, pins in questions["catalog_pins"]["default"].items()} == {
        name: latest[name].version for name in offered}
    found = re.search(r"set needs = (\{.*?\}) %\}", questions["building_blocks"]["validator"], re.S)
    assert found
    needs = ast.literal_eval(found[1])
    for name, entry in latest.items():
        required = sorted(other for r in entry.spec.requires.strong for other, e in latest.items()  # type: ignore[union-attr]
                          if other != name and all(e.labels.get(k) == v for k, v in r.match_labels.items()))
        assert sorted(needs.get(name, [])) == required, name


ALL_BLOCKS = ["information-mediator", "messaging", "digital-registries", "cache", "monitoring"]


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_pins_change_nothing_in_the_rendered_tree(tmp_path: Path, engine: str) -> None:
    """The chart and image versions the template repeats are the entries' own: the tree rendered
    from a copier-made spec is the tree rendered from it with those pins taken out."""
    pinned = tmp_path / "pinned"
    copy(pinned, building_blocks=ALL_BLOCKS, gitops_engine=engine)
    spec = yaml.safe_load((pinned / "environment.yaml").read_text())
    taken = 0
    for block in spec["buildingBlocks"]:
        taken += sum(block.pop(key, None) is not None for key in ("chart", "values"))
        taken += block.get("database", {}).pop("inChart", None) is not None
    assert taken == 5 + 3 + 1  # every chart, the three entries' images, the database's image
    unpinned = tmp_path / "unpinned"
    shutil.copytree(pinned, unpinned)
    (unpinned / "environment.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    for repo in (pinned, unpinned):
        assert main(["render", str(repo / "environment.yaml")]) == 0
    files = {p.relative_to(pinned) for p in pinned.rglob("*") if p.is_file()} - {Path("environment.yaml")}
    assert files == {p.relative_to(unpinned) for p in unpinned.rglob("*") if p.is_file()} - {Path("environment.yaml")}
    assert len(files) > 100
    differ = sorted(str(f) for f in files if (pinned / f).read_bytes() != (unpinned / f).read_bytes())
    assert differ == [".govstack-gen/inputs"]  # the digest of the spec, which did change
