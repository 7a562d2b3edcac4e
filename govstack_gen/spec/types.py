"""Reusable constrained types of the spec language.

Each type is a plain `str` (or `int`) with an `AfterValidator` that raises a
`PydanticCustomError` whose type is `gsg_<code>`: the loader turns that into a coded
diagnostic with the message and the hint carried in the error context. `WithJsonSchema`
gives editors the same rule as a JSON Schema pattern, so completion and validation in the
editor agree with the tool.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from govstack_gen.spec.paths import repo_path

__all__ = [
    "BuildingBlockId",
    "ChartName",
    "ChartRepoUrl",
    "ChartVersion",
    "ClaimName",
    "DnsLabel",
    "Domain",
    "Duration",
    "EfsAccessPoint",
    "EfsId",
    "GitRevision",
    "GitUrl",
    "HostPath",
    "LabelKey",
    "LabelValue",
    "NfsServer",
    "Quantity",
    "RelativePath",
    "RepoPath",
    "ServiceUrl",
    "ValuesKey",
    "is_commit",
    "parse_quantity",
]

DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_LABEL_PATTERN = DNS_LABEL_RE.pattern
# Helm refuses release names longer than 53 characters; we use the building block id as the
# release name, so the id carries that limit (helm-controller would otherwise hash the name).
HELM_RELEASE_MAX = 53


def fail(code: str, message: str, hint: str = "") -> PydanticCustomError:
    return PydanticCustomError(f"gsg_{code}", "{message}", {"message": message, "hint": hint})


def _dns_label(max_len: int, what: str):  # type: ignore[no-untyped-def]
    def check(value: str) -> str:
        if not value:
            raise fail("E205", f"{what} must not be empty", f"use lowercase letters, digits and '-' ({DNS_LABEL_PATTERN})")
        if len(value) > max_len:
            raise fail(
                "E205",
                f"{what} {value!r} is {len(value)} characters long, the limit is {max_len}",
                "shorten it; names are never truncated, so they stay predictable",
            )
        if not DNS_LABEL_RE.match(value):
            suggestion = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
            hint = f"must match {DNS_LABEL_PATTERN} (RFC 1123 label, at most {max_len} characters)"
            if suggestion and DNS_LABEL_RE.match(suggestion):
                hint += f"; for example {suggestion!r}"
            raise fail("E205", f"{what} {value!r} is not a valid RFC 1123 label", hint)
        return value

    return check


def _label_schema(max_len: int, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {"type": "string", "pattern": DNS_LABEL_PATTERN, "minLength": 1, "maxLength": max_len, "description": description}
    )


DnsLabel = Annotated[str, AfterValidator(_dns_label(63, "name")), _label_schema(63, "RFC 1123 label")]
# A claim a chart creates itself (a StatefulSet's are <template>-<statefulset>-<ordinal>).
# The editor schema sees the spec as written, before `${block.id}` is replaced.
ClaimName = Annotated[
    str,
    AfterValidator(_dns_label(253, "claim name")),
    WithJsonSchema({"type": "string", "pattern": r"^(?:[a-z0-9]|\$\{block\.id\})(?:[-a-z0-9]|\$\{block\.id\})*$",
                    "minLength": 1, "maxLength": 253, "description": "a PersistentVolumeClaim name; ${block.id} is replaced"}),
]
BuildingBlockId = Annotated[
    str,
    AfterValidator(_dns_label(HELM_RELEASE_MAX, "building block id")),
    _label_schema(HELM_RELEASE_MAX, "RFC 1123 label, at most 53 characters (the Helm release name)"),
]

# Exact semantic versions only: a range (">=1.0", "^1.2", "1.x", "*") lets the cluster move
# to a new chart without a commit, which defeats review and reproducibility.
SEMVER_RE = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


def _chart_version(value: str) -> str:
    if not SEMVER_RE.match(value):
        raise fail(
            "E206",
            f"chart version {value!r} is not an exact semantic version",
            "pin an exact version such as \"1.4.2\" (quoted); ranges, 'latest' and '*' upgrade without review",
        )
    return value


ChartVersion = Annotated[
    str,
    AfterValidator(_chart_version),
    WithJsonSchema({"type": "string", "pattern": SEMVER_RE.pattern, "description": "exact semantic version, e.g. 1.4.2"}),
]

GIT_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")

# A release tag: a semantic version, alone (v1.4.2) or after the chart's name, as repositories
# of many charts tag them (chart-releaser's prometheus-25.27.0, Bitnami's kafka/26.2.0).
GIT_TAG_RE = re.compile(r"^(?:[a-z0-9][a-z0-9._-]*[-/])?(v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                        r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)$")


def is_commit(revision: str) -> bool:
    """A full git commit SHA (what a git chart source may pin instead of a tag)."""
    return bool(GIT_COMMIT_RE.match(revision))


def tag_version(revision: str) -> str | None:
    """The semantic version a release tag names, without its chart name and leading v
    (`kafka/26.2.0` -> 26.2.0); None for a commit."""
    match = GIT_TAG_RE.match(revision)
    return match.group(1).removeprefix("v") if match else None


def _git_revision(value: str) -> str:
    if is_commit(value) or GIT_TAG_RE.match(value):
        return value
    raise fail(
        "E206",
        f"git revision {value!r} is neither an exact semantic-version tag nor a full commit SHA",
        "pin a release tag such as \"v1.4.2\" (or the chart's, \"mychart-1.4.2\"), or the 40-character commit; "
        "branches and short SHAs move or are ambiguous",
    )


GitRevision = Annotated[
    str,
    AfterValidator(_git_revision),
    WithJsonSchema({"type": "string", "pattern": f"(?:{GIT_TAG_RE.pattern})|(?:{GIT_COMMIT_RE.pattern})",
                    "description": "a semantic-version tag (v1.4.2, or a chart's: mychart-1.4.2, mychart/1.4.2) "
                                   "or a full commit SHA"}),
]

CHART_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")


def _chart_name(value: str) -> str:
    if not CHART_NAME_RE.match(value) or len(value) > 250:
        raise fail("E205", f"chart name {value!r} is not valid", f"chart names match {CHART_NAME_RE.pattern}")
    return value


ChartName = Annotated[str, AfterValidator(_chart_name), WithJsonSchema({"type": "string", "pattern": CHART_NAME_RE.pattern})]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(value: str, schemes: tuple[str, ...], what: str) -> str:
    parts = urlsplit(value)
    shown = "', '".join(f"{s}://" for s in schemes)
    if parts.scheme not in schemes and not (parts.scheme == "http" and _is_loopback(parts.hostname or "")):
        hint = f"use '{shown}'"
        if parts.scheme == "http":
            hint += "; plain http is only accepted for a loopback test server"
        if re.match(r"^[\w.-]+@[\w.-]+:", value):
            hint = "Flux needs the ssh:// form, e.g. ssh://git@github.com/org/repo.git"
        raise fail("E207", f"{what} {value!r} has an unsupported scheme", hint)
    if not parts.hostname:
        raise fail("E207", f"{what} {value!r} has no host", f"write it as {schemes[0]}://host/path")
    if parts.password is not None or (parts.username and parts.scheme != "ssh"):
        raise fail("E207", f"{what} must not contain credentials", "credentials belong in a Secret, never in the spec")
    if parts.query or parts.fragment:
        raise fail("E207", f"{what} {value!r} must not have a query or fragment", "remove everything after '?' or '#'")
    if any(c.isspace() for c in value):
        raise fail("E207", f"{what} {value!r} contains white space", "remove the spaces")
    return value.rstrip("/")


def _chart_repo_url(value: str) -> str:
    return _url(value, ("https", "oci"), "chart repository URL")


def _git_url(value: str) -> str:
    return _url(value, ("https", "ssh"), "git URL")


ChartRepoUrl = Annotated[
    str,
    AfterValidator(_chart_repo_url),
    WithJsonSchema({
        "type": "string",
        "pattern": r"^(https|oci|http)://",
        "description": "Helm repository (https://) or OCI registry path (oci://)",
    }),
]
GitUrl = Annotated[
    str,
    AfterValidator(_git_url),
    WithJsonSchema({"type": "string", "pattern": r"^(https|ssh|http)://", "description": "git repository URL (https:// or ssh://)"}),
]


def _service_url(value: str) -> str:
    return _url(value, ("https",), "service URL")


ServiceUrl = Annotated[
    str,
    AfterValidator(_service_url),
    WithJsonSchema({"type": "string", "pattern": r"^https://", "description": "address of a service outside the cluster (https://)"}),
]


def _repo_path(value: str) -> str:
    canonical = repo_path(value)
    if canonical is None:
        raise fail(
            "E211",
            f"path {value!r} is not a canonical relative path",
            "use a relative path inside the repository such as 'charts/payments' (no '..', '//', trailing '/' or leading '/')",
        )
    return canonical


RepoPath = Annotated[
    str,
    AfterValidator(_repo_path),
    WithJsonSchema({"type": "string", "description": "relative path inside a git repository"}),
]

DURATION_RE = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")


def _duration(value: str) -> str:
    if not DURATION_RE.match(value):
        raise fail("E209", f"duration {value!r} is not valid", "use a Go duration such as 30s, 10m or 1h30m")
    return value


Duration = Annotated[str, AfterValidator(_duration), WithJsonSchema({"type": "string", "pattern": DURATION_RE.pattern})]

DOMAIN_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _domain(value: str) -> str:
    labels = value.split(".")
    ok = (
        len(value) <= 253
        and len(labels) >= 2
        and all(len(label) <= 63 and DOMAIN_LABEL_RE.match(label) for label in labels)
        and not labels[-1].isdigit()
    )
    if not ok:
        hint = "use a lowercase DNS name such as dev.sandbox.example.org"
        if value.endswith("."):
            hint = "drop the trailing dot"
        raise fail("E210", f"{value!r} is not a valid domain name", hint)
    return value


Domain = Annotated[
    str,
    BeforeValidator(_lower),  # DNS names are case-insensitive: normalise instead of refusing
    AfterValidator(_domain),
    WithJsonSchema({"type": "string", "format": "hostname", "description": "DNS name, e.g. dev.sandbox.example.org"}),
]

# Kubernetes resource quantities (apimachinery resource.Quantity), without signs.
# Numbered groups only (1: the number, 2: the suffix): the pattern goes into the JSON Schema,
# whose patterns are ECMA-262 regular expressions, where (?P<name>...) is a syntax error.
QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal("1e3"),
            "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"), "E": Decimal("1e18")}


def parse_quantity(value: str) -> Decimal:
    """'500m' -> Decimal('0.5'); '1Gi' -> Decimal(1073741824). Raises ValueError if invalid."""
    match = QUANTITY_RE.match(value)
    if not match:
        raise ValueError(value)
    num = Decimal(match[1])
    suffix = match[2] or ""
    if suffix in _BINARY:
        return num * _BINARY[suffix]
    if suffix in _DECIMAL:
        return num * _DECIMAL[suffix]
    exponent = int(suffix[1:])
    if abs(exponent) > 100:  # far beyond any quantity (2^63 is 9.2e18), and Decimal would overflow
        return Decimal("Infinity") if exponent > 0 else Decimal(0)
    return num * Decimal(10) ** exponent


def _quantity(value: str) -> str:
    if not QUANTITY_RE.match(value):
        hint = "use a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi"
        low = value.lower()
        if low.endswith(("gb", "mb", "kb", "tb")):
            number, unit = value[:-2], value[-2].upper()
            hint = f"Kubernetes writes {value!r} as {number}{unit}i (binary) or {number}{unit} (decimal)"
        raise fail("E208", f"{value!r} is not a valid quantity", hint)
    if parse_quantity(value) > MAX_QUANTITY:
        raise fail("E208", f"{value!r} is larger than any Kubernetes quantity (at most 2^63-1, just under 8Ei)",
                   "Kubernetes caps a larger quantity, so the cluster would not get what the spec says")
    return value


MAX_QUANTITY = Decimal(2**63 - 1)  # apimachinery resource.Quantity: "no quantity may represent a number greater"


Quantity = Annotated[
    str,
    AfterValidator(_quantity),
    WithJsonSchema({"type": "string", "pattern": QUANTITY_RE.pattern, "description": "Kubernetes quantity, e.g. 500m or 4Gi"}),
]


def _positive(value: str) -> str:
    if parse_quantity(value) <= 0:
        raise fail("E208", f"{value!r} is zero, and a volume must hold something",
                   "Kubernetes refuses a PersistentVolume or claim of size 0: give the size the data needs, e.g. 1Gi")
    return value


# Sizes of storage: a PersistentVolume's capacity and a claim's request must be above zero.
Size = Annotated[
    str,
    AfterValidator(_quantity),
    AfterValidator(_positive),
    WithJsonSchema({"type": "string", "pattern": QUANTITY_RE.pattern, "description": "Kubernetes quantity above 0, e.g. 4Gi"}),
]

LABEL_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_PREFIX_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    bad_prefix = bool(prefix) and (len(prefix) > 253 or not LABEL_PREFIX_RE.match(prefix))
    if bad_prefix or len(name) > 63 or not LABEL_NAME_RE.match(name):
        raise fail("E212", f"label key {value!r} is not valid", "use [prefix/]name, e.g. node-type or kubernetes.io/arch")
    return value


def _label_value(value: str) -> str:
    if value and (len(value) > 63 or not LABEL_NAME_RE.match(value)):
        raise fail("E212", f"label value {value!r} is not valid", "at most 63 characters: letters, digits, '-', '_', '.'")
    return value


LabelKey = Annotated[str, AfterValidator(_label_key), WithJsonSchema({"type": "string", "maxLength": 317})]
LabelValue = Annotated[str, AfterValidator(_label_value), WithJsonSchema({"type": "string", "maxLength": 63})]

# -- storage --------------------------------------------------------------------------------------

# Host paths are ASCII on purpose: unicode look-alikes (a Cyrillic letter in "/srv/data") would
# give two different directories that read the same in review.
HOST_PATH_RE = re.compile(r"^/[A-Za-z0-9._/-]*$")
RELATIVE_PATH_RE = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
EFS_ID_RE = re.compile(r"^fs-[0-9a-f]{8,40}$")
EFS_ACCESS_POINT_RE = re.compile(r"^fsap-[0-9a-f]{8,40}$")


def _host_path(value: str) -> str:
    if not HOST_PATH_RE.match(value) or posixpath.normpath(value) != value or value.startswith("//"):
        raise fail(
            "E501",
            f"host path {value!r} is not an absolute canonical path",
            "write it absolute, with no '..', '.', '//', trailing '/', spaces or non-ASCII characters, e.g. /srv/k8s-data",
        )
    return value


def _relative_path(value: str) -> str:
    parts = value.split("/")
    if not RELATIVE_PATH_RE.match(value) or any(part in (".", "..") for part in parts):
        raise fail(
            "E501",
            f"path {value!r} is not a canonical relative path",
            "write it relative to the backend root, e.g. payments/ledger (no leading '/', '..', '.', '//' or trailing '/')",
        )
    return value


def _efs_id(value: str) -> str:
    if not EFS_ID_RE.match(value):
        raise fail("E505", f"{value!r} is not an EFS file system id", "it looks like fs-0123456789abcdef0")
    return value


def _efs_access_point(value: str) -> str:
    if not EFS_ACCESS_POINT_RE.match(value):
        raise fail("E505", f"{value!r} is not an EFS access point id", "it looks like fsap-0123456789abcdef0")
    return value


HostPath = Annotated[
    str,
    AfterValidator(_host_path),
    WithJsonSchema({"type": "string", "pattern": HOST_PATH_RE.pattern, "description": "absolute path"}),
]
RelativePath = Annotated[
    str, AfterValidator(_relative_path), WithJsonSchema({"type": "string", "pattern": RELATIVE_PATH_RE.pattern})
]
EfsId = Annotated[str, AfterValidator(_efs_id), WithJsonSchema({"type": "string", "pattern": EFS_ID_RE.pattern})]
EfsAccessPoint = Annotated[
    str, AfterValidator(_efs_access_point), WithJsonSchema({"type": "string", "pattern": EFS_ACCESS_POINT_RE.pattern})
]

NFS_SERVER_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$")


def _nfs_server(value: str) -> str:
    if not NFS_SERVER_RE.match(value):
        raise fail("E210", f"NFS server {value!r} is not a host name or IPv4 address",
                   "e.g. nfs.internal.example.org or 10.0.0.5")
    return value


NfsServer = Annotated[str, AfterValidator(_nfs_server), WithJsonSchema({"type": "string", "pattern": NFS_SERVER_RE.pattern})]

# A dotted path into Helm values; a dot inside a key is escaped as in `helm --set`:
# serverFiles.prometheus\.yml.scrape_configs.
VALUES_KEY_RE = re.compile(r"^(?:[A-Za-z0-9_-]|\\\.)+(?:\.(?:[A-Za-z0-9_-]|\\\.)+)*$")


def _values_key(value: str) -> str:
    if not VALUES_KEY_RE.match(value):
        raise fail("E204", f"values key {value!r} is not a dotted path",
                   "e.g. persistence.existingClaim (escape a dot inside a key as \\.)")
    return value


def values_path(key: str) -> list[str]:
    """The keys of a dotted values path: 'a.b\\.c' -> ['a', 'b.c']."""
    return [part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", key)]


ValuesKey = Annotated[str, AfterValidator(_values_key), WithJsonSchema({"type": "string", "pattern": VALUES_KEY_RE.pattern})]
