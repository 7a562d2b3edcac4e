"""No secret values in the spec (CHECKLIST B34): the spec and the rendered tree live in git.

Helm values are free-form, so secrets are recognised by what they look like: a literal under a
key that names a secret (password, token, apiKey, clientSecret, ...), a well-known credential
format (AWS access keys, private keys), or a long random-looking string. Keys that point at a
secret instead of holding one (existingSecret, passwordSecretName, secretRef, passwordKey, ...)
are fine: that is how charts take secrets from a Secret the cluster already has.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from govstack_gen.errors import Diagnostic
from govstack_gen.spec.load import SpecDocument
from govstack_gen.spec.model import BuildingBlock, Environment, GitChart, SecretRef
from govstack_gen.spec.types import values_path

__all__ = ["check_secret_refs", "check_secrets", "looks_like_secret"]

Loc = tuple[str | int, ...]

SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "accesskey", "privatekey", "credential", "passphrase")
# Words that make a secret-named key a reference to a secret, or a setting about one.
REFERENCE_WORDS = ("existing", "name", "ref", "key", "file", "path", "enabled", "enable", "length", "policy", "type",
                   "mount", "env", "from", "create", "annotation", "label", "rotation", "ttl", "expir")
KNOWN_FORMATS = (
    (re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}"), "a GitHub token"),
    (re.compile(r"xox[abpr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
)
ENTROPY_MIN_LENGTH = 24
ENTROPY_BITS = 4.5  # per character; hex (at most 4.0) such as digests stays below
NOT_RANDOM = re.compile(r"[a-z]+://|^/|\s|^sha\d+:")


def _normal(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _names_a_secret(key: str) -> bool:
    normal = _normal(key)
    if not any(word in normal for word in SECRET_WORDS):
        return False
    rest = normal
    for word in SECRET_WORDS:
        rest = rest.replace(word, "")
    return not any(word in rest for word in REFERENCE_WORDS)


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def looks_like_secret(key: str, value: Any) -> str:
    """Why this value looks like a secret ("" if it does not)."""
    if not isinstance(value, str) or not value:
        return ""
    for pattern, what in KNOWN_FORMATS:
        if pattern.search(value):
            return f"the value looks like {what}"
    if _names_a_secret(key):
        return f"{key!r} holds a literal secret"
    if len(value) >= ENTROPY_MIN_LENGTH and not NOT_RANDOM.search(value) and _entropy(value) >= ENTROPY_BITS:
        return "the value is a long random-looking string"
    return ""


def _walk(values: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(values, dict):
        for key, value in values.items():
            if isinstance(value, (dict, list)):
                yield from _walk(value, (*loc, key))
            elif reason := looks_like_secret(str(key), value):
                yield (*loc, key), reason
    elif isinstance(values, list):
        for i, item in enumerate(values):
            if isinstance(item, (dict, list)):
                yield from _walk(item, (*loc, i))
            elif reason := looks_like_secret(str(loc[-1]) if loc else "", item):
                yield (*loc, i), reason


HINT = ("never put secret values in the spec: create a Secret (SOPS-encrypted in git, or from an external store) and "
        "point the chart at it, e.g. auth.existingSecret")


def check_secrets(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    places: list[tuple[Loc, Any]] = [(("buildingBlocks", i, "values"), b.values) for i, b in enumerate(env.building_blocks)]
    for s, stage in enumerate(env.stages):
        for block_id, override in stage.building_blocks.items():
            places.append((("stages", s, "buildingBlocks", block_id, "values"), override.values))
    return [doc.diagnostic(loc, "E311", f"plaintext secret in values: {reason}", HINT)
            for base, values in places for loc, reason in _walk(values, base)]


def check_secret_refs(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    """Secret references: unique per building block, and decryptable where they are SOPS files."""
    out = []
    sops_users = []
    for b_index, block in enumerate(env.building_blocks):
        seen: set[str] = set()
        for s_index, ref in enumerate(block.secrets):
            loc: Loc = ("buildingBlocks", b_index, "secrets", s_index)
            if ref.name in seen:
                out.append(doc.diagnostic((*loc, "name"), "E318", f"secret {ref.name!r} is declared twice", "declare each Secret once"))
            seen.add(ref.name)
            if ref.source == "sops":
                sops_users.append(loc)
                if env.gitops.engine != "flux":
                    out.append(doc.diagnostic((*loc, "source"), "E318", "Argo CD does not decrypt SOPS files",
                                              "use source: external (External Secrets Operator, sealed-secrets) with Argo CD"))
            out += _values_from_problems(env, doc, b_index, s_index, ref)
        if env.gitops.engine == "flux":  # Argo CD clones with repository credentials of its own
            out += _chart_credentials(doc, block, ("buildingBlocks", b_index, "chart"))
    if sops_users and env.gitops.engine == "flux":
        for s_index, stage in enumerate(env.stages):
            if stage.sops is None or not (stage.sops.age or stage.sops.kms):
                out.append(doc.diagnostic(("stages", s_index, "name"), "E318",
                                          f"stage {stage.name!r} has SOPS secrets but no key to encrypt them for",
                                          "add sops: {age: [<the stage cluster's age public key>]} (or kms: [<key ARN>]) to the stage",
                                          related=tuple(sops_users[:1])))
    return out


def _chart_credentials(doc: SpecDocument, block: BuildingBlock, loc: Loc) -> list[Diagnostic]:
    """A git chart's clone credentials: a Secret the building block declares (so it reaches
    the namespace its source lives in), and one at all for ssh://, where nothing clones without
    a key (the environment repository's deploy key is in flux-system, out of the source's reach)."""
    chart = block.chart
    if not isinstance(chart, GitChart):
        return []
    if chart.secret_ref is None:
        if not chart.git.startswith("ssh://"):
            return []
        return [doc.diagnostic((*loc, "git"), "E318", "an ssh:// chart repository needs credentials to clone",
                               f"add chart.secretRef: <Secret> and declare it under the secrets of {block.id!r} (identity and "
                               "known_hosts, as `flux create secret git --export` writes them), or use its https:// URL")]
    if chart.secret_ref not in {s.name for s in block.secrets}:
        return [doc.diagnostic((*loc, "secretRef"), "E318", f"chart secret {chart.secret_ref!r} is not declared under secrets",
                               f"add secrets: [{{name: {chart.secret_ref}}}] to {block.id!r} (its values stay out of the spec)")]
    return []


def _values_from_problems(env: Environment, doc: SpecDocument, b_index: int, s_index: int, ref: SecretRef) -> list[Diagnostic]:
    """A Secret's keys handed to chart values: only Flux can (valuesFrom), only keys the Secret
    declares, and never a value the spec also sets (Flux merges spec.values over valuesFrom, so
    the literal would win)."""
    if not ref.values_from:
        return []
    loc: Loc = ("buildingBlocks", b_index, "secrets", s_index, "valuesFrom")
    if env.gitops.engine != "flux":
        return [doc.diagnostic(loc, "E318", f"secret {ref.name!r}: Argo CD cannot pass a Secret's keys into chart values",
                               "use Flux (HelmRelease valuesFrom), or a chart that reads an existing Secret (existingSecret)")]
    out = []
    block = env.building_blocks[b_index]
    places = [(("buildingBlocks", b_index, "values"), block.values)] + [
        (("stages", i, "buildingBlocks", block.id, "values"), stage.building_blocks[block.id].values)
        for i, stage in enumerate(env.stages) if block.id in stage.building_blocks]
    for values_key, secret_key in ref.values_from.items():
        if secret_key not in ref.keys:
            close = difflib.get_close_matches(secret_key, ref.keys, n=1)
            out.append(doc.diagnostic((*loc, values_key), "E318", f"secret {ref.name!r} has no key {secret_key!r} to pass to "
                                      f"{values_key!r}", f"did you mean {close[0]!r}?" if close
                                      else f"add {secret_key!r} to the Secret's keys"))
        for where, values in places:
            if _has_path(values, values_path(values_key)):
                out.append(doc.diagnostic((*where, *values_path(values_key)), "E318", f"{values_key!r} is set in values and "
                                          f"passed from secret {ref.name!r}: the literal would win",
                                          "remove it from values; the Secret's key is what the chart gets"))
    return out


def _has_path(values: Any, path: list[str]) -> bool:
    for part in path:
        if not isinstance(values, dict) or part not in values:
            return False
        values = values[part]
    return True
