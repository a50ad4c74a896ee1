"""Running ``python -m xgb_container serve`` as a real process on a free loopback port."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import requests
import xgboost as xgb
from conftest import program_env
from xgb_container.metadata import ModelMetadata

LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


class Server:
    """A serve process; ``url(path)`` addresses it. Its log is in ``log_path``."""

    def __init__(self, base: Path, log_path: Path, workers: int = 2, **env: str) -> None:
        self.log_path = log_path
        self.workers = workers
        extra = {
            "SAGEMAKER_BIND_TO_PORT": "0",
            "SERVE_HOST": "127.0.0.1",
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
            **env,
        }
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xgb_container", "serve"],
            env=program_env(base, **extra),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.port = 0

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = 60, marker: str = "loaded the model") -> Server:
        """Wait until every worker has logged ``marker`` and ``/ping`` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.log}")
            found = LISTENING.search(self.log)
            if found and self.log.count(marker) >= self.workers:
                self.port = int(found.group(1))
                if requests.get(self.url("/ping"), timeout=5).status_code == 200:
                    return self
            time.sleep(0.05)
        raise TimeoutError(f"server not ready in {timeout} s:\n{self.log}")

    def worker_processes(self) -> list[psutil.Process]:
        """The gunicorn worker processes (behind nginx, the children of the forked master)."""
        children = psutil.Process(self.proc.pid).children()
        if any(c.name() == "nginx" for c in children):
            (master,) = [c for c in children if c.name() != "nginx"]
            return master.children()
        return children

    def front_end_processes(self) -> list[psutil.Process]:
        """nginx's processes (none when gunicorn runs alone)."""
        tree = psutil.Process(self.proc.pid).children(recursive=True)
        return [p for p in tree if p.name() == "nginx"]

    def holds(self, client: tuple[str, int]) -> bool:
        """Whether a process of the server (nginx or a worker) has ``client``'s connection."""
        for proc in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if any(c.raddr and tuple(c.raddr) == client for c in proc.net_connections()):
                    return True
            except psutil.NoSuchProcess:
                continue
        return False

    def invoke(self, body: bytes | str, content_type: str = "text/csv", **headers: str):
        headers = {"Content-Type": content_type, **headers}
        data = body.encode() if isinstance(body, str) else body
        return requests.post(self.url("/invocations"), data=data, headers=headers, timeout=30)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._log.close()


def run_serve(base: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """Run serve expecting it to stop by itself (a model it refuses)."""
    extra = {"SAGEMAKER_BIND_TO_PORT": "0", "SERVE_HOST": "127.0.0.1", **env}
    return subprocess.run(
        [sys.executable, "-m", "xgb_container", "serve"],
        env=program_env(base, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def save_model(
    base: Path, booster: xgb.Booster, meta: ModelMetadata | None, fmt: str = "ubj"
) -> Path:
    """Write ``booster`` (and ``meta``) where serve looks for them; the model folder."""
    model_dir = base / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "xgboost-model").write_bytes(bytes(booster.save_raw(fmt)))
    if meta is not None:
        meta.save(model_dir / "metadata.json")
    return model_dir


def load_booster(model_dir: Path) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray((model_dir / "xgboost-model").read_bytes()))
    return booster


def train_numeric(
    base: Path, objective: str, num_class: int = 0, n_features: int = 5, rows: int = 400
) -> tuple[xgb.Booster, np.ndarray]:
    """A small real model on synthetic numbers, saved under ``base``; the booster and X."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(rows, n_features)).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan
    score = np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1])
    params: dict = {"objective": objective, "max_depth": 3, "nthread": 1}
    if num_class:
        y = np.digitize(score, np.quantile(score, np.linspace(0, 1, num_class + 1)[1:-1]))
        params["num_class"] = num_class
    elif objective.startswith("binary"):
        y = (score > 0).astype(np.float32)
    else:
        y = score * 10
    names = [f"f{i}" for i in range(n_features)]
    booster = xgb.train(params, xgb.DMatrix(X, label=y, feature_names=names), 20)
    classes = [f"class{i}" for i in range(num_class)] if num_class else None
    meta = ModelMetadata(
        feature_names=names,
        feature_types=["q"] * n_features,
        objective=objective,
        input_format="csv",
        xgboost_version=xgb.__version__,
        classes=classes,
        num_class=num_class,
    )
    save_model(base, booster, meta)
    return booster, X


def table_matrix(meta: dict, frame: pd.DataFrame) -> xgb.DMatrix:
    """A raw table encoded here, independently of the package, from metadata.json's schema."""
    columns = []
    for name, kind in zip(meta["feature_names"], meta["feature_types"], strict=True):
        if kind == "c":
            codes = pd.Categorical(frame[name], categories=meta["categories"][name]).codes
            columns.append(np.where(codes < 0, np.nan, codes))
        else:
            columns.append(frame[name].to_numpy(dtype=float))
    return xgb.DMatrix(
        np.column_stack(columns).astype(np.float32),
        feature_names=meta["feature_names"],
        feature_types=meta["feature_types"],
        enable_categorical=True,
    )
