"""The image as SageMaker runs it: built once per session with local_test/build_image.sh, then
``docker run IMAGE train`` into a mounted folder, ``docker run IMAGE serve`` over a published
port (same predictions as the native program), and ``docker stop`` for both."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import ROOT, TEST_DIR, Job, program_env
from xgb_container.training import EXIT_TERMINATED

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PREFIX = "image-test"  # every image and container these tests create starts with it
MAX_IMAGE_BYTES = 700 * 1000 * 1000  # the target for the CPU image


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    """Run the docker CLI; its stdout."""
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


class Containers:
    """Names for the containers a test starts; all of them are removed afterwards."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def name(self, role: str) -> str:
        self.names.append(f"{PREFIX}-{role}-{uuid.uuid4().hex[:8]}")
        return self.names[-1]

    def remove_all(self) -> None:
        for name in self.names:
            docker("rm", "-f", name, check=False)


@pytest.fixture
def containers() -> Iterator[Containers]:
    made = Containers()
    yield made
    made.remove_all()


@pytest.fixture(scope="session")
def container_job(image: str, tmp_path_factory: pytest.TempPathFactory) -> Job:
    """local_test/test_dir trained by the image, in a container, into a mounted folder."""
    base = tmp_path_factory.mktemp("container-train") / "ml"
    shutil.copytree(TEST_DIR, base)
    made = Containers()
    try:
        done = subprocess.run(
            ["docker", "run", "--rm", "--name", made.name("train"), "-v", f"{base}:/opt/ml"]
            + [image, "train"],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        made.remove_all()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return Job(base)


def applicants() -> str:
    """The test split's applicants as SageMaker sends them: CSV, no header, no label."""
    text = (TEST_DIR / "input" / "data" / "test" / "german_credit_test.csv").read_text()
    rows = list(csv.reader(io.StringIO(text)))
    label = rows[0].index("creditability")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows[1:]:
        writer.writerow(row[:label] + row[label + 1 :])
    return out.getvalue()


def wait_for_ping(url: str, alive, timeout: float = 240) -> None:
    """Wait until ``GET url/ping`` answers 200 (SageMaker allows 4 minutes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise AssertionError("the server exited before answering /ping")
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no 200 on {url}/ping within {timeout} s")


def scores(url: str, body: str) -> list[float]:
    answer = requests.post(
        f"{url}/invocations",
        data=body.encode(),
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return [float(line) for line in answer.text.splitlines()]


def container_state(name: str) -> dict:
    return json.loads(docker("inspect", "-f", "{{json .State}}", name))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_image_honours_the_contract(image: str, containers: Containers) -> None:
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", image))
    assert config["Entrypoint"] == ["/opt/venv/bin/python", "-m", "xgb_container"]
    assert not config.get("Cmd")  # without argument the contract found decides (test_main.py)
    assert config["Labels"]["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    assert config["Labels"]["com.amazonaws.sagemaker.capabilities.multi-models"] == "true"
    size = int(docker("image", "inspect", "-f", "{{.Size}}", image))
    assert size < MAX_IMAGE_BYTES, f"the image is {size / 1e6:.0f} MB"
    # Nothing under /opt/ml (SageMaker mounts over it), no compiler, XGBoost at the locked version.
    probe = docker(
        "run", "--rm", "--name", containers.name("probe"), "--entrypoint", "/bin/sh", image, "-c",
        "test ! -e /opt/ml && echo no-opt-ml;"
        "for c in gcc cc g++ clang; do command -v $c; done;"
        "python -c 'import xgboost; print(xgboost.__version__)'",
    )  # fmt: skip
    lock = (ROOT / "requirements" / "image-cpu.txt").read_text()
    assert probe.splitlines()[0] == "no-opt-ml"
    assert len(probe.splitlines()) == 2, f"a compiler is in the image: {probe}"
    assert f"xgboost-cpu=={probe.splitlines()[1]}\n" in lock


def test_train_in_container_writes_model_and_evaluation(container_job: Job) -> None:
    assert (container_job.model_dir / "xgboost-model").stat().st_size > 0
    meta = json.loads((container_job.model_dir / "metadata.json").read_text())
    assert "creditability" not in meta["feature_names"]
    assert len(meta["feature_names"]) == 20
    for channel in ("validation", "test"):
        auc = container_job.evaluation(channel)["roc_auc"]
        assert 0.7 < auc <= 1.0, (channel, auc)  # reference: about 0.79 on German Credit
    assert (container_job.base / "output" / "data" / "roc-curve-test.png").stat().st_size > 0
    assert not (container_job.base / "output" / "failure").exists()


def test_serve_in_container_matches_native_and_stops_cleanly(
    image: str, container_job: Job, containers: Containers, tmp_path: Path
) -> None:
    body = applicants()
    name = containers.name("serve")
    started = time.monotonic()
    docker(
        "run", "-d", "--name", name, "-p", "127.0.0.1::8080",
        "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=1",
        "-v", f"{container_job.model_dir}:/opt/ml/model:ro", image, "serve",
    )  # fmt: skip
    host, port = docker("port", name, "8080/tcp").splitlines()[0].rsplit(":", 1)
    url = f"http://{host}:{port}"
    wait_for_ping(url, lambda: container_state(name)["Running"])
    print(f"container serve: first 200 on /ping {time.monotonic() - started:.2f} s after run")
    served = scores(url, body)

    native_base = tmp_path / "ml"
    shutil.copytree(container_job.model_dir, native_base / "model")
    native_port = free_port()
    env = program_env(
        native_base,
        SAGEMAKER_BIND_TO_PORT=str(native_port),
        SAGEMAKER_MODEL_SERVER_WORKERS="1",
        SERVE_HOST="127.0.0.1",
    )
    with (tmp_path / "native.log").open("wb") as log:
        native = subprocess.Popen(
            [sys.executable, "-m", "xgb_container", "serve"], env=env, stdout=log, stderr=log
        )
    try:
        native_url = f"http://127.0.0.1:{native_port}"
        wait_for_ping(native_url, lambda: native.poll() is None, timeout=120)
        expected = scores(native_url, body)
    finally:
        native.terminate()
        native.wait(timeout=60)

    assert len(served) == body.count("\n") == 150
    assert all(0.0 <= p <= 1.0 for p in served)
    assert served == pytest.approx(expected, rel=1e-6, abs=1e-7)

    docker("stop", "-t", "30", name, timeout=60)
    state = container_state(name)
    assert (state["ExitCode"], state["OOMKilled"]) == (0, False), docker("logs", name)


def test_docker_stop_ends_training_with_the_model_saved(
    image: str, containers: Containers, tmp_path: Path
) -> None:
    base = tmp_path / "ml"
    shutil.copytree(TEST_DIR, base)
    job = Job(base)
    hp = json.loads((base / "input" / "config" / "hyperparameters.json").read_text())
    hp.pop("early_stopping_rounds")
    job.write_config("hyperparameters", {**hp, "num_round": "1000000"})
    name = containers.name("train-stop")
    docker("run", "-d", "--name", name, "-v", f"{base}:/opt/ml", image, "train")
    deadline = time.monotonic() + 300
    while "[20]" not in docker("logs", name):  # round 20 is past start-up: training runs
        assert container_state(name)["Running"], docker("logs", name)
        assert time.monotonic() < deadline, "training did not reach round 20 in 300 s"
        time.sleep(0.2)

    docker("stop", "-t", "120", name, timeout=180)  # SageMaker's grace period for training
    state = container_state(name)
    logs = docker("logs", name)
    # The program's own SIGTERM exit, as natively; 137 would mean docker had to SIGKILL it.
    assert state["ExitCode"] == EXIT_TERMINATED, logs[-3000:]
    assert "Stopped by SIGTERM after" in logs
    meta = json.loads((job.model_dir / "metadata.json").read_text())
    assert meta["extra"]["stopped_by_sigterm"] is True
    assert 20 <= meta["extra"]["num_boosted_rounds"] < 1000000
    assert (job.model_dir / "xgboost-model").stat().st_size > 0
    assert not (base / "output" / "failure").exists()


def test_build_script_reuses_its_caches(image: str) -> None:
    """A second build with nothing changed downloads and bootstraps nothing."""
    done = subprocess.run(
        [str(ROOT / "local_test" / "build_image.sh"), image],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "already in .cache/wheels/cpu" in done.stderr
    assert "bootstrapping" not in done.stderr and "downloading" not in done.stderr
