"""Shared test helpers: /opt/ml-shaped job folders and the programs as real processes.

Under ``CI=true`` a test marked ``docker`` or ``root`` that is skipped fails instead: CI
must not go green by not running what it exists to run (``pytest_runtest_makereport``).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "container"
DATA_DIR = ROOT / "tests" / "data"
TEST_DIR = ROOT / "local_test" / "test_dir"
GERMAN = DATA_DIR / "german_credit.csv"
TAIWAN = DATA_DIR / "taiwan_default_of_credit_card_clients.csv.gz"


def program_env(base: Path, **extra: str) -> dict[str, str]:
    """Environment for running ``python -m xgb_container`` against ``base``."""
    env = dict(os.environ)
    env["SAGEMAKER_BASE_DIR"] = str(base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Job:
    """An ``/opt/ml``-shaped folder for one training job."""

    base: Path

    def write_config(self, name: str, content: object) -> None:
        path = self.base / "input" / "config" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))

    def hyperparameters(self, **values: object) -> None:
        self.write_config("hyperparameters", {k: str(v) for k, v in values.items()})

    def channel(self, name: str, content_type: str = "text/csv") -> Path:
        folder = self.base / "input" / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        config_path = self.base / "input" / "config" / "inputdataconfig.json"
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
        config[name] = {"ContentType": content_type, "TrainingInputMode": "File"}
        self.write_config("inputdataconfig", config)
        return folder

    def train(self, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "xgb_container", "train"],
            env=program_env(self.base, **env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def failure(self) -> str:
        path = self.base / "output" / "failure"
        return path.read_text() if path.exists() else ""

    def evaluation(self, channel: str) -> dict:
        return json.loads(
            (self.base / "output" / "data" / f"evaluation-{channel}.json").read_text()
        )


@pytest.fixture
def job(tmp_path: Path) -> Job:
    """An empty job folder with a one-host resource config."""
    j = Job(tmp_path / "ml")
    j.write_config("resourceconfig", {"current_host": "algo-1", "hosts": ["algo-1"]})
    return j


@pytest.fixture
def german_job(tmp_path: Path) -> Job:
    """A copy of local_test/test_dir: German Credit with its bundled configs."""
    base = tmp_path / "ml"
    shutil.copytree(TEST_DIR, base)
    return Job(base)


@pytest.fixture(scope="session")
def german_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained once per session on the bundled German Credit job; its model folder."""
    base = tmp_path_factory.mktemp("german") / "ml"
    shutil.copytree(TEST_DIR, base)
    done = Job(base).train()
    assert done.returncode == 0, done.stderr
    return base / "model"


IMAGE_TAG = "xgb-container:test"  # the one image every container test builds and uses


STRICT_MARKS = ("docker", "root")
ENGINE_DEADLINE_S = 180  # a loaded machine can take long to answer `docker version`
ATTEMPT_S = 60.0  # one `docker version` call


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@functools.cache
def engine_missing() -> str | None:
    """Why no Docker engine can be used here, or None when one answers.

    ``docker version`` is asked again until a deadline: one slow answer on a busy machine
    is not an absent engine. An engine that refuses the connection is final at once,
    except in CI, where the engine may still be starting.
    """
    if shutil.which("docker") is None:
        return "no Docker engine: the docker CLI is not installed"
    deadline = time.monotonic() + ENGINE_DEADLINE_S
    reason = "no answer"
    while time.monotonic() < deadline:
        try:
            done = subprocess.run(
                ["docker", "version", "--format", "{{.Server.Version}}"],
                capture_output=True,
                text=True,
                timeout=max(0.5, min(ATTEMPT_S, deadline - time.monotonic())),
            )
        except subprocess.TimeoutExpired:
            reason = "`docker version` got no answer"
            continue
        if done.returncode == 0 and done.stdout.strip():
            return None
        reason = (done.stderr.strip().splitlines() or ["no server version"])[-1]
        if not in_ci():
            break
        time.sleep(1)
    return f"no Docker engine answers within {ENGINE_DEADLINE_S} s: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under CI, a skipped ``docker``/``root`` test is a failure that says why it skipped."""
    outcome = yield
    report = outcome.get_result()
    marks = sorted({m.name for m in item.iter_markers()} & set(STRICT_MARKS))
    if not (report.skipped and marks and in_ci()) or hasattr(report, "wasxfail"):
        return
    why = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"CI=true: this {'/'.join(marks)} test must run in CI, but it was skipped: {why}"
    )


@pytest.fixture(scope="session")
def image() -> str:
    """The CPU image, built (or found up to date) once per session by local_test/build_image.sh;
    ``XGB_IMAGE`` names an image already built instead."""
    reason = engine_missing()
    if reason:
        pytest.skip(reason)
    if os.environ.get("XGB_IMAGE"):
        return os.environ["XGB_IMAGE"]
    done = subprocess.run(
        [str(ROOT / "local_test" / "build_image.sh"), IMAGE_TAG],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stderr[-6000:]
    return IMAGE_TAG
