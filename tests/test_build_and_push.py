"""build_and_push.sh against moto (ECR API) and a real local registry, then pulled back."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import boto3
import pytest
from conftest import engine_missing
from emulators import ROOT_DIR, docker_registry, moto_server

SCRIPT = ROOT_DIR / "build_and_push.sh"

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(engine_missing() is not None, reason=str(engine_missing())),
]


def docker(
    *args: str, check: bool = True, config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_CONFIG": str(config)} if config else None
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, env=env)


def image_id(ref: str) -> str:
    return docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()


def layer_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = f"launch test {uuid.uuid4()}\n".encode()
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def load_image(ref: str, architecture: str) -> None:
    """``docker load`` a one-layer image for ``architecture`` built here as a save archive."""
    layer = layer_tar()
    digest = hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "config": {"Labels": {"test": "build_and_push"}},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest}"]},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": [ref], "Layers": [f"{digest}/layer.tar"]}]
    ).encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, data in (
            (config_name, config),
            (f"{digest}/layer.tar", layer),
            ("manifest.json", manifest),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    subprocess.run(["docker", "load"], input=archive.getvalue(), capture_output=True, check=True)


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    with docker_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture
def tiny_image():
    """A small amd64 image made here (not the project image), removed afterwards."""
    ref = f"launch-test/tiny:{uuid.uuid4().hex[:8]}"
    load_image(ref, "amd64")
    yield ref
    docker("rmi", "-f", ref, check=False)


def run_script(moto, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = moto.env(DOCKER_CONFIG=str(tmp_path / "docker-config"), **env)
    return subprocess.run(
        [str(SCRIPT), *args], env=environment, capture_output=True, text=True, timeout=300
    )


def ecr(moto):
    return boto3.client("ecr", **moto.client_kwargs())


def test_push_creates_repository_logs_in_and_pulls_back(moto, registry, tiny_image, tmp_path):
    name = f"launch-test/xgb-{uuid.uuid4().hex[:6]}"
    done = run_script(
        moto, tmp_path, name, "t1", ECR_REGISTRY=registry.host, LOCAL_IMAGE=tiny_image
    )
    assert done.returncode == 0, done.stderr
    uri = f"{registry.host}/{name}:t1"
    assert done.stdout.strip() == uri
    assert "created ECR repository" in done.stderr
    repo = ecr(moto).describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert registry.tags(name) == ["latest", "t1"]

    source = image_id(tiny_image)
    for ref in (uri, f"{registry.host}/{name}:latest"):
        docker("rmi", ref)
    try:
        docker("pull", uri, config=tmp_path / "docker-config")  # where the script logged in
        assert image_id(uri) == source
    finally:
        docker("rmi", "-f", uri, check=False)


def test_default_tag_is_the_git_commit_and_an_existing_repository_is_kept(
    moto, registry, tiny_image, tmp_path
):
    name = f"launch-test/again-{uuid.uuid4().hex[:6]}"
    ecr(moto).create_repository(repositoryName=name)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT_DIR, capture_output=True, text=True
    ).stdout.strip()
    done = run_script(moto, tmp_path, name, ECR_REGISTRY=registry.host, LOCAL_IMAGE=tiny_image)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{registry.host}/{name}:{commit}"
    assert "created ECR repository" not in done.stderr
    assert registry.tags(name) == sorted([commit, "latest"])
    for tag in (commit, "latest"):
        docker("rmi", f"{registry.host}/{name}:{tag}", check=False)


def test_region_comes_from_the_cli_configuration(moto, registry, tiny_image, tmp_path):
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = ap-southeast-2\n")
    name = f"launch-test/region-{uuid.uuid4().hex[:6]}"
    done = run_script(
        moto,
        tmp_path,
        name,
        "r1",
        ECR_REGISTRY=registry.host,
        LOCAL_IMAGE=tiny_image,
        AWS_REGION="",
        AWS_DEFAULT_REGION="",
        AWS_CONFIG_FILE=str(config),
    )
    assert done.returncode == 0, done.stderr
    assert "region ap-southeast-2" in done.stderr
    client = boto3.client("ecr", **moto.client_kwargs(region="ap-southeast-2"))
    assert client.describe_repositories(repositoryNames=[name])["repositories"]
    for tag in ("r1", "latest"):
        docker("rmi", f"{registry.host}/{name}:{tag}", check=False)


def test_missing_region_is_named(moto, tmp_path):
    done = run_script(moto, tmp_path, "launch-test/x", "t", AWS_REGION="", AWS_DEFAULT_REGION="")
    assert done.returncode != 0
    assert "no AWS region" in done.stderr


def test_bad_name_and_tag_are_refused(moto, tmp_path):
    done = run_script(moto, tmp_path, "Bad_Name", "t")
    assert done.returncode != 0
    assert "not a valid ECR repository name" in done.stderr
    done = run_script(moto, tmp_path, "good", "bad tag")
    assert done.returncode != 0
    assert "not a valid image tag" in done.stderr


def test_missing_local_image_is_named(moto, registry, tmp_path):
    done = run_script(
        moto,
        tmp_path,
        "launch-test/none",
        "t",
        ECR_REGISTRY=registry.host,
        LOCAL_IMAGE="launch-test/absent:0",
    )
    assert done.returncode != 0
    assert "launch-test/absent:0 is not a local image" in done.stderr


def test_wrong_registry_password_fails_the_login(moto, tiny_image, tmp_path):
    with docker_registry(tmp_path / "other", password="not-the-ecr-token") as other:
        done = run_script(
            moto,
            tmp_path,
            "launch-test/denied",
            "t",
            ECR_REGISTRY=other.host,
            LOCAL_IMAGE=tiny_image,
        )
    assert done.returncode != 0
    assert f"docker login to {other.host} failed" in done.stderr


def test_an_arm64_image_is_refused(moto, registry, tmp_path):
    ref = f"launch-test/arm:{uuid.uuid4().hex[:8]}"
    load_image(ref, "arm64")
    try:
        done = run_script(
            moto, tmp_path, "launch-test/arm", "t", ECR_REGISTRY=registry.host, LOCAL_IMAGE=ref
        )
    finally:
        docker("rmi", "-f", ref, check=False)
    assert done.returncode != 0
    assert "is linux/arm64; SageMaker runs linux/amd64" in done.stderr


@pytest.mark.slow
def test_builds_the_project_image_pushes_and_pulls_it_back(moto, registry, tmp_path):
    """The whole path: local_test/build_image.sh, push, pull, and the pulled image trains."""
    name = "launch-test/xgb-real"
    tag = uuid.uuid4().hex[:8]
    done = run_script(moto, tmp_path, name, tag, ECR_REGISTRY=registry.host)
    assert done.returncode == 0, done.stderr[-3000:]
    uri = f"{registry.host}/{name}:{tag}"
    assert done.stdout.strip() == uri
    assert registry.tags(name) == sorted([tag, "latest"])
    built = image_id(uri)
    for ref in (f"{name}:{tag}", uri, f"{registry.host}/{name}:latest"):
        docker("rmi", ref)
    try:
        docker("pull", uri, config=tmp_path / "docker-config")
        assert image_id(uri) == built
        job = tmp_path / "ml"
        shutil.copytree(ROOT_DIR / "local_test" / "test_dir", job)
        trained = subprocess.run(
            ["docker", "run", "--rm", "-v", f"{job}:/opt/ml", uri, "train"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert trained.returncode == 0, trained.stderr[-3000:]
        assert (job / "model" / "xgboost-model").exists()
    finally:
        docker("rmi", "-f", uri, check=False)
