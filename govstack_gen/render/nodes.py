"""The worker pool's capacity on EKS: a Karpenter NodePool and its EC2NodeClass per stage
(platform/<stage>/), when the spec gives the pool a `karpenter` section. The NodePool's nodes
carry exactly the pool's labels and taints, which the building blocks' placement patches select
and tolerate; the controller itself is the cluster's (it needs its IAM role, its interruption
queue, and nodes of its own outside the pool it provisions)."""

from __future__ import annotations

from typing import Any

from govstack_gen.render import k8s
from govstack_gen.resolve import Resolved, ResolvedStage
from govstack_gen.spec.model import Karpenter
from govstack_gen.spec.placeholders import ENVIRONMENT, STAGE, substitute

__all__ = ["EC2_NODE_CLASS_API", "NODE_POOL_API", "WORKER", "worker_capacity"]

NODE_POOL_API = "karpenter.sh/v1"
EC2_NODE_CLASS_API = "karpenter.k8s.aws/v1"
WORKER = "worker"  # the NodePool's and the EC2NodeClass's name
DISCOVERY_TAG = "karpenter.sh/discovery"  # the tag Karpenter's getting-started guide puts on subnets and groups


def worker_capacity(env: Resolved, stage: ResolvedStage) -> list[dict[str, Any]]:
    karpenter = env.node_pools.worker.karpenter
    if karpenter is None:
        return []
    names = {ENVIRONMENT: env.name, STAGE: stage.name}
    return [_node_pool(env, stage, karpenter), _node_class(env, stage, substitute(karpenter.model_dump(by_alias=False), names))]


def _node_pool(env: Resolved, stage: ResolvedStage, karpenter: Karpenter) -> dict[str, Any]:
    pool = env.node_pools.worker
    requirements = [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(karpenter.capacity_types)},
                    {"key": "kubernetes.io/arch", "operator": "In", "values": list(karpenter.architectures)},
                    {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]
    if karpenter.instance_families:
        requirements.append({"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(karpenter.instance_families)})
    if karpenter.instance_sizes:
        requirements.append({"key": "karpenter.k8s.aws/instance-size", "operator": "In", "values": list(karpenter.instance_sizes)})
    node: dict[str, Any] = {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": WORKER}}
    if pool.taints:
        node["taints"] = [{"key": t.key, **({"value": t.value} if t.value else {}), "effect": t.effect} for t in pool.taints]
    node["requirements"] = requirements
    spec: dict[str, Any] = {"template": {"metadata": {"labels": dict(sorted(pool.labels.items()))}, "spec": node}}
    limits = {k: v for k, v in (("cpu", karpenter.limits.cpu), ("memory", karpenter.limits.memory)) if v is not None}
    if limits:
        spec["limits"] = limits
    spec["disruption"] = {"consolidationPolicy": karpenter.disruption.consolidation_policy,
                          "consolidateAfter": karpenter.disruption.consolidate_after,
                          "budgets": [{"nodes": karpenter.disruption.budget}]}
    return {"apiVersion": NODE_POOL_API, "kind": "NodePool", "metadata": k8s.metadata(WORKER, None, k8s.labels(env, stage=stage.name)),
            "spec": spec}


def _node_class(env: Resolved, stage: ResolvedStage, karpenter: dict[str, Any]) -> dict[str, Any]:
    """`karpenter`: the section's fields with ${environment} and ${stage} replaced."""
    selector = [{"tags": {DISCOVERY_TAG: karpenter["discovery"]}}]
    return {
        "apiVersion": EC2_NODE_CLASS_API,
        "kind": "EC2NodeClass",
        "metadata": k8s.metadata(WORKER, None, k8s.labels(env, stage=stage.name)),
        "spec": {
            "role": karpenter["node_role"],
            "amiSelectorTerms": [{"alias": karpenter["ami_alias"]}],
            "subnetSelectorTerms": selector,
            "securityGroupSelectorTerms": [dict(t) for t in selector],
            # IMDSv2 only, and out of pods' reach (one hop): pods use their own IAM roles.
            "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
            "tags": {"govstack.dev/environment": env.name, "govstack.dev/stage": stage.name},
        },
    }
