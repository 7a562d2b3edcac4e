"""Diagnostics and the errors that carry them: the bottom of the import graph.

Every problem the tool reports is a `Diagnostic` with a documented code (see govstack_gen/errors.md (`govstack-gen explain CODE`); a test
keeps the two in step), a location in the spec (`file:line:col`), the spec path and a hint.
Stages collect diagnostics and raise one `SpecError` holding all of them, so a user fixes
every problem in one round instead of one per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

__all__ = [
    "CODES",
    "Diagnostic",
    "ExitStatus",
    "GenError",
    "SourceLocation",
    "SpecError",
    "WriteRefused",
    "explain_line",
    "format_path",
]


class ExitStatus(IntEnum):
    """The one place exit codes are defined (pip/httpie style)."""

    OK = 0
    FAILURE = 1  # invalid spec, drift found by --check, a write refused
    USAGE = 2  # bad command line, missing file
    INTERNAL = 3  # a bug: report it, rerun with --debug for the traceback


# code -> one-line summary. govstack_gen/errors.md (`govstack-gen explain CODE`) explains each code with an example and the fix.
CODES: dict[str, str] = {
    # E1xx: reading the spec file
    "E101": "the spec file cannot be read",
    "E102": "the spec file is not valid UTF-8",
    "E103": "the spec file starts with a byte-order mark",
    "E104": "the spec file contains a NUL byte",
    "E105": "tab character in indentation",
    "E106": "YAML syntax error",
    "E107": "duplicate mapping key",
    "E108": "YAML anchors, aliases and merge keys are not allowed",
    "E109": "more than one YAML document",
    "E110": "the spec file is too large",
    "E111": "the spec is empty or not a mapping",
    "E112": "nesting too deep",
    "E113": "mapping key is not a plain string",
    "E114": "unquoted scalar that YAML 1.1 reads differently",
    "E115": "explicit YAML tags are not allowed",
    "E116": "unknown spec version",
    "E117": "older spec version, converted (run govstack-gen migrate)",
    "E118": "a renamed field cannot be converted",
    # E2xx: the shape of the spec (schema)
    "E201": "unknown field",
    "E202": "missing required field",
    "E203": "wrong type",
    "E204": "value not allowed",
    "E205": "invalid name",
    "E206": "chart version is not pinned",
    "E207": "invalid URL",
    "E208": "invalid quantity",
    "E209": "invalid duration",
    "E210": "invalid domain name",
    "E211": "invalid path",
    "E212": "invalid label",
    "E213": "value out of range",
    # E3xx: rules across objects
    "E301": "duplicate building block id",
    "E302": "two building blocks share a namespace",
    "E303": "dependency on an unknown building block",
    "E304": "dependency cycle",
    "E305": "reserved namespace",
    "E306": "stage override for an unknown building block",
    "E307": "duplicate stage name",
    "E308": "null in stage values",
    "E309": "resource requests above limits",
    "E310": "stage values key is a kustomize patch directive",
    "E311": "plaintext secret in values",
    "E312": "strong requirement not met",
    "E313": "version requirement not met",
    "E314": "unknown catalog entry",
    "E315": "catalog entry or folder unusable",
    "E316": "database placement not possible",
    "E317": "invalid label selector",
    "E318": "secret reference unusable",
    "E319": "a requirement's urlKey with a provider that says no address",
    # E5xx: storage
    "E501": "storage path is not canonical",
    "E502": "sensitive host path",
    "E503": "two volumes share a directory",
    "E504": "two volumes share an EFS volume handle",
    "E505": "invalid EFS id",
    "E506": "local backend without exactly one node",
    "E507": "hostPath storage on a multi-node platform",
    "E508": "claim larger than its volume",
    "E509": "access mode the backend cannot give",
    "E510": "database volume on a network file system",
    "E511": "reclaim policy other than Retain",
    "E512": "unknown or missing storage backend",
    "E513": "field does not apply to this backend",
    "E514": "duplicate volume or backend name",
    "E515": "values key already set to something else",
    "E516": "the render would move or drop data",
    "E517": "a volume's claim given both ways (claimKey and chartClaim)",
    "E518": "storageClassKey without chartClaim",
    # E6xx: ingress, access and tenancy
    "E601": "invalid route host",
    "E602": "the same host and path routed twice",
    "E603": "reference to another namespace or provider",
    "E604": "unknown middleware",
    "E605": "route without TLS or without an ingress section",
    "E606": "unknown certResolver",
    "E607": "unknown or shared TCP entry point",
    "E608": "middleware names collide in Traefik",
    "E609": "unknown team or role",
    "E610": "RBAC rule grants too much",
    "E611": "pod security level not allowed",
    "E612": "unknown building block in a network flow",
    "E613": "invalid network (CIDR)",
    "E614": "volumes exceed the storage quota",
    "E615": "duplicate or reserved name",
    "E616": "a middleware must configure exactly one kind",
    "E617": "the Traefik govstack-gen renders cannot carry this",
    "E618": "acme.json is not persisted",
    "E619": "an add-on's settings do not apply or are incomplete",
    # E4xx: writing the output tree
    "E401": "rendered file was edited by hand",
    "E402": "a file not owned by govstack-gen is in the way",
    "E403": "output path escapes the output directory",
    "E404": "output directory unusable",
    "E405": "ownership manifest is corrupt",
    "E406": "rendered file deleted by hand, or a render pending",
    "E407": "SOPS secret file not encrypted",
    "E408": "an interrupted render cannot be completed",
    # E7xx: validating the rendered tree
    "E701": "object does not match its Kubernetes schema",
    "E702": "custom resource does not match its CRD",
    "E703": "no schema for a kind",
    "E704": "kustomize build failed",
    "E705": "security policy violated",
    "E706": "CRD file cannot be read",
    "E707": "kustomize not available",
    # E72x: what the charts render (validate --charts)
    "E720": "chart not found",
    "E721": "helm not available",
    "E722": "chart cannot be rendered",
    "E723": "the chart renders a kind its reconciler may not create",
    "E724": "a pod of the chart violates the namespace's Pod Security level",
    "E725": "chart data on a volume the spec does not declare, or a declared volume unused",
    "E726": "the chart's pods do not fit the namespace's quota",
    "E727": "a route or network policy points at a Service or port the chart does not have",
    "E728": "a value govstack-gen writes changes nothing the chart renders",
    "E729": "an image of the chart is unpinned or private",
    "E730": "a Secret or ConfigMap the chart's pods need is created by nothing",
    "E731": "the Traefik chart does not carry what the routes need",
    "E732": "an add-on chart does not do what the tree relies on it for",
    # E8xx: offline installs
    "E801": "invalid mirror registry",
}


@dataclass(frozen=True, order=True)
class SourceLocation:
    """A 1-based position in a file; `line == 0` means the whole file."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    location: SourceLocation
    path: str = ""  # spec path such as buildingBlocks[2].chart.version; "" for the whole file
    hint: str = ""
    severity: str = "error"
    related: tuple[SourceLocation, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.code not in CODES:  # a programming error: every code must be documented
            raise ValueError(f"undocumented diagnostic code {self.code!r}")

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        return (loc.file, loc.line, loc.col, self.code, self.message)

    def render(self) -> str:
        where = str(self.location)
        head = f"{self.severity}[{self.code}]: {where}: "
        if self.path:
            head += f"{self.path}: "
        lines = [head + self.message]
        lines.extend(f"  note: also at {rel}" for rel in self.related)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class GenError(Exception):
    """Base of the errors the CLI reports without a traceback."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


class SpecError(GenError):
    """The spec is invalid; nothing was written."""


class WriteRefused(GenError):
    """The output tree cannot be updated safely; nothing was written."""


def format_path(loc: tuple[str | int, ...]) -> str:
    """('buildingBlocks', 2, 'chart') -> 'buildingBlocks[2].chart'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def explain_line(diagnostics: Sequence[Diagnostic]) -> str:
    """The closing line of a list of diagnostics: how to read about one ("" for none)."""
    if not diagnostics:
        return ""
    errors = [d for d in diagnostics if d.severity == "error"]
    first, several = (errors or list(diagnostics))[0].code, len({d.code for d in diagnostics}) > 1
    noun = "error" if errors else "warning"
    which = ("an" if errors else "a") if several else "this"
    return f"for more about {which} {noun}, try `govstack-gen explain {first}`" + (" (or another code above)" if several else "")
