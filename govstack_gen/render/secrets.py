"""Secrets as references: the spec names them, the operator keeps their values encrypted with
SOPS in `secrets/<stage>/<building block>/<name>.sops.yaml` (or outside git: `source: external`).

Rendered: `.sops.yaml`, whose creation rules encrypt each stage's files for that stage's keys
only, and for Flux one Kustomization per building block and stage that applies its folder with
`decryption: {provider: sops}`, as the building block's own reconciler, before the building
block (its chart finds the Secret in place). Only those Kustomizations can decrypt.
"""

from __future__ import annotations

from typing import Any

from govstack_gen.render import layout
from govstack_gen.resolve import Block, Resolved, ResolvedStage

__all__ = ["DECRYPTION_SECRET", "decryption", "secrets_layer_name", "sops_blocks", "sops_config"]

# The Secret in flux-system holding the cluster's age private key (`flux create secret` style,
# key age.agekey); a stage with KMS keys only needs none: the controller's IAM role decrypts.
DECRYPTION_SECRET = "sops-age"


def sops_blocks(env: Resolved) -> list[Block]:
    return [b for b in env.blocks if b.sops_secrets]


def secrets_layer_name(block: Block) -> str:
    return f"{block.id}-secrets"


def decryption(stage: ResolvedStage) -> dict[str, Any]:
    out: dict[str, Any] = {"provider": "sops"}
    if stage.sops is not None and stage.sops.age:
        out["secretRef"] = {"name": DECRYPTION_SECRET}
    return out


def sops_config(env: Resolved) -> dict[str, Any] | None:
    """`.sops.yaml` for the stages that name keys (None when none does)."""
    rules = []
    for stage in env.stages:
        if stage.sops is None or not (stage.sops.age or stage.sops.kms):
            continue
        rule: dict[str, Any] = {
            "path_regex": rf"^{layout.SECRETS_DIR}/{stage.name}/[^/]+/[^/]+\.sops\.yaml$",
            "encrypted_regex": "^(data|stringData)$",  # metadata stays readable for review and kustomize
        }
        if stage.sops.age:
            rule["age"] = ",".join(stage.sops.age)
        if stage.sops.kms:
            rule["kms"] = ",".join(stage.sops.kms)
        rules.append(rule)
    return {"creation_rules": rules} if rules else None
