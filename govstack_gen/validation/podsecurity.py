"""The Pod Security Standards, check for check as k8s.io/pod-security-admission defines them.

`evaluate(level, version, metadata, spec)` answers what the API server's Pod Security admission
would answer for a pod (or a workload's pod template) in a namespace enforcing `level` at
`version`: the checks that forbid it, each with the upstream check id and reason. Every check
is versioned like upstream's (a check or a stricter variant applies from a minimum Kubernetes
minor on), so a namespace pinned to `v1.33` is judged by the v1.33 rules even when the code
knows newer ones. A test runs the upstream evaluator (built from its Go module) on every pod
template of every chart in ../shared/charts and requires the same verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["LATEST", "Forbidden", "evaluate", "parse_version"]

Obj = dict[str, Any]
Version = tuple[int, int]
# The newest minor whose rules this module knows; "latest" means these.
LATEST: Version = (1, 36)


@dataclass(frozen=True)
class Forbidden:
    check: str  # the upstream check id, e.g. runAsNonRoot
    reason: str  # upstream's ForbiddenReason, e.g. "runAsNonRoot != true"
    detail: str  # which containers or fields

    def __str__(self) -> str:
        return f"{self.reason} ({self.detail})"


def parse_version(text: str) -> Version:
    """'v1.33' -> (1, 33); 'latest' -> LATEST."""
    if text == "latest":
        return LATEST
    major, minor = text.removeprefix("v").split(".")[:2]
    return int(major), int(minor)


def _containers(spec: Obj) -> Iterator[Obj]:
    """Init, regular and ephemeral containers, in upstream's visiting order."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                yield container


def _sc(obj: Obj) -> Obj:
    value = obj.get("securityContext")
    return value if isinstance(value, dict) else {}


def _names(containers: list[Obj]) -> str:
    names = [str(c.get("name", "")) for c in containers]
    return ("container " if len(names) == 1 else "containers ") + ", ".join(f'"{n}"' for n in names)


def _windows(spec: Obj) -> bool:
    os_ = spec.get("os")
    return isinstance(os_, dict) and os_.get("name") == "windows"


def _user_namespaced(spec: Obj) -> bool:
    return spec.get("hostUsers") is False


# -- baseline ------------------------------------------------------------------------------------

BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID",
    "SETPCAP", "SETUID", "SYS_CHROOT",
})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
SELINUX_TYPES_1_31 = SELINUX_TYPES | {"container_engine_t"}
SYSCTLS = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                     "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"})
SYSCTLS_1_27 = SYSCTLS | {"net.ipv4.ip_local_reserved_ports"}
SYSCTLS_1_29 = SYSCTLS_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                               "net.ipv4.tcp_keepalive_probes"}
SYSCTLS_1_32 = SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
RESTRICTED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
                                "projected", "secret"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_OK = frozenset({"RuntimeDefault", "Localhost"})

Check = Callable[[Obj, Obj, Version], "Forbidden | None"]


def _windows_host_process(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    def host_process(sc: Obj) -> bool:
        options = sc.get("windowsOptions")
        return isinstance(options, dict) and options.get("hostProcess") is True

    bad = [c for c in _containers(spec) if host_process(_sc(c))]
    setters = (["pod"] if host_process(_sc(spec)) else []) + ([_names(bad)] if bad else [])
    return Forbidden("windowsHostProcess", "hostProcess", " and ".join(setters) + " must not set hostProcess=true") if setters else None


def _host_namespaces(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    found = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    return Forbidden("hostNamespaces", "host namespaces", ", ".join(found)) if found else None


def _privileged(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    bad = [c for c in _containers(spec) if _sc(c).get("privileged") is True]
    return Forbidden("privileged", "privileged", f"{_names(bad)} must not set securityContext.privileged=true") if bad else None


def _added(container: Obj) -> list[str]:
    caps = _sc(container).get("capabilities")
    return [str(c) for c in (caps.get("add") or [])] if isinstance(caps, dict) else []


def _capabilities_baseline(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    bad = [c for c in _containers(spec) if any(cap not in BASELINE_CAPABILITIES for cap in _added(c))]
    caps = sorted({cap for c in bad for cap in _added(c) if cap not in BASELINE_CAPABILITIES})
    return Forbidden("capabilities_baseline", "non-default capabilities",
                     f"{_names(bad)} must not include {', '.join(caps)} in securityContext.capabilities.add") if bad else None


def _host_path_volumes(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    bad = [str(v.get("name")) for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v]
    return Forbidden("hostPathVolumes", "hostPath volumes", "volumes " + ", ".join(bad)) if bad else None


def _host_ports(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    def ports(c: Obj) -> list[int]:
        return [int(p.get("hostPort") or 0) for p in c.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")]

    bad = [c for c in _containers(spec) if ports(c)]
    return Forbidden("hostPorts", "hostPort", f"{_names(bad)} use hostPort {sorted({p for c in bad for p in ports(c)})}") if bad else None


def _app_armor(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    def bad_type(sc: Obj) -> bool:
        profile = sc.get("appArmorProfile")
        return isinstance(profile, dict) and profile.get("type") not in SECCOMP_OK

    setters = ["pod"] if bad_type(_sc(spec)) else []
    containers = [c for c in _containers(spec) if bad_type(_sc(c))]
    if containers:
        setters.append(_names(containers))
    annotations = meta.get("annotations") or {}
    forbidden = sorted(f"{k}={v!r}" for k, v in annotations.items() if str(k).startswith(APPARMOR_ANNOTATION)
                       and v and v != "runtime/default" and not str(v).startswith("localhost/"))
    if forbidden:
        setters.append("annotations " + ", ".join(forbidden))
    if not setters:
        return None
    return Forbidden("appArmorProfile", "forbidden AppArmor profile", " and ".join(setters) + " set a forbidden profile")


def _se_linux(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    allowed = SELINUX_TYPES_1_31 if version >= (1, 31) else SELINUX_TYPES

    def bad(sc: Obj) -> bool:
        options = sc.get("seLinuxOptions")
        if not isinstance(options, dict):
            return False
        return options.get("type", "") not in allowed or bool(options.get("user")) or bool(options.get("role"))

    setters = (["pod"] if bad(_sc(spec)) else []) + [_names([c]) for c in _containers(spec) if bad(_sc(c))]
    return Forbidden("seLinuxOptions", "seLinuxOptions", " and ".join(setters) + " set forbidden seLinuxOptions") if setters else None


def _proc_mount(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    if version >= (1, 35) and _user_namespaced(spec):
        return None
    return _proc_mount_any(spec)


def _proc_mount_any(spec: Obj) -> Forbidden | None:
    bad = [c for c in _containers(spec) if _sc(c).get("procMount") not in (None, "Default")]
    return Forbidden("procMount", "procMount", f"{_names(bad)} must not set securityContext.procMount") if bad else None


def _seccomp_baseline(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    def bad(sc: Obj) -> bool:
        profile = sc.get("seccompProfile")
        return isinstance(profile, dict) and profile.get("type") not in SECCOMP_OK

    setters = (["pod"] if bad(_sc(spec)) else []) + [_names([c]) for c in _containers(spec) if bad(_sc(c))]
    return Forbidden("seccompProfile_baseline", "seccompProfile",
                     " and ".join(setters) + " must not set securityContext.seccompProfile.type to Unconfined") if setters else None


def _sysctls(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    allowed = (SYSCTLS_1_32 if version >= (1, 32) else SYSCTLS_1_29 if version >= (1, 29)
               else SYSCTLS_1_27 if version >= (1, 27) else SYSCTLS)
    bad = [str(s.get("name")) for s in _sc(spec).get("sysctls") or [] if isinstance(s, dict) and s.get("name") not in allowed]
    return Forbidden("sysctls", "forbidden sysctls", ", ".join(bad)) if bad else None


def _host_probes(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    def hosts(handler: Any) -> list[str]:
        if not isinstance(handler, dict):
            return []
        return [str(h["host"]) for key in ("httpGet", "tcpSocket") if isinstance(h := handler.get(key), dict) and h.get("host")]

    def container_hosts(c: Obj) -> list[str]:
        lifecycle = c.get("lifecycle")
        lifecycle = lifecycle if isinstance(lifecycle, dict) else {}
        handlers = [c.get("livenessProbe"), c.get("readinessProbe"), c.get("startupProbe"),
                    lifecycle.get("postStart"), lifecycle.get("preStop")]
        return [h for handler in handlers for h in hosts(handler)]

    bad = [c for c in _containers(spec) if container_hosts(c)]
    return Forbidden("hostProbesAndHostLifecycle", "probe or lifecycle host",
                     f"{_names(bad)} use host {sorted({h for c in bad for h in container_hosts(c)})}") if bad else None


# -- restricted ----------------------------------------------------------------------------------


def _restricted_volumes(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    bad = []
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict) and not RESTRICTED_VOLUMES & set(volume):
            kinds = sorted(set(volume) - {"name"}) or ["unknown"]
            bad.append(f"{volume.get('name')} ({', '.join(kinds)})")
    return Forbidden("restrictedVolumes", "restricted volume types", "volumes " + ", ".join(bad)) if bad else None


def _allow_privilege_escalation(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    if version >= (1, 25) and _windows(spec):
        return None
    bad = [c for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    return Forbidden("allowPrivilegeEscalation", "allowPrivilegeEscalation != false",
                     f"{_names(bad)} must set securityContext.allowPrivilegeEscalation=false") if bad else None


def _run_as_non_root(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    if version >= (1, 35) and _user_namespaced(spec):
        return None
    pod = _sc(spec).get("runAsNonRoot")
    setters = ["pod"] if pod is False else []
    explicit = [c for c in _containers(spec) if _sc(c).get("runAsNonRoot") is False]
    if explicit:
        setters.append(_names(explicit))
    if setters:
        return Forbidden("runAsNonRoot", "runAsNonRoot != true", " and ".join(setters) + " must not set securityContext.runAsNonRoot=false")
    implicit = [c for c in _containers(spec) if _sc(c).get("runAsNonRoot") is None and pod is not True]
    return Forbidden("runAsNonRoot", "runAsNonRoot != true",
                     f"pod or {_names(implicit)} must set securityContext.runAsNonRoot=true") if implicit else None


def _run_as_user(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    if version >= (1, 35) and _user_namespaced(spec):
        return None
    setters = ["pod"] if _sc(spec).get("runAsUser") == 0 else []
    explicit = [c for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if explicit:
        setters.append(_names(explicit))
    return Forbidden("runAsUser", "runAsUser=0", " and ".join(setters) + " must not set runAsUser=0") if setters else None


def _seccomp_restricted(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    if version >= (1, 25) and _windows(spec):
        return None
    found = _seccomp_baseline(meta, spec, version)
    if found is not None:
        return Forbidden("seccompProfile_restricted", found.reason, found.detail)
    pod = _sc(spec).get("seccompProfile")
    if isinstance(pod, dict):  # a valid pod-level profile covers every container without one
        return None
    implicit = [c for c in _containers(spec) if not isinstance(_sc(c).get("seccompProfile"), dict)]
    return Forbidden("seccompProfile_restricted", "seccompProfile",
                     f'pod or {_names(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or '
                     '"Localhost"') if implicit else None


def _capabilities_restricted(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    if version >= (1, 25) and _windows(spec):
        return None
    details = []
    missing = [c for c in _containers(spec) if "ALL" not in _dropped(c)]
    if missing:
        details.append(f'{_names(missing)} must set securityContext.capabilities.drop=["ALL"]')
    adding = [c for c in _containers(spec) if any(cap != "NET_BIND_SERVICE" for cap in _added(c))]
    if adding:
        caps = sorted({cap for c in adding for cap in _added(c) if cap != "NET_BIND_SERVICE"})
        details.append(f"{_names(adding)} must not include {', '.join(caps)} in securityContext.capabilities.add")
    return Forbidden("capabilities_restricted", "unrestricted capabilities", "; ".join(details)) if details else None


def _dropped(container: Obj) -> list[str]:
    caps = _sc(container).get("capabilities")
    return [str(c) for c in (caps.get("drop") or [])] if isinstance(caps, dict) else []


def _proc_mount_restricted(meta: Obj, spec: Obj, version: Version) -> Forbidden | None:
    found = _proc_mount_any(spec)  # from v1.35 the user-namespace relaxation is baseline's only
    return Forbidden("procMount_restricted", found.reason, found.detail) if found else None


@dataclass(frozen=True)
class _Rule:
    id: str
    level: str
    since: Version
    check: Check
    overrides: tuple[str, ...] = ()  # baseline checks a restricted one replaces (from `since` on)


RULES = (
    _Rule("windowsHostProcess", "baseline", (1, 0), _windows_host_process),
    _Rule("hostNamespaces", "baseline", (1, 0), _host_namespaces),
    _Rule("privileged", "baseline", (1, 0), _privileged),
    _Rule("capabilities_baseline", "baseline", (1, 0), _capabilities_baseline),
    _Rule("hostPathVolumes", "baseline", (1, 0), _host_path_volumes),
    _Rule("hostPorts", "baseline", (1, 0), _host_ports),
    _Rule("appArmorProfile", "baseline", (1, 0), _app_armor),
    _Rule("seLinuxOptions", "baseline", (1, 0), _se_linux),
    _Rule("procMount", "baseline", (1, 0), _proc_mount),
    _Rule("seccompProfile_baseline", "baseline", (1, 19), _seccomp_baseline),
    _Rule("sysctls", "baseline", (1, 0), _sysctls),
    _Rule("hostProbesAndHostLifecycle", "baseline", (1, 34), _host_probes),
    _Rule("restrictedVolumes", "restricted", (1, 0), _restricted_volumes, ("hostPathVolumes",)),
    _Rule("allowPrivilegeEscalation", "restricted", (1, 8), _allow_privilege_escalation),
    _Rule("runAsNonRoot", "restricted", (1, 0), _run_as_non_root),
    _Rule("runAsUser", "restricted", (1, 23), _run_as_user),
    _Rule("seccompProfile_restricted", "restricted", (1, 19), _seccomp_restricted, ("seccompProfile_baseline",)),
    _Rule("capabilities_restricted", "restricted", (1, 22), _capabilities_restricted, ("capabilities_baseline",)),
    _Rule("procMount_restricted", "restricted", (1, 35), _proc_mount_restricted, ("procMount",)),
)


def evaluate(level: str, version: str, metadata: Obj, spec: Obj) -> list[Forbidden]:
    """What forbids a pod with this metadata and spec at `level` (privileged, baseline or
    restricted) and `version` (v1.X or latest); empty when it is allowed."""
    if level == "privileged":
        return []
    at = min(parse_version(version), LATEST)
    rules = [r for r in RULES if r.since <= at and (r.level == "baseline" or level == "restricted")]
    replaced = {o for r in rules for o in r.overrides}
    found = (r.check(metadata or {}, spec or {}, at) for r in rules if r.id not in replaced)
    return [f for f in found if f is not None]
