"""A multi-model endpoint as a real serve process on loopback, with its models folder."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psutil
import requests
from serve_harness import Server

READY = "serves a multi-model endpoint"


class Endpoint:
    """``serve`` with ``SAGEMAKER_MULTI_MODEL=true``; models go under ``models`` (the url root)."""

    def __init__(self, tmp_path: Path, workers: int = 2, **env: str) -> None:
        self.base = tmp_path / "ml"
        self.models = self.base / "models"
        self.models.mkdir(parents=True, exist_ok=True)
        tmp = tmp_path / "tmp"  # the registry folder is created in here (TMPDIR)
        tmp.mkdir(exist_ok=True)
        self.tmp = tmp
        self.server = Server(
            self.base,
            tmp_path / "serve.log",
            workers=workers,
            SAGEMAKER_MULTI_MODEL="true",
            TMPDIR=str(tmp),
            **env,
        )
        self.server.wait_ready(marker=READY)
        self.session = requests.Session()

    def url(self, path: str) -> str:
        return self.server.url(path)

    @property
    def registry(self) -> Path:
        (folder,) = self.tmp.glob("xgb-models-*")
        return folder

    def add(self, name: str, url: str | Path) -> requests.Response:
        spec = {"model_name": name, "url": str(url)}
        return requests.post(self.url("/models"), json=spec, timeout=30)

    def delete(self, name: str) -> requests.Response:
        return requests.delete(self.url(f"/models/{name}"), timeout=30)

    def invoke(self, name: str, row: str) -> requests.Response:
        headers = {"Content-Type": "text/csv"}
        # A new connection each time, so that every worker gets a share of the requests.
        return requests.post(
            self.url(f"/models/{name}/invoke"), data=row, headers=headers, timeout=30
        )

    def workers(self) -> list[psutil.Process]:
        return self.server.worker_processes()  # gunicorn's workers, also behind nginx

    def worker_rss(self) -> dict[int, int]:
        return {p.pid: p.memory_info().rss for p in self.workers()}

    def loaded_by(self, name: str) -> set[int]:
        """The worker pids that logged loading ``name`` (any generation)."""
        found = re.findall(rf"worker (\d+) loaded model {re.escape(name)} ", self.server.log)
        return {int(pid) for pid in found}

    def use_on_every_worker(self, name: str, row: str, timeout: float = 30) -> None:
        """Invoke ``name`` concurrently until each worker has logged loading it."""
        wanted = {p.pid for p in self.workers()}
        deadline = time.monotonic() + timeout
        with ThreadPoolExecutor(4) as pool:
            while not wanted <= self.loaded_by(name):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not every worker loaded {name}:\n{self.server.log}")
                for got in pool.map(lambda _: self.invoke(name, row), range(8)):
                    assert got.status_code == 200, got.text

    def stop(self) -> int:
        return self.server.stop()


def csv_row(X: np.ndarray) -> str:
    return ",".join(repr(float(v)) for v in np.nan_to_num(X[0]))


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)
