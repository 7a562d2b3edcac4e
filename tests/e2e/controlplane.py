"""A real control plane for the end-to-end tests: etcd and kube-apiserver as local processes
on loopback ports, in a temporary folder, envtest style ($KUBEBUILDER_ASSETS holds the
binaries; scripts/e2e-assets provides them when it is unset).

No controllers run: the API server alone admits or rejects objects (schemas, CEL rules in the
CRDs, immutable fields, defaulting), which is what these tests are about.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 90


def assets(*tool_set: str) -> Path:
    """The folder with etcd, kube-apiserver and kubectl, or with another tool set of
    scripts/e2e-assets (flux, controller-manager, argocd), built once by it."""
    result = subprocess.run([str(ROOT / "scripts" / "e2e-assets"), *tool_set], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/e2e-assets {' '.join(tool_set)} failed:\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Etcd:
    bin_dir: Path
    workdir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.port = free_port()
        with (self.workdir / "etcd.log").open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen([
                str(self.bin_dir / "etcd"), "--data-dir", str(self.workdir / "etcd"), "--unsafe-no-fsync",
                "--listen-client-urls", f"http://127.0.0.1:{self.port}", "--advertise-client-urls", f"http://127.0.0.1:{self.port}",
                "--listen-peer-urls", f"http://127.0.0.1:{free_port()}", "--log-level", "warn",
            ], stdout=log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class APIServer:
    """One kube-apiserver; several can share one etcd, each under its own key prefix (a cluster each)."""

    bin_dir: Path
    workdir: Path
    etcd: Etcd
    prefix: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    token: str = "govstack-gen-e2e-admin"
    kubeconfig: Path = field(default_factory=Path)
    audit: bool = False  # log who wrote what (the impersonated user included): audit_events()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        key = self.workdir / "sa.key"
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
        (self.workdir / "tokens.csv").write_text(f"{self.token},admin,admin,system:masters\n")
        with (self.workdir / "kube-apiserver.log").open("wb") as log:
            self.process = subprocess.Popen([
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers={self.etcd.url}", f"--etcd-prefix=/{self.prefix}",
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
                f"--cert-dir={self.workdir / 'certs'}",
                f"--token-auth-file={self.workdir / 'tokens.csv'}", "--authorization-mode=RBAC",
                f"--service-account-key-file={key}", f"--service-account-signing-key-file={key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true",
                "--disable-admission-plugins=ServiceAccount",  # no token controller runs to create tokens
                *self._audit_flags(),
            ], stdout=log, stderr=subprocess.STDOUT)
        self.kubeconfig = self.workdir / "kubeconfig"
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "e2e",
            "clusters": [{"name": "e2e", "cluster": {"server": f"https://127.0.0.1:{self.port}", "insecure-skip-tls-verify": True}}],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "admin"}}],
        }))
        self._wait_ready()

    def _audit_flags(self) -> list[str]:
        if not self.audit:
            return []
        policy = self.workdir / "audit-policy.yaml"
        # Writes only, at Metadata level: the user, the user it impersonated, the object, the verb.
        policy.write_text(json.dumps({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
                                      "rules": [{"level": "Metadata", "verbs": ["create", "update", "patch", "delete"]},
                                                {"level": "None"}]}))
        return [f"--audit-policy-file={policy}", f"--audit-log-path={self.workdir / 'audit.log'}", "--audit-log-mode=blocking"]

    def audit_events(self) -> list[dict[str, Any]]:
        """The audit log's completed write requests."""
        path = self.workdir / "audit.log"
        events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
        return [e for e in events if e.get("stage") == "ResponseComplete"]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"kube-apiserver exited:\n{self.log_tail()}")
            result = self.kubectl("get", "--raw", "/readyz", check=False)
            if result.returncode == 0 and result.stdout.strip() == "ok":
                return
            time.sleep(0.5)
        raise RuntimeError(f"kube-apiserver not ready after {READY_TIMEOUT_S} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / "kube-apiserver.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(self.bin_dir / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args], input=stdin,
                                capture_output=True, text=True, check=False, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    def apply(self, objects: list[dict[str, Any]], check: bool = True) -> subprocess.CompletedProcess[str]:
        """Server-side apply, as Flux's kustomize-controller does (one field manager)."""
        stream = "\n---\n".join(json.dumps(o) for o in objects)
        return self.kubectl("apply", "--server-side", "--field-manager=govstack-gen-e2e", "--force-conflicts", "-f", "-",
                            stdin=stream, check=check)

    def diff(self, objects: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
        stream = "\n---\n".join(json.dumps(o) for o in objects)
        return self.kubectl("diff", "--server-side", "--field-manager=govstack-gen-e2e", "--force-conflicts", "-f", "-",
                            stdin=stream, check=False)

    def stop(self) -> None:
        stop(self.process)


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def keep_logs(workdir: Path, failed: bool) -> None:
    """Logs stay for a failed run (printed path); a passing run leaves nothing behind."""
    if failed:
        print(f"control plane logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def crd_documents() -> list[dict[str, Any]]:
    import yaml

    out = []
    for path in sorted((ROOT.parent / "shared" / "crds").rglob("*.yaml")):
        out += [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "CustomResourceDefinition"]
    return out



# What makes Pods and binds claims; nothing here runs them (no scheduler, no kubelet), so pods
# stay Pending: enough to prove Pod Security admits them and their claims bind.
# The garbage collector completes foreground deletions (Argo CD prunes that way, and an object
# would otherwise wait forever on its foregroundDeletion finalizer).
CONTROLLERS = ("deployment-controller", "replicaset-controller", "statefulset-controller", "job-controller",
               "persistentvolume-binder-controller", "garbage-collector-controller")


@dataclass
class ControllerManager:
    """kube-controller-manager of the same release (scripts/e2e-assets controller-manager),
    with the workload, volume-binding and garbage-collector controllers only, as the API
    server's admin."""

    bin_dir: Path
    workdir: Path
    api: APIServer
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (self.workdir / "kube-controller-manager.log").open("wb") as log:
            self.process = subprocess.Popen([
                str(self.bin_dir / "kube-controller-manager"), f"--kubeconfig={self.api.kubeconfig}",
                f"--controllers={','.join(CONTROLLERS)}", "--leader-elect=false", "--secure-port=0",
                "--concurrent-statefulset-syncs=5", "--v=2",
            ], stdout=log, stderr=subprocess.STDOUT)
        time.sleep(2)
        if self.process.poll() is not None:
            raise RuntimeError(f"kube-controller-manager exited:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / "kube-controller-manager.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        stop(self.process)


class LocalProcesses:
    """Controllers run as local processes, each logging to <workdir>/<name>.log."""

    workdir: Path
    processes: list[subprocess.Popen[bytes]]

    def check_running(self) -> None:
        time.sleep(3)
        dead = [p.args[0] for p in self.processes if p.poll() is not None]  # type: ignore[index]  # started from lists
        if dead:
            raise AssertionError(f"{dead} exited:\n{self.logs()}")

    def logs(self, lines: int = 30) -> str:
        out = []
        for path in sorted(self.workdir.glob("*.log")):
            out.append(f"--- {path.name}")
            out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)

    def stop(self) -> None:
        for process in reversed(self.processes):  # the last started depends on the first
            stop(process)


class FluxControllers(LocalProcesses):
    """source-, kustomize- and helm-controller as local processes against the API server."""

    def __init__(self, bin_dir: Path, api: APIServer, workdir: Path):
        self.workdir = workdir
        (workdir / "storage").mkdir(parents=True, exist_ok=True)  # source-controller's artifacts
        storage = free_port()
        env = dict(os.environ, KUBECONFIG=str(api.kubeconfig), RUNTIME_NAMESPACE="flux-system", HOME=str(workdir))
        common = ["--enable-leader-election=false", "--log-level=debug"]
        commands = {
            "source-controller": [f"--storage-path={workdir / 'storage'}", f"--storage-addr=127.0.0.1:{storage}",
                                  f"--storage-adv-addr=127.0.0.1:{storage}"],
            # Flux's multi-tenancy lockdown (CHECKLIST §6): nothing applies with the controller's own
            # rights unless the object names an account that has them.
            "kustomize-controller": ["--no-cross-namespace-refs=true", "--no-remote-bases=true",
                                     "--default-service-account=default"],
            "helm-controller": ["--no-cross-namespace-refs=true", "--default-service-account=default"],
        }
        self.processes = []
        for name, args in commands.items():
            with (workdir / f"{name}.log").open("wb") as log:
                self.processes.append(subprocess.Popen(
                    [str(bin_dir / name), *common, *args, f"--metrics-addr=127.0.0.1:{free_port()}",
                     f"--health-addr=127.0.0.1:{free_port()}"], env=env, stdout=log, stderr=subprocess.STDOUT))



def flux_bootstrap(cluster: APIServer, entry: list[dict[str, Any]], secrets: list[dict[str, Any]] | None = None) -> None:
    """What `flux bootstrap` leaves behind: the namespace (with `secrets` in it, e.g. the
    cluster's age key), the controllers' accounts bound to cluster-admin (flux install's
    cluster-reconciler binding), and the stage's entry point (`entry`: its kustomize build)."""
    controllers = ("kustomize-controller", "helm-controller")
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}])
    if secrets:
        cluster.apply(secrets)
    cluster.apply([
        *({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "flux-system"}}
          for name in controllers),
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "cluster-reconciler-flux-system"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "flux-system"} for name in controllers]},
    ])
    cluster.apply(entry)


def wait_ready(cluster: APIServer, controllers: FluxControllers, steps: list[tuple[str, str, str]], timeout: str) -> None:
    """Each (kind, namespace, name) Ready in turn; else fail with every Flux object's conditions
    and the controllers' logs."""
    import pytest
    import yaml

    for kind, namespace, name in steps:
        waited = cluster.kubectl("wait", f"{kind}/{name}", "-n", namespace, "--for=condition=Ready", f"--timeout={timeout}",
                                 check=False)
        if waited.returncode != 0:
            status = cluster.kubectl("get", "kustomizations,helmreleases,helmcharts,helmrepositories,gitrepositories",
                                     "-A", "-o", "yaml", check=False).stdout
            conditions = [(o["kind"], o["metadata"]["name"], c.get("message")) for o in yaml.safe_load(status)["items"]
                          for c in (o.get("status") or {}).get("conditions", [])]
            pytest.fail(f"{kind} {namespace}/{name} not Ready: {waited.stderr}\n{conditions}\n{controllers.logs()}")


ARGO_NAMESPACE = "argocd"
ARGO_CONTROLLER = "argocd-application-controller"


class ArgoCD(LocalProcesses):
    """Argo CD's application controller and repo-server (scripts/e2e-assets argocd) as local
    processes against the API server, out of cluster (`--kubeconfig`: the in-cluster destination
    https://kubernetes.default.svc is the test's API server), with the Redis their caches need.
    `tools`: folders of the helm, kustomize and git the repo-server runs."""

    def __init__(self, bin_dir: Path, api: APIServer, workdir: Path, tools: list[Path]):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        redis, repo_server = free_port(), free_port()
        path = os.pathsep.join([str(bin_dir), *map(str, tools), os.environ.get("PATH", "")])
        # GPG off: no keyring to initialise; the HOME and TMPDIR of its own: helm's caches and the
        # repo-server's checkouts stay in the test's folder.
        # ARGOCD_FAKE_IN_CLUSTER: the in-cluster destination from $KUBECONFIG instead of a pod's
        # service-account files (Argo CD's own out-of-cluster mode, used by `argocd admin`).
        env = dict(os.environ, PATH=path, HOME=str(workdir), TMPDIR=str(workdir), ARGOCD_GPG_ENABLED="false",
                   ARGOCD_SYNC_WAVE_DELAY="1", ARGOCD_FAKE_IN_CLUSTER="true", KUBECONFIG=str(api.kubeconfig))
        common = ["--loglevel=debug", f"--redis=127.0.0.1:{redis}"]
        commands = [
            [str(bin_dir / "redis-server"), "--port", str(redis), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir)],
            [str(bin_dir / "argocd-repo-server"), *common, f"--port={repo_server}", "--disable-tls",
             f"--metrics-port={free_port()}", "--revision-cache-expiration=5s"],  # sees a push within seconds
            [str(bin_dir / ARGO_CONTROLLER), *common, f"--kubeconfig={api.kubeconfig}", f"--namespace={ARGO_NAMESPACE}",
             f"--repo-server=127.0.0.1:{repo_server}", "--repo-server-plaintext", f"--metrics-port={free_port()}",
             "--app-resync=10", "--self-heal-timeout-seconds=2"],
        ]
        self.processes = []
        for command in commands:
            with (workdir / f"{Path(command[0]).name}.log").open("wb") as log:
                self.processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
            time.sleep(1)  # Redis before its clients, the repo-server before the controller



def argocd_bootstrap(cluster: APIServer, first: list[dict[str, Any]]) -> None:
    """What an Argo CD install and the README's first step leave behind: the argocd namespace,
    Argo CD's own settings (argocd-cm with sync impersonation on, as the README tells users;
    argocd-secret), the controller's account bound to cluster-admin (install.yaml's controller
    ClusterRole allows every verb on every resource), then `first`, applied once: the stage's
    platform AppProject and root Application."""
    part_of = {"app.kubernetes.io/part-of": "argocd"}
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ARGO_NAMESPACE}}])
    cluster.apply([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": ARGO_NAMESPACE, "labels": part_of},
         "data": {"application.sync.impersonation.enabled": "true", "timeout.reconciliation": "10s"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "argocd-secret", "namespace": ARGO_NAMESPACE, "labels": part_of},
         "stringData": {"server.secretkey": "govstack-gen-e2e"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": ARGO_CONTROLLER, "namespace": ARGO_NAMESPACE}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": ARGO_CONTROLLER},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "ServiceAccount", "name": ARGO_CONTROLLER, "namespace": ARGO_NAMESPACE}]},
    ])
    cluster.apply(first)


def items(cluster: APIServer, kind: str, namespace: str) -> list[dict[str, Any]]:
    """The objects of a kind in a namespace, as the API server has them."""
    return list(json.loads(cluster.kubectl("get", kind, "-n", namespace, "-o", "json").stdout)["items"])


def wait_for(what: str, check: Any, timeout_s: float = 120) -> None:
    """Poll `check` every 2 s; fail the test with `what` after `timeout_s`."""
    import pytest

    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(2)
