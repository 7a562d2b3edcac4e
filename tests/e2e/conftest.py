"""Fixtures of the end-to-end tier: one etcd per session, one kube-apiserver (a cluster of its
own, under its own etcd prefix) per test, with the CRDs of ../shared/crds installed."""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from controlplane import APIServer, ControllerManager, Etcd, assets, crd_documents, keep_logs, stop

_clusters = itertools.count()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def bin_dir() -> Path:
    return assets()


@pytest.fixture(scope="session")
def etcd(bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Etcd]:
    server = Etcd(bin_dir, tmp_path_factory.mktemp("etcd"))
    server.start()
    yield server
    stop(server.process)


@pytest.fixture
def cluster(bin_dir: Path, etcd: Etcd, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[APIServer]:
    api = APIServer(bin_dir, tmp_path / "apiserver", etcd, prefix=f"cluster-{next(_clusters)}", audit=True)
    try:
        api.start()
        api.apply(crd_documents())
        api.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        yield api
    finally:
        api.stop()
        failed = request.node.stash.get(FAILED, True)
        if failed:
            print(api.log_tail())
        keep_logs(api.workdir, failed)


@pytest.fixture(scope="session")
def flux_bin() -> Path:
    return assets("flux")


@pytest.fixture(scope="session")
def argocd_bin() -> Path:
    return assets("argocd")


@pytest.fixture(scope="session")
def controller_manager_bin() -> Path:
    return assets("controller-manager")


@pytest.fixture
def controller_manager(controller_manager_bin: Path, cluster: APIServer, tmp_path: Path) -> Iterator[ControllerManager]:
    manager = ControllerManager(controller_manager_bin, tmp_path / "controller-manager", cluster)
    manager.start()
    yield manager
    manager.stop()
