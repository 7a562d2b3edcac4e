"""Servers on loopback for the reconciliation test: a git server (smart HTTP, through
`git http-backend`) holding the rendered environment repository (and chart repositories), and a
Helm repository with tiny charts and real ones packaged from ../shared/charts. Both run in threads of the test process and stop with it."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Server:
    def __init__(self, handler: Any):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class GitServer(_Server):
    """Serves every bare repository under `root` as http://127.0.0.1:<port>/<name>.git."""

    def __init__(self, root: Path):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: pytest shows the output of failing tests
                pass

            def do_GET(self) -> None:
                self._backend(b"")

            def do_POST(self) -> None:
                self._backend(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _backend(self, body: bytes) -> None:
                path, _, query = self.path.partition("?")
                env = {"GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
                       "REQUEST_METHOD": self.command, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                       "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1", "GIT_CONFIG_NOSYSTEM": "1",
                       "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", "")}
                result = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env, check=False)
                head, _, payload = result.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        super().__init__(Handler)


def publish(worktree: Path, bare: Path) -> None:
    """Commit everything in `worktree` on branch main and mirror it into the bare repository."""
    git = ["git", "-c", "user.email=e2e@example.org", "-c", "user.name=e2e"]
    if not (worktree / ".git").exists():
        subprocess.run([*git, "init", "-q", "-b", "main", str(worktree)], check=True)
    subprocess.run([*git, "-C", str(worktree), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(worktree), "commit", "-q", "--allow-empty", "-m", "render"], check=True)
    if not bare.exists():
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "-C", str(worktree), "push", "-q", "--force", str(bare), "main"], check=True)


CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-greeting
data:
  greeting: {{ .Values.greeting | quote }}
"""


def chart_archive(name: str, version: str, extra: str = "") -> bytes:
    """A chart with one ConfigMap (and the `extra` template, if any): installable with nothing
    but an API server."""
    files = {
        f"{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\ndescription: e2e test chart\n",
        f"{name}/values.yaml": "greeting: hello\n",
        f"{name}/templates/configmap.yaml": CONFIGMAP,
        **({f"{name}/templates/extra.yaml": extra} if extra else {}),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _index(root: Path) -> str:
    """index.yaml of the archives in `root` (relative URLs), read from their Chart.yaml."""
    import yaml

    entries: dict[str, list[dict[str, Any]]] = {}
    for archive in sorted(root.glob("*.tgz")):
        with tarfile.open(archive) as tar:
            member = next(m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml"))
            handle = tar.extractfile(member)
            assert handle is not None
            meta = yaml.safe_load(handle.read())
        entries.setdefault(meta["name"], []).append({**meta, "digest": hashlib.sha256(archive.read_bytes()).hexdigest(),
                                                     "urls": [archive.name], "created": "2026-01-01T00:00:00Z"})
    return yaml.safe_dump({"apiVersion": "v1", "entries": entries})


class HelmRepository(_Server):
    """A Helm repository (index.yaml and chart archives) served from `root`: tiny generated
    charts (`extra`: a further template for some of them), and real chart folders packaged with
    `helm package` (`packaged`, with `helm`)."""

    def __init__(self, root: Path, charts: dict[str, str], packaged: tuple[Path, ...] = (), helm: str = "helm",
                 extra: dict[str, str] | None = None):
        root.mkdir(parents=True, exist_ok=True)
        for name, version in sorted(charts.items()):
            (root / f"{name}-{version}.tgz").write_bytes(chart_archive(name, version, (extra or {}).get(name, "")))
        for folder in packaged:
            subprocess.run([helm, "package", str(folder), "--destination", str(root)], check=True, capture_output=True)
        (root / "index.yaml").write_text(_index(root))

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any):
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


def chart_servers(tmp_path: Path, chart: Path, helm: str) -> Iterator[tuple[GitServer, HelmRepository]]:
    """A fixture's servers for one add-on chart: the git server, and a Helm repository with the
    tiny `greeting` chart and `chart` packaged."""
    git = GitServer(tmp_path / "git")
    repository = HelmRepository(tmp_path / "helm", {"greeting": "0.1.0"}, (chart,), helm)
    yield git, repository
    git.stop()
    repository.stop()


def publish_without_wait(repo: Path, release: str, bare: Path) -> None:
    """Publish the rendered `repo` with the HelmRelease file `release` (relative to it) installed
    without waiting for readiness: the tests' own setting, no pod becomes ready without a kubelet."""
    import yaml

    release_file = repo / release
    document = yaml.safe_load(release_file.read_text())
    document["spec"]["install"] |= {"disableWait": True}
    release_file.write_text(yaml.safe_dump(document, sort_keys=False))
    publish(repo, bare)
