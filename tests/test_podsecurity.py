"""govstack-gen's Pod Security evaluator agrees with the upstream one (k8s.io/pod-security-admission,
built by `scripts/install-tools psa`) on every pod template of every chart in ../shared/charts, at
the levels and versions namespaces use, and on variants of them that trip each check."""

from __future__ import annotations

import copy
import functools
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from govstack_gen.validation.chart_checks import pod_templates
from govstack_gen.validation.podsecurity import evaluate
from helpers import ROOT, SHARED, helm_binary

CHARTS = SHARED / "charts"
# What a chart needs to render at all (required values without defaults).
REQUIRED = {"karpenter": ["--set", "settings.clusterName=test"]}
LEVELS = [("baseline", "v1.33"), ("restricted", "v1.33"), ("restricted", "v1.30"), ("baseline", "latest"),
          ("restricted", "latest"), ("restricted", "v1.24")]


@functools.cache
def evaluator() -> Path:
    result = subprocess.run([str(ROOT / "scripts" / "install-tools"), "psa"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/install-tools psa failed:\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def upstream(cases: list[tuple[str, str, dict[str, Any], dict[str, Any]]]) -> list[list[str]]:
    lines = "".join(json.dumps({"level": lv, "version": v, "metadata": m, "spec": s}) + "\n" for lv, v, m, s in cases)
    result = subprocess.run([str(evaluator())], input=lines, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return [sorted(_normal(r) for r in json.loads(line)["reasons"]) for line in result.stdout.splitlines()]


def _normal(reason: str) -> str:
    return "forbidden AppArmor profile" if reason.startswith("forbidden AppArmor profile") else reason


def chart_folders() -> list[Path]:
    """Every top-level chart of ../shared/charts (subcharts render with their parents)."""
    found = []
    for chart_yaml in sorted(CHARTS.rglob("Chart.yaml")):
        folder = chart_yaml.parent
        if not any((parent / "Chart.yaml").exists() for parent in folder.parents if parent != folder and CHARTS in parent.parents):
            found.append(folder)
    return found


@functools.cache
def chart_pods() -> tuple[tuple[str, dict[str, Any], dict[str, Any]], ...]:
    """(where, metadata, spec) of every pod template the charts render with their defaults."""
    pods = []
    folders = chart_folders()
    while folders:
        folder = folders.pop(0)
        result = subprocess.run([helm_binary(), "template", "release", str(folder), "--namespace", "ns", "--kube-version", "1.35.0",
                                 *REQUIRED.get(folder.name, [])], capture_output=True, text=True, check=False)
        if result.returncode != 0:  # a chart that misses a dependency: its subcharts, one by one
            assert (folder / "charts").is_dir(), f"{folder} does not render: {result.stderr}"
            folders += sorted(p.parent for p in (folder / "charts").glob("*/Chart.yaml"))
            continue
        objects = [d for d in yaml.safe_load_all(result.stdout) if isinstance(d, dict)]
        for template in pod_templates(objects):
            owner = f"{folder.relative_to(CHARTS)}: {template.owner['kind']}/{template.owner['metadata']['name']}"
            pods.append((owner, template.metadata, template.spec))
    return tuple(pods)


def variants(metadata: dict[str, Any], spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The pod as it is, made restricted-clean, and with one thing each check looks at changed."""
    yield "as rendered", metadata, spec
    clean = copy.deepcopy(spec)
    clean["securityContext"] = {**(clean.get("securityContext") or {}), "runAsNonRoot": True,
                                "seccompProfile": {"type": "RuntimeDefault"}}
    for key in ("initContainers", "containers"):
        for c in clean.get(key) or []:
            c["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    yield "restricted-clean", metadata, clean

    def changed(name: str, change: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
        meta, pod = copy.deepcopy(metadata), copy.deepcopy(clean)
        change(meta, pod)
        return name, meta, pod

    def first(pod: dict[str, Any]) -> dict[str, Any]:
        container: dict[str, Any] = pod["containers"][0]
        return container

    def sc(pod: dict[str, Any]) -> dict[str, Any]:
        context: dict[str, Any] = first(pod).setdefault("securityContext", {})
        return context
    yield changed("hostNetwork", lambda m, p: p.update(hostNetwork=True))
    yield changed("privileged", lambda m, p: sc(p).update(privileged=True))
    yield changed("capability SYS_ADMIN", lambda m, p: sc(p)["capabilities"].update(add=["SYS_ADMIN"]))
    yield changed("capability CHOWN", lambda m, p: sc(p)["capabilities"].update(add=["CHOWN"]))
    yield changed("capability NET_BIND_SERVICE", lambda m, p: sc(p)["capabilities"].update(add=["NET_BIND_SERVICE"]))
    yield changed("no drop ALL", lambda m, p: sc(p)["capabilities"].update(drop=["NET_RAW"]))
    yield changed("hostPath", lambda m, p: p.setdefault("volumes", []).append({"name": "h", "hostPath": {"path": "/srv"}}))
    yield changed("nfs volume", lambda m, p: p.setdefault("volumes", []).append({"name": "n", "nfs": {"server": "x", "path": "/"}}))
    yield changed("image volume", lambda m, p: p.setdefault("volumes", []).append({"name": "i", "image": {"reference": "a:1"}}))
    yield changed("hostPort", lambda m, p: first(p).setdefault("ports", []).append({"containerPort": 80, "hostPort": 80}))
    yield changed("apparmor unconfined", lambda m, p: sc(p).update(appArmorProfile={"type": "Unconfined"}))
    yield changed("apparmor annotation", lambda m, p: m.update(annotations={
        **(m.get("annotations") or {}), f"container.apparmor.security.beta.kubernetes.io/{first(p)['name']}": "unconfined"}))
    yield changed("selinux type", lambda m, p: p["securityContext"].update(seLinuxOptions={"type": "spc_t"}))
    yield changed("selinux engine", lambda m, p: sc(p).update(seLinuxOptions={"type": "container_engine_t"}))
    yield changed("selinux user", lambda m, p: sc(p).update(seLinuxOptions={"user": "root"}))
    yield changed("procMount", lambda m, p: sc(p).update(procMount="Unmasked"))
    yield changed("procMount userns", lambda m, p: (sc(p).update(procMount="Unmasked"), p.update(hostUsers=False)))
    yield changed("seccomp unconfined", lambda m, p: sc(p).update(seccompProfile={"type": "Unconfined"}))
    yield changed("no seccomp", lambda m, p: p["securityContext"].pop("seccompProfile"))
    yield changed("sysctl unsafe", lambda m, p: p["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]))
    yield changed("sysctl 1.32", lambda m, p: p["securityContext"].update(sysctls=[{"name": "net.ipv4.tcp_rmem", "value": "1"}]))
    yield changed("sysctl 1.29", lambda m, p: p["securityContext"].update(
        sysctls=[{"name": "net.ipv4.tcp_keepalive_time", "value": "1"}]))
    yield changed("escalation", lambda m, p: sc(p).update(allowPrivilegeEscalation=True))
    yield changed("root explicit", lambda m, p: sc(p).update(runAsNonRoot=False))
    yield changed("root pod", lambda m, p: p["securityContext"].update(runAsNonRoot=False))
    yield changed("no runAsNonRoot", lambda m, p: p["securityContext"].pop("runAsNonRoot"))
    yield changed("uid 0", lambda m, p: sc(p).update(runAsUser=0))
    yield changed("uid 0 userns", lambda m, p: (sc(p).update(runAsUser=0), p.update(hostUsers=False)))
    yield changed("windows", lambda m, p: (p.update(os={"name": "windows"}), sc(p).pop("capabilities")))
    yield changed("hostProcess", lambda m, p: sc(p).update(windowsOptions={"hostProcess": True}))
    yield changed("probe host", lambda m, p: first(p).update(livenessProbe={"httpGet": {"host": "1.2.3.4", "port": 80}}))


def test_the_charts_give_enough_pods_to_compare() -> None:
    pods = chart_pods()
    assert len(pods) >= 40, [p[0] for p in pods]
    folders = {p[0].split(":")[0].split("/")[0] for p in pods}
    assert {"redis-17.11.6", "kafka-26.2.0", "prometheus-25.27.0", "sandbox", "platform", "consentbb-2023.12.4"} <= folders
    charts = {p[0].split(":")[0] for p in pods}
    assert {"platform/karpenter-1.14.1/karpenter", "sandbox/mifos-payment-hub/charts/ph-ee-engine"} <= charts


@pytest.mark.parametrize("level,version", LEVELS)
def test_same_verdicts_as_upstream(level: str, version: str) -> None:
    cases = [(f"{owner} [{name}]", meta, spec) for owner, metadata, pod in chart_pods() for name, meta, spec in variants(metadata, pod)]
    expected = upstream([(level, version, meta, spec) for _, meta, spec in cases])
    mismatches = []
    allowed = forbidden = 0
    for (where, meta, spec), theirs in zip(cases, expected, strict=True):
        ours = sorted(_normal(f.reason) for f in evaluate(level, version, meta, spec))
        if ours != theirs:
            mismatches.append(f"{where}: ours {ours}, upstream {theirs}")
        allowed += not theirs
        forbidden += bool(theirs)
    assert not mismatches, "\n".join(mismatches[:30])
    assert allowed > 40 and forbidden > 40  # both verdicts well represented


def test_privileged_allows_anything() -> None:
    _, metadata, spec = chart_pods()[0]
    pod = copy.deepcopy(spec)
    pod["hostNetwork"] = True
    assert evaluate("privileged", "v1.33", metadata, pod) == [] and upstream([("privileged", "v1.33", metadata, pod)]) == [[]]
