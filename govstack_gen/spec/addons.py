"""Rules of the add-ons the spec asks for (E619): each add-on's settings apply only where the
add-on is used, a provided add-on takes no installation settings, and what an installed one needs
from the spec (an IAM role, an issuer's solver, EKS for Karpenter) is there, and Karpenter's
strings hold no placeholder but ${environment} and ${stage}."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic.alias_generators import to_camel

from govstack_gen.errors import Diagnostic
from govstack_gen.spec.load import SpecDocument
from govstack_gen.spec.model import AddOn, EfsBackend, Environment
from govstack_gen.spec.placeholders import ENVIRONMENT, STAGE

__all__ = ["KARPENTER_RESTRICTED_DOMAINS", "check_addons"]

# Label domains Karpenter refuses in a NodePool's template (they are its own or the kubelet's).
KARPENTER_RESTRICTED_DOMAINS = ("kubernetes.io", "k8s.io", "karpenter.sh", "karpenter.k8s.aws")

Loc = tuple[str | int, ...]
PLACEHOLDER = re.compile(r"\$\{[^}]*\}?")


def check_addons(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    return [*_efs_driver(env, doc), *_rds_controller(env, doc), *_cert_manager(env, doc), *_karpenter(env, doc)]


def _provided_with(doc: SpecDocument, addon: AddOn, loc: Loc, name: str, fields: tuple[str, ...]) -> list[Diagnostic]:
    """A provided add-on with settings only an installed one reads."""
    if not addon.provided:
        return []
    return [doc.diagnostic((*loc, to_camel(f)), "E619", f"{name} is provided by the cluster, but its {to_camel(f)} is set",
                           f"nothing is installed when {name} is provided: remove {to_camel(f)} (or provided)")
            for f in fields if getattr(addon, f) is not None]


def _efs_driver(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    storage = env.storage
    if storage is None or "efs_csi_driver" not in storage.model_fields_set:
        return []
    loc = ("storage", "efsCsiDriver")
    if not any(isinstance(b, EfsBackend) for b in storage.backends):
        return [doc.diagnostic(loc, "E619", "storage.efsCsiDriver is set, but no storage backend is efs",
                               "the driver is installed only where an efs backend needs it: remove efsCsiDriver")]
    return _provided_with(doc, storage.efs_csi_driver, loc, "the EFS CSI driver", ("chart",))


def _rds_controller(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    controller, loc = env.platform.rds_controller, ("platform", "rdsController")
    used = any(b.database is not None and b.database.placement == "rds" for b in env.building_blocks)
    written = "rds_controller" in env.platform.model_fields_set
    if not used:
        return [doc.diagnostic(loc, "E619", "platform.rdsController is set, but no database is placed on RDS",
                               "the ACK RDS controller is installed only for databases with placement: rds: remove "
                               "rdsController")] if written else []
    if controller.provided:
        return _provided_with(doc, controller, loc, "the ACK RDS controller", ("chart", "role_arn"))
    if controller.role_arn is None and env.platform.type == "eks":  # elsewhere RDS itself is refused (E316)
        where: Loc = loc if written else ("platform",)
        return [doc.diagnostic(where, "E619", "the ACK RDS controller needs the IAM role of its service account",
                               "add platform.rdsController.roleArn (a role trusted by the cluster's OIDC provider for "
                               "ack-system:ack-rds-controller, allowed to manage RDS), or provided: true when the cluster "
                               "has the controller")]
    return []


def _cert_manager(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    ingress = env.ingress
    if ingress is None or ingress.cert_manager is None:
        return []
    manager, loc = ingress.cert_manager, ("ingress", "certManager")
    if ingress.tls_secret is None:
        return [doc.diagnostic(loc, "E619", "ingress.certManager is set, but there is no ingress.tlsSecret for it to issue",
                               "set tlsSecret (the Secret the routes serve), or remove certManager (routes with a "
                               "certResolver get their certificates from Traefik)")]
    out = _provided_with(doc, manager, loc, "cert-manager", ("chart", "role_arn"))
    if manager.issuer is None:
        out.append(doc.diagnostic(loc, "E619", "cert-manager has no issuer for tlsSecret",
                                  "add issuer: {email, route53: {region, hostedZoneId}}"))
    elif manager.issuer.route53 is None:
        out.append(doc.diagnostic((*loc, "issuer"), "E619", "the issuer has no ACME challenge solver",
                                  "add route53: {region, hostedZoneId}: cert-manager answers DNS-01 challenges in the stage "
                                  "domains' hosted zone"))
    return out


def _karpenter(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    worker = env.platform.node_pools.worker
    if worker.karpenter is None:
        return []
    loc = ("platform", "nodePools", "worker")
    out = []
    if env.platform.type != "eks":
        out.append(doc.diagnostic((*loc, "karpenter"), "E619", f"Karpenter provisions EC2 nodes: this platform is {env.platform.type}",
                                  "remove karpenter (it needs platform.type: eks)"))
    for path, text in _strings(worker.karpenter.model_dump(by_alias=True, exclude_defaults=True)):
        unknown = sorted({m for m in PLACEHOLDER.findall(text) if m not in (ENVIRONMENT, STAGE)})
        if unknown:
            out.append(doc.diagnostic((*loc, "karpenter", *path), "E619", f"unknown placeholder {', '.join(unknown)} in {text!r}",
                                      f"the karpenter section knows {ENVIRONMENT} and {STAGE} only: write the value out"))
    for key in sorted(worker.labels):
        domain = key.split("/", 1)[0] if "/" in key else ""
        if any(domain == d or domain.endswith(f".{d}") for d in KARPENTER_RESTRICTED_DOMAINS):
            out.append(doc.diagnostic((*loc, "labels", key), "E619", f"label {key!r} is in a domain Karpenter refuses in a NodePool",
                                      "Karpenter keeps kubernetes.io, k8s.io and its own domains for itself: choose a label "
                                      "of your own domain (e.g. node-type or govstack.dev/pool)", key=True))
    return out


def _strings(node: Any, path: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every string of a dumped section, with its path."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*path, index))
