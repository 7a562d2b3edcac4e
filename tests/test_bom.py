"""`govstack-gen bom` and `--mirror`: every chart and image of the examples, per stage; the
mirrored tree takes every chart and image from the private registry and still validates."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from govstack_gen.bom import find_images, split_reference
from govstack_gen.cli import main
from helpers import CRDS, EXAMPLES, SANDBOX_COMMIT, kustomize_build, read_tree

K3S = EXAMPLES / "sandbox-k3s" / "environment.yaml"
REGISTRY = "registry.internal:5000/govstack"


def bom(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(["bom", *argv]) == 0
    return capsys.readouterr().out


def test_every_chart_and_image_per_stage(capsys: pytest.CaptureFixture[str]) -> None:
    report = json.loads(bom(capsys, str(K3S), "--format", "json"))
    charts = {(c["stage"], c["buildingBlock"]): (c["source"], c["url"], c["name"], c["version"]) for c in report["charts"]}
    assert len(charts) == len(report["charts"]) == 2 * 5  # two stages, five building blocks
    assert charts[("dev", "messaging")] == ("oci", "oci://registry-1.docker.io/bitnamicharts", "kafka", "26.2.0")
    assert charts[("prod", "messaging")] == ("oci", "oci://registry-1.docker.io/bitnamicharts", "kafka", "26.1.0")
    assert charts[("dev", "cache")] == ("helm", "https://charts.bitnami.com/bitnami", "redis", "17.11.6")
    # From the catalog entry the example names (catalog: {name: monitoring}).
    assert charts[("dev", "monitoring")] == ("helm", "https://prometheus-community.github.io/helm-charts", "prometheus", "25.27.0")
    assert charts[("prod", "digital-registries")] == (
        "git", "https://github.com/GovStackWorkingGroup/sandbox-deployment.git", "blocks/baserow", SANDBOX_COMMIT)
    images = sorted((i["stage"], i["buildingBlock"], i["image"], i["valuesPath"]) for i in report["images"])
    per_stage = [
        ("cache", "docker.io/bitnamilegacy/redis:7.0.11", "image"),
        ("digital-registries", "docker.io/bitnamilegacy/minio-client:2024.7.16-debian-12-r0", "minio.clientImage"),
        ("digital-registries", "docker.io/bitnamilegacy/minio:2024.7.4-debian-12-r0", "minio.image"),
        ("digital-registries", "docker.io/bitnamilegacy/postgresql:16.4.0-debian-12-r14", "postgresql.image"),
        ("digital-registries", "docker.io/bitnamilegacy/redis:7.2.5-debian-12-r0", "redis.image"),
        ("messaging", "docker.io/bitnamilegacy/jmx-exporter:0.19.0-debian-11-r95", "metrics.jmx.image"),
        ("messaging", "docker.io/bitnamilegacy/kafka:3.6.0", "image"),
    ]
    assert images == [(stage, *image) for stage in ("dev", "prod") for image in per_stage]


def test_csv_and_text_with_mirror_targets(capsys: pytest.CaptureFixture[str]) -> None:
    table = list(csv.DictReader(io.StringIO(bom(capsys, str(K3S), "--format", "csv", "--mirror", REGISTRY))))
    mirrors = {(r["type"], r["stage"], r["buildingBlock"], r["valuesPath"]): r["mirror"] for r in table}
    assert mirrors[("chart", "prod", "messaging", "")] == f"oci://{REGISTRY}/charts/kafka:26.1.0"
    assert mirrors[("chart", "dev", "digital-registries", "")] == f"oci://{REGISTRY}/charts/baserow:0.0.0-git.15bc76012828"
    assert mirrors[("image", "dev", "messaging", "image")] == f"{REGISTRY}/bitnamilegacy/kafka:3.6.0"
    text = bom(capsys, str(K3S), "--mirror", REGISTRY)
    assert text.splitlines()[0].split() == ["STAGE", "BUILDING", "BLOCK", "SOURCE", "CHART", "VERSION", "MIRROR"]
    rows = [line.split() for line in text.splitlines()]
    assert ["dev", "cache", "docker.io/bitnamilegacy/redis:7.0.11", "image", f"{REGISTRY}/bitnamilegacy/redis:7.0.11"] in rows


@pytest.mark.parametrize(("values", "found"), [
    ({"image": {"registry": "docker.io", "repository": "bitnami/kafka", "tag": "3.6.0"}},
     [("image", "docker.io/bitnami/kafka:3.6.0")]),
    ({"server": {"image": {"repository": "ghcr.io/org/app"}}}, [("server.image", "ghcr.io/org/app")]),
    ({"web": {"repository": "nginx", "tag": "1.27"}}, [("web", "docker.io/library/nginx:1.27")]),
    ({"sidecarImage": "busybox:1.36", "init": [{"image": "quay.io/org/tool@sha256:" + "a" * 64}]},
     [("sidecarImage", "docker.io/library/busybox:1.36"), ("init.0.image", "quay.io/org/tool@sha256:" + "a" * 64)]),
    ({"git": {"repository": "https://example.org/x.git"}, "image": "Not An Image", "imagePullPolicy": "Always"}, []),
])
def test_images_are_found_where_helm_charts_take_them(values: dict[str, Any], found: list[tuple[str, str]]) -> None:
    assert [(".".join(i.path), i.reference) for i in find_images(values)] == found


def test_references_are_normalised() -> None:
    assert split_reference("nginx") == ("docker.io", "library/nginx", None, None)
    assert split_reference("localhost:5000/a/b:1") == ("localhost:5000", "a/b", "1", None)
    assert split_reference("registry.k8s.io/pause:3.9") == ("registry.k8s.io", "pause", "3.9", None)
    assert split_reference("UPPER/case") is None


def test_the_mirrored_tree_takes_everything_from_the_registry_and_validates(tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "tree"
    assert main(["render", str(K3S), "-o", str(tree), "--mirror", REGISTRY]) == 0
    capsys.readouterr()
    assert main(["validate", str(K3S), "--tree", str(tree), "--crds", str(CRDS)]) == 0, capsys.readouterr().out
    objects = [o for stage in ("dev", "prod") for o in kustomize_build(tree / f"building-blocks/{stage}/messaging")]
    objects += [o for stage in ("dev", "prod") for o in kustomize_build(tree / f"building-blocks/{stage}/digital-registries")]
    sources = [o for o in objects if o["kind"] in ("HelmRepository", "OCIRepository", "GitRepository")]
    assert sources and all(o["spec"]["url"].startswith(f"oci://{REGISTRY}/charts/") for o in sources)
    # The sandbox's git charts, pinned to a commit, are packaged as a pre-release naming it.
    assert {o["spec"]["ref"]["tag"] for o in sources} == {"26.1.0", "26.2.0", "0.0.0-git.15bc76012828"}
    releases = [o for o in objects if o["kind"] == "HelmRelease"]
    images = [i for r in releases for i in find_images(r["spec"]["values"])]
    assert images and all(i.registry == REGISTRY.split("/")[0] or i.reference.startswith(REGISTRY) for i in images)
    assert "docker.io" not in "".join(c.decode() for c in read_tree(tree / "building-blocks").values())


def test_a_mirrored_tree_is_out_of_date_without_the_mirror(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "tree"
    assert main(["render", str(K3S), "-o", str(tree), "--mirror", REGISTRY]) == 0
    assert main(["render", str(K3S), "-o", str(tree), "--mirror", REGISTRY, "--check"]) == 0
    assert main(["render", str(K3S), "-o", str(tree), "--check"]) == 1


def test_an_invalid_registry_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bom", str(K3S), "--mirror", "https://Registry/"]) == 1
    assert main(["render", str(K3S), "-o", str(tmp_path / "t"), "--mirror", "https://Registry/"]) == 1
    err = capsys.readouterr().err
    assert "error[E801]: --mirror: 'https://Registry/' is not a registry (host[:port][/path], lower case, no scheme)" in err
    assert not (tmp_path / "t").exists()


EKS = EXAMPLES / "sandbox-eks" / "environment.yaml"
ADD_ONS = {"aws-efs-csi-driver", "cert-manager", "karpenter", "traefik"}  # what the EKS example's spec asks for


def tree_add_on_charts(tree: Path, stage: str) -> dict[str, tuple[str, str, str]]:
    """add-on -> (repository URL, chart, version) as the rendered Flux tree installs it (oracle:
    the built add-ons layer of the stage, its sources and HelmReleases)."""
    objects = kustomize_build(tree / f"addons/{stage}")
    sources = {(o["kind"], o["metadata"]["name"]): o["spec"] for o in objects if o["kind"] in ("HelmRepository", "OCIRepository")}
    out = {}
    for release in (o for o in objects if o["kind"] == "HelmRelease"):
        spec = release["spec"]
        if "chartRef" in spec:  # an OCI artifact: the chart is the last path component of its URL
            source = sources[("OCIRepository", spec["chartRef"]["name"])]
            url, chart = source["url"].rsplit("/", 1)
            out[release["metadata"]["name"]] = (url, chart, source["ref"]["tag"])
        else:
            chart_spec = spec["chart"]["spec"]
            source = sources[(chart_spec["sourceRef"]["kind"], chart_spec["sourceRef"]["name"])]
            out[release["metadata"]["name"]] = (source["url"], chart_spec["chart"], chart_spec["version"])
    return out


def test_the_add_ons_charts_are_listed_as_the_tree_installs_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(EKS), "-o", str(tmp_path / "tree")]) == 0
    report = json.loads(bom(capsys, str(EKS), "--format", "json"))
    listed = {(c["stage"], c["buildingBlock"]): (c["url"], c["name"], c["version"]) for c in report["charts"]}
    for stage in ("staging", "prod"):
        installed = tree_add_on_charts(tmp_path / "tree", stage)
        assert set(installed) == ADD_ONS
        for name, (url, chart, version) in installed.items():
            # An OCI repository's URL in the bom is the registry path without the chart's name.
            assert listed[(stage, name)] == (url, chart, version), name
    assert listed[("prod", "karpenter")] == ("oci://public.ecr.aws/karpenter", "karpenter", "1.14.1")


def test_the_mirror_serves_the_add_ons_charts_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "tree"
    assert main(["render", str(EKS), "-o", str(tree), "--mirror", REGISTRY]) == 0
    report = json.loads(bom(capsys, str(EKS), "--format", "json", "--mirror", REGISTRY))
    mirrors = {(c["stage"], c["buildingBlock"]): c["mirror"] for c in report["charts"]}
    for stage in ("staging", "prod"):
        installed = tree_add_on_charts(tree, stage)
        assert set(installed) == ADD_ONS
        for name, (url, chart, version) in installed.items():
            assert url == f"oci://{REGISTRY}/charts" and chart == name  # each of these charts is named as its add-on
            assert mirrors[(stage, name)] == f"{url}/{chart}:{version}"  # where bom says to push it
    # Argo CD: the add-on Applications and their project name the mirror, not the upstream repositories.
    variant = tmp_path / "argocd.yaml"
    variant.write_text(EKS.read_text().replace("gitops:\n", "gitops:\n  engine: argocd\n", 1))
    assert main(["render", str(variant), "-o", str(tmp_path / "argo"), "--mirror", REGISTRY]) == 0
    entry = kustomize_build(tmp_path / "argo" / "clusters" / "prod")
    apps = [o for o in entry if o["kind"] == "Application" and "chart" in o["spec"]["source"]]
    assert {a["metadata"]["name"] for a in apps if a["spec"]["project"] == "addons"} == ADD_ONS
    assert {a["spec"]["source"]["repoURL"] for a in apps if a["spec"]["project"] == "addons"} == {f"{REGISTRY}/charts"}
    [project] = [o for o in entry if o["kind"] == "AppProject" and o["metadata"]["name"] == "addons"]
    assert all(repo.startswith((REGISTRY, "ssh://")) for repo in project["spec"]["sourceRepos"])


@pytest.mark.usefixtures("chart_tools")
def test_validate_mirror_warns_of_the_add_ons_images_it_leaves(capsys: pytest.CaptureFixture[str]) -> None:
    """The add-ons' images are the charts' defaults: not rewritten by the mirror, each told (a
    warning, E729) with what the chart renders, and listed by bom --charts."""
    from helpers import SHARED

    capsys.readouterr()
    main(["validate", str(EKS), "--charts", "--chart-dir", str(SHARED / "charts"), "--offline", "--mirror", REGISTRY,
          "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    warned = {d["message"].split(":", 1)[0] for d in report["warnings"] if d["code"] == "E729"}
    assert warned == ADD_ONS
    karpenter = next(d["message"] for d in report["warnings"] if d["code"] == "E729" and d["message"].startswith("karpenter:"))
    listed = json.loads(bom(capsys, str(EKS), "--format", "json", "--charts", "--chart-dir", str(SHARED / "charts"), "--offline"))
    images = {i["image"] for i in listed["images"] if i["buildingBlock"] == "karpenter" and i["stage"] == "prod"}
    assert len(images) == 1 and images.pop() in karpenter
