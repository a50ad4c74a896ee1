"""Starting the image: a named program runs; without one the contract found decides (#9.4)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from conftest import TEST_DIR, program_env
from xgb_container.__main__ import choose
from xgb_container.paths import Layout

MONITORING = {"dataset_source": "/opt/ml/processing/input", "output_path": "/opt/ml/out"}


@pytest.mark.parametrize("config", ["hyperparameters.json", "inputdataconfig.json"])
def test_a_training_config_file_means_train(tmp_path, config):
    layout = Layout(tmp_path)
    layout.config_dir.mkdir(parents=True)
    (layout.config_dir / config).write_text("{}")
    program, why = choose(layout, MONITORING)  # training wins over a stray variable
    assert program == "train" and config in why


def test_the_monitoring_variables_mean_monitor(tmp_path):
    assert choose(Layout(tmp_path), MONITORING)[0] == "monitor"
    assert choose(Layout(tmp_path), {"dataset_source": "/x"})[0] == "serve"


def test_anything_else_means_serve(tmp_path):
    layout = Layout(tmp_path)
    (layout.config_dir / "hyperparameters.json").mkdir(parents=True)  # not a file
    program, why = choose(layout, {})
    assert program == "serve" and str(layout.config_dir) in why


def run(base: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xgb_container", *args],
        env=program_env(base),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_an_unknown_program_prints_the_usage(tmp_path):
    done = run(tmp_path, "fit")
    assert done.returncode == 2
    assert "usage: python -m xgb_container [train|serve|monitor]" in done.stderr


def test_no_argument_in_a_training_job_trains(tmp_path):
    base = tmp_path / "ml"
    shutil.copytree(TEST_DIR, base)
    done = run(base)
    assert done.returncode == 0, done.stderr
    assert "hyperparameters.json (the training contract), so running train" in done.stderr
    assert (base / "model" / "xgboost-model").is_file()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_ping(url: str, alive, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert alive(), "the server exited before answering /ping"
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no 200 on {url}/ping within {timeout} s")


def test_no_argument_with_only_a_model_serves(tmp_path, german_model):
    base = tmp_path / "ml"
    shutil.copytree(german_model, base / "model")
    port = free_port()
    with (tmp_path / "serve.log").open("wb") as log:
        env = program_env(base, SAGEMAKER_BIND_TO_PORT=str(port), SERVE_HOST="127.0.0.1")
        env["SAGEMAKER_MODEL_SERVER_WORKERS"] = "1"
        server = subprocess.Popen([sys.executable, "-m", "xgb_container"], env=env, stderr=log)
    try:
        wait_for_ping(f"http://127.0.0.1:{port}", lambda: server.poll() is None, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert "no training config in" in (tmp_path / "serve.log").read_text()
    assert "so running serve" in (tmp_path / "serve.log").read_text()


def docker(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.docker
@pytest.mark.slow
def test_the_image_without_argument_trains_then_serves(image, tmp_path):
    inspected = docker("image", "inspect", "-f", "{{json .Config.Cmd}}", image)
    assert inspected.stdout.strip() in ("null", "[]"), "no default CMD: the contract decides"
    base = tmp_path / "ml"
    shutil.copytree(TEST_DIR, base)
    name = f"image-test-main-{uuid.uuid4().hex[:8]}"
    try:
        trained = docker("run", "--rm", "--name", name, "-v", f"{base}:/opt/ml", image)
        assert trained.returncode == 0, trained.stderr[-3000:]
        assert "(the training contract), so running train" in trained.stderr
        assert (base / "model" / "xgboost-model").is_file()
        served = docker(
            "run", "-d", "--name", name, "-p", "127.0.0.1::8080",
            "-v", f"{base / 'model'}:/opt/ml/model:ro", image,
        )  # fmt: skip
        assert served.returncode == 0, served.stderr
        address = docker("port", name, "8080/tcp").stdout.splitlines()[0].rsplit(":", 1)
        running = lambda: "true" in docker("inspect", "-f", "{{.State.Running}}", name).stdout  # noqa: E731
        wait_for_ping(f"http://{address[0]}:{address[1]}", running)
        assert "so running serve" in docker("logs", name).stderr
    finally:
        docker("rm", "-f", name)
