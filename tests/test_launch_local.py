"""sagemaker_launch.py --local: the real image in real containers on the local Docker engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from emulators import ROOT_DIR, docker_available

LAUNCH = ROOT_DIR / "sagemaker_launch.py"
DATA = ROOT_DIR / "local_test" / "test_dir" / "input" / "data"
HYPERPARAMETERS = ROOT_DIR / "local_test" / "test_dir" / "input" / "config" / "hyperparameters.json"
LABEL = "sagemaker-launch"

pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(not docker_available(), reason="no Docker engine runs on this machine"),
]


@pytest.fixture(scope="session")
def image() -> str:
    """The project image: XGB_IMAGE when set (already built), else local_test/build_image.sh."""
    if os.environ.get("XGB_IMAGE"):
        return os.environ["XGB_IMAGE"]
    done = subprocess.run(
        [str(ROOT_DIR / "local_test" / "build_image.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def in_image(image: str, code: str) -> bool:
    done = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "/opt/venv/bin/python", image, "-c", code],
        capture_output=True,
    )
    return done.returncode == 0


@pytest.fixture(scope="session")
def serving_image(image: str) -> str:
    if not in_image(image, "import xgb_container.serving"):
        pytest.skip(f"{image} has no serving program yet (xgb_container.serving, branch serve)")
    return image


def launch(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LAUNCH), *args, "--local"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def leftovers(job: str) -> str:
    """Containers and networks of ``job`` still on the engine."""
    found = []
    for kind in ("ps", "network"):
        args = ["docker", kind, "ls", "-q"] if kind == "network" else ["docker", "ps", "-aq"]
        done = subprocess.run(
            [*args, "--filter", f"label={LABEL}={job}"], capture_output=True, text=True, check=True
        )
        found += done.stdout.split()
    return " ".join(found)


def read_config(base: Path, name: str) -> dict:
    return json.loads((base / "input" / "config" / f"{name}.json").read_text())


def test_single_host_training_lays_out_opt_ml_and_reports_metrics(image, tmp_path):
    job = f"launch-{uuid.uuid4().hex[:8]}"
    done = launch(
        "train", "--image", image, "--local-dir", str(tmp_path), "--job-name", job,
        "--train", str(DATA / "train"), "--validation", str(DATA / "validation"),
        "--content-type", "text/csv; header=present",
        "--hyperparameters", str(HYPERPARAMETERS), "--hp", "num_round=40",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    base = tmp_path / job / "hosts" / "algo-1"
    expected = json.loads(HYPERPARAMETERS.read_text())
    expected["num_round"] = "40"
    assert read_config(base, "hyperparameters") == expected
    assert read_config(base, "resourceconfig") == {
        "current_host": "algo-1",
        "hosts": ["algo-1"],
        "network_interface_name": "eth0",
    }
    assert read_config(base, "inputdataconfig")["train"] == {
        "ContentType": "text/csv; header=present",
        "TrainingInputMode": "File",
        "S3DistributionType": "FullyReplicated",
        "RecordWrapperType": "None",
    }
    assert (base / "input" / "data" / "train" / "german_credit_train.csv").read_bytes() == (
        DATA / "train" / "german_credit_train.csv"
    ).read_bytes()

    with tarfile.open(tmp_path / job / "model.tar.gz") as tar:
        assert {"xgboost-model", "metadata.json"} <= set(tar.getnames())
    assert f"training job {job} completed" in done.stdout
    # the image's MetricDefinitions applied to the container's log, as SageMaker does
    metrics = dict(
        line.removeprefix("metric ").split(" = ")
        for line in done.stdout.splitlines()
        if line.startswith("metric ")
    )
    assert 0.6 < float(metrics["validation:auc"]) <= 1.0
    assert "algo-1 | " in done.stderr
    assert leftovers(job) == ""


def test_failed_training_prints_its_failure_reason(image, tmp_path):
    job = f"launch-{uuid.uuid4().hex[:8]}"
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps({"num_rounds": 5}))
    done = launch(
        "train", "--image", image, "--local-dir", str(tmp_path), "--job-name", job,
        "--train", str(DATA / "train"), "--hyperparameters", str(hp),
    )  # fmt: skip
    assert done.returncode == 1
    reason = [line for line in done.stderr.splitlines() if line.startswith(f"training job {job}")]
    assert reason, done.stderr[-2000:]
    assert reason[0].startswith(f"training job {job} failed: algo-1: ")
    assert "num_round" in reason[0]  # the first line of the container's output/failure
    assert leftovers(job) == ""


def test_missing_local_image_is_named(tmp_path):
    done = launch(
        "train", "--image", "launch-test/absent:0", "--local-dir", str(tmp_path),
        "--train", str(DATA / "train"),
    )  # fmt: skip
    assert done.returncode == 2
    assert "image launch-test/absent:0 is not a local image" in done.stderr
