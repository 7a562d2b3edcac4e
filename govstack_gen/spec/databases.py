"""Where each building block's database runs, and what that placement needs.

`in-chart`: the chart runs the database itself, on a static volume of ours (named `database`, so
its directory is as predictable as any other volume's, and refused on network file systems).
`rds`: Amazon RDS through the ACK RDS controller, on EKS only; the chart is pointed at it through
Flux `valuesFrom` (the endpoint is known only once AWS has created the instance).
"""

from __future__ import annotations

from govstack_gen.errors import Diagnostic
from govstack_gen.spec.load import Loc, SpecDocument
from govstack_gen.spec.model import BuildingBlock, Environment
from govstack_gen.spec.types import parse_quantity

MIN_RDS_STORAGE = parse_quantity("20Gi")

__all__ = ["check_databases"]


def check_databases(env: Environment, doc: SpecDocument) -> list[Diagnostic]:
    out = []
    for index, block in enumerate(env.building_blocks):
        if block.database is not None:
            out += _database(env, doc, block, ("buildingBlocks", index, "database"))
    return out


def _database(env: Environment, doc: SpecDocument, block: BuildingBlock, loc: Loc) -> list[Diagnostic]:
    db = block.database
    assert db is not None
    out = []
    secrets = {s.name for s in block.secrets}
    if db.credentials and db.credentials.secret not in secrets:
        out.append(doc.diagnostic((*loc, "credentials", "secret"), "E318",
                                  f"credentials secret {db.credentials.secret!r} is not declared under secrets",
                                  f"add secrets: [{{name: {db.credentials.secret}}}] to {block.id!r} (its values stay out of the spec)"))
    if db.placement == "in-chart":
        if db.in_chart is None:
            out.append(doc.diagnostic((*loc, "placement"), "E316", f"{block.id!r} places its database in the chart, but how the chart "
                                      "takes the volume is not said", "add inChart: {claimKey: <the chart value taking the claim name>}"))
        return out
    if env.platform.type != "eks":
        out.append(doc.diagnostic((*loc, "placement"), "E316", f"placement rds needs EKS; this platform is {env.platform.type}",
                                  "RDS is provisioned by the ACK RDS controller in an AWS account: on k3s use placement: in-chart "
                                  "(the database then lives on a static volume of the node)"))
        return out
    if env.platform.aws is None:
        out.append(doc.diagnostic((*loc, "placement"), "E316", "placement rds needs the AWS details of the platform",
                                  "add platform.aws: {region, databaseSubnetIds, databaseSecurityGroupIds}"))
    if env.gitops.engine != "flux":
        out.append(doc.diagnostic((*loc, "placement"), "E316", "placement rds needs Flux",
                                  "the chart learns the RDS endpoint through Flux valuesFrom, which Argo CD has no counterpart "
                                  "for; use placement: in-chart, or an external database whose host you set in values"))
    if db.external is None:
        out.append(doc.diagnostic((*loc, "placement"), "E316", f"{block.id!r} places its database on RDS, but how the chart takes "
                                  "an external database is not said", "add external: {hostKey: ..., portKey: ..., secretKey: ...}"))
    if db.credentials is None:
        out.append(doc.diagnostic((*loc, "placement"), "E316", "an RDS database needs its master password from a Secret",
                                  "add credentials: {secret: <name>} and declare that Secret under secrets"))
    if parse_quantity(db.size) < MIN_RDS_STORAGE:
        out.append(doc.diagnostic((*loc, "size"), "E316", f"RDS allocates at least 20Gi of gp2/gp3 storage, not {db.size}",
                                  "set size: 20Gi or more"))
    if not block.network.egress_cidrs:
        out.append(doc.diagnostic((*loc, "placement"), "E316", f"{block.id!r} could not reach its RDS database: its network "
                                  "policies deny traffic leaving the cluster", "add network.egressCidrs with the database "
                                  "subnets' CIDRs (RDS lives in the VPC, outside the cluster's pod network)"))
    return out
