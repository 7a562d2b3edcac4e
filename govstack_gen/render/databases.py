"""Databases on Amazon RDS, through the ACK RDS controller (rds.services.k8s.aws).

Per stage (one cluster and, usually, one AWS account each) a building block whose database is
placed on RDS gets, in its stage folder: a DBSubnetGroup, the DBInstance, and two FieldExports
that copy the instance's endpoint address and port into a ConfigMap, from which Flux
`valuesFrom` passes them to the chart. The instance is never deleted by a render or a prune:
deletion protection in AWS, ACK's `retain` deletion policy, and the engine's keep annotation.
The master password comes from a Secret the operator keeps (SOPS or external), never the spec.
"""

from __future__ import annotations

import math
from typing import Any

from govstack_gen.render import k8s
from govstack_gen.resolve import Block, Resolved
from govstack_gen.spec.model import Database
from govstack_gen.spec.types import parse_quantity

__all__ = ["RDS_API", "connection_config_map", "database_objects", "values_from"]

RDS_API = "rds.services.k8s.aws/v1alpha1"
ACK_API = "services.k8s.aws/v1alpha1"
ACK_DELETION_POLICY = "services.k8s.aws/deletion-policy"
ACK_REGION = "services.k8s.aws/region"
GIB = 1024**3
ENDPOINT = {"host": ".status.endpoint.address", "port": ".status.endpoint.port"}


def connection_config_map(block: Block) -> str:
    return f"{block.id}-database"


def identifier(env: Resolved, stage: str, block: Block) -> str:
    """The instance's name in the AWS account: unique per environment, stage and building block."""
    return f"{env.name}-{stage}-{block.id}"


def _tags(env: Resolved, stage: str, block: Block) -> list[dict[str, str]]:
    return [{"key": "govstack.dev/building-block", "value": block.id}, {"key": "govstack.dev/environment", "value": env.name},
            {"key": "govstack.dev/stage", "value": stage}, {"key": "managed-by", "value": "govstack-gen"}]


def database_objects(env: Resolved, stage: str, block: Block) -> list[dict[str, Any]]:
    """The ACK objects of a building block's RDS database in one stage ([] unless on RDS)."""
    db = block.rds
    aws = env.aws
    if db is None or aws is None or db.credentials is None:
        return []  # the spec checks refuse rds without these (E316)
    labels = k8s.labels(env, block.id, stage)
    name = identifier(env, stage, block)
    subnet_group = {
        "apiVersion": RDS_API,
        "kind": "DBSubnetGroup",
        "metadata": k8s.metadata(block.id, block.namespace, labels, {ACK_REGION: aws.region}),
        "spec": {"name": name, "description": f"GovStack {env.name} {stage}: {block.id}",
                 "subnetIDs": list(aws.database_subnet_ids), "tags": _tags(env, stage, block)},
    }
    keep = {ACK_DELETION_POLICY: "retain", ACK_REGION: aws.region, **k8s.protected(env)}
    instance = {
        "apiVersion": RDS_API,
        "kind": "DBInstance",
        "metadata": k8s.metadata(block.id, block.namespace, labels, keep),
        "spec": _instance_spec(db, block, name, list(aws.database_security_group_ids)) | {"tags": _tags(env, stage, block)},
    }
    exports = [_field_export(env, stage, block, key, path) for key, path in ENDPOINT.items()]
    target = {"apiVersion": "v1", "kind": "ConfigMap",  # FieldExport writes into an existing ConfigMap
              "metadata": k8s.metadata(connection_config_map(block), block.namespace, labels)}
    return [subnet_group, instance, *exports, target]


def _instance_spec(db: Database, block: Block, name: str, security_groups: list[str]) -> dict[str, Any]:
    assert db.credentials is not None
    return {
        "allocatedStorage": math.ceil(parse_quantity(db.size) / GIB),
        "autoMinorVersionUpgrade": True,
        "backupRetentionPeriod": db.rds.backup_retention_days,
        "copyTagsToSnapshot": True,
        "dbInstanceClass": db.rds.instance_class,
        "dbInstanceIdentifier": name,
        "dbSubnetGroupRef": {"from": {"name": block.id}},
        "deletionProtection": True,
        "engine": db.engine,
        "engineVersion": db.version,
        "masterUserPassword": {"key": db.credentials.password_key, "name": db.credentials.secret, "namespace": block.namespace},
        "masterUsername": db.credentials.username,
        "multiAZ": db.rds.multi_az,
        "publiclyAccessible": False,
        "storageEncrypted": True,
        "storageType": db.rds.storage_type,
        "vpcSecurityGroupIDs": security_groups,
    }


def _field_export(env: Resolved, stage: str, block: Block, key: str, path: str) -> dict[str, Any]:
    return {
        "apiVersion": ACK_API,
        "kind": "FieldExport",
        "metadata": k8s.metadata(f"{block.id}-database-{key}", block.namespace, k8s.labels(env, block.id, stage)),
        "spec": {
            "from": {"path": path, "resource": {"group": "rds.services.k8s.aws", "kind": "DBInstance", "name": block.id}},
            "to": {"key": key, "kind": "configmap", "name": connection_config_map(block), "namespace": block.namespace},
        },
    }


def values_from(block: Block) -> list[dict[str, Any]]:
    """Flux HelmRelease valuesFrom entries passing the RDS endpoint to the chart."""
    db = block.rds
    if db is None or db.external is None:
        return []
    name = connection_config_map(block)
    out = [{"kind": "ConfigMap", "name": name, "targetPath": db.external.host_key, "valuesKey": "host"},
           {"kind": "ConfigMap", "name": name, "targetPath": db.external.port_key, "valuesKey": "port"}]
    if db.external.password_key and db.credentials:
        out.append({"kind": "Secret", "name": db.credentials.secret, "targetPath": db.external.password_key,
                    "valuesKey": db.credentials.password_key})
    return out
