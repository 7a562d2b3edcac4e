"""Secrets by reference, values encrypted with SOPS (the real sops and age binaries, built by
scripts/install-tools sops): the rendered .sops.yaml encrypts each stage's files for that stage's
key only, and no render, check or audit lets a plaintext file under secrets/ pass."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from govstack_gen.cli import main
from helpers import EXAMPLES, age_key, read_tree, sops_encrypt, sops_tools

K3S = EXAMPLES / "sandbox-k3s" / "environment.yaml"
SECRET = "secrets/dev/cache/cache-redis.sops.yaml"
REDIS = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cache-redis"}, "stringData": {"password": "correct-horse-battery"}}


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path, Path]:
    """An environment repository rendered from the k3s example with fresh keys: (repo, dev key, prod key)."""
    keys = {}
    for stage in ("dev", "prod"):
        (tmp_path / stage).mkdir()
        keys[stage] = age_key(tmp_path / stage)
    text = K3S.read_text()
    for stage, example_key in (("dev", "age1y432xsy8kt340n8ecm722ayg98vglrz0llkwd8nkpdgy0mz9395saxptqr"),
                               ("prod", "age16awjcr9mhftmpnsu2nvvxnuvkkt028mru5nzkguqd2ccp6wvccxswmr94g")):
        text = text.replace(example_key, keys[stage][1])
    root = tmp_path / "env"
    root.mkdir()
    (root / "environment.yaml").write_text(text)
    assert main(["render", str(root / "environment.yaml")]) == 0
    return root, keys["dev"][0], keys["prod"][0]


def decrypt(root: Path, rel: str, key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(sops_tools() / "sops"), "--decrypt", rel], cwd=root, capture_output=True, text=True, check=False,
                          env=dict(os.environ, SOPS_AGE_KEY_FILE=str(key)))


def test_the_rendered_creation_rules_encrypt_for_the_stage_key_only(repo: tuple[Path, Path, Path]) -> None:
    root, dev, prod = repo
    sops_encrypt(root, SECRET, REDIS)
    encrypted = yaml.safe_load((root / SECRET).read_text())
    assert encrypted["stringData"]["password"].startswith("ENC[AES256_GCM,")
    assert encrypted["metadata"]["name"] == "cache-redis"  # metadata stays readable (encrypted_regex)
    assert yaml.safe_load(decrypt(root, SECRET, dev).stdout)["stringData"]["password"] == "correct-horse-battery"
    assert decrypt(root, SECRET, prod).returncode != 0  # prod's cluster cannot read dev's secrets


def test_an_encrypted_file_passes_and_is_no_longer_asked_for(repo: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, _, _ = repo
    sops_encrypt(root, SECRET, REDIS)
    (root / "environment.yaml").write_text((root / "environment.yaml").read_text().replace("interval: 10m", "interval: 15m"))
    capsys.readouterr()
    assert main(["render", str(root / "environment.yaml")]) == 0
    err = capsys.readouterr().err
    assert f"{SECRET} does not exist yet" not in err
    assert "secrets/prod/cache/cache-redis.sops.yaml does not exist yet" in err
    assert main(["render", str(root / "environment.yaml"), "--check"]) == 0
    assert main(["audit", str(root)]) == 0


def test_a_plaintext_secret_stops_render_check_and_audit(repo: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, _, _ = repo
    (root / SECRET).parent.mkdir(parents=True)
    (root / SECRET).write_text(yaml.safe_dump(REDIS))
    spec = root / "environment.yaml"
    spec.write_text(spec.read_text().replace("interval: 10m", "interval: 15m"))  # a change to render
    before = read_tree(root)
    capsys.readouterr()
    assert main(["render", str(spec)]) == 1
    err = capsys.readouterr().err
    assert f"error[E407]: {root / SECRET}:1:1: no sops metadata: the file is not encrypted" in err
    assert read_tree(root) == before  # nothing written
    assert main(["render", str(spec), "--check"]) == 1
    assert main(["audit", str(root)]) == 1
    assert "E407" in capsys.readouterr().err + capsys.readouterr().out


def test_a_value_edited_in_plaintext_is_found_at_its_line(repo: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, _, _ = repo
    sops_encrypt(root, SECRET, REDIS)
    text = (root / SECRET).read_text()
    line = next(i for i, text_line in enumerate(text.splitlines(), 1) if text_line.strip().startswith("password:"))
    (root / SECRET).write_text(text.replace("password: ENC[", "username: admin\n    password: ENC[", 1))
    capsys.readouterr()
    assert main(["render", str(root / "environment.yaml")]) == 1
    err = capsys.readouterr().err
    assert f"error[E407]: {root / SECRET}:{line}:15: stringData.username: value is not encrypted (no ENC[...])" in err


def test_a_file_must_hold_the_secret_it_is_named_for(repo: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    root, _, _ = repo
    sops_encrypt(root, SECRET, {**REDIS, "metadata": {"name": "other"}})
    capsys.readouterr()
    assert main(["render", str(root / "environment.yaml")]) == 1
    assert "cache-redis.sops.yaml must hold the Secret 'cache-redis'" in capsys.readouterr().err


def test_flux_decrypts_only_in_the_secrets_layer(repo: tuple[Path, Path, Path]) -> None:
    root, _, _ = repo
    layer = yaml.safe_load((root / "clusters/dev/kustomization-cache-secrets.yaml").read_text())
    assert layer["spec"]["decryption"] == {"provider": "sops", "secretRef": {"name": "sops-age"}}
    assert layer["spec"]["path"] == "./secrets/dev/cache" and layer["spec"]["serviceAccountName"] == "bb-cache"
    cache = yaml.safe_load((root / "clusters/dev/kustomization-cache.yaml").read_text())
    assert "decryption" not in cache["spec"] and {"name": "cache-secrets"} in cache["spec"]["dependsOn"]
    # The block's reconciler may write Secrets by name, never list or watch them.
    role = yaml.safe_load((root / "platform/base/cache/role-flux-reconciler.yaml").read_text())
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "update", "patch", "delete"]} in role["rules"]


def test_a_sops_config_not_written_by_us_is_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An environment repository from an older template keeps a hand-made .sops.yaml: left
    alone, with the way forward."""
    (tmp_path / ".sops.yaml").write_text("creation_rules: []\n")
    capsys.readouterr()
    assert main(["render", str(K3S), "--output", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"error[E402]: {tmp_path / '.sops.yaml'}: .sops.yaml exists and was not written by govstack-gen" in err
    assert "put your keys under stages[].sops, then delete this file" in err
    assert (tmp_path / ".sops.yaml").read_text() == "creation_rules: []\n"
