"""Training jobs on several hosts in network namespaces: one /opt/ml folder per host."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import Job, program_env
from netns import Network


@dataclass
class Host:
    name: str
    job: Job
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def model(self) -> Path:
        return self.job.model_dir / "xgboost-model"

    def wrote_model_dir(self) -> bool:
        return self.job.model_dir.exists() and any(self.job.model_dir.iterdir())


@dataclass
class Hosts:
    """``count`` jobs with the same configs except ``current_host``."""

    root: Path
    count: int
    distribution: str = "ShardedByS3Key"
    content_type: str = "text/csv"
    hosts: list[Host] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = [f"algo-{i}" for i in range(1, self.count + 1)]
        for name in names:
            job = Job(self.root / name / "ml")
            job.write_config("resourceconfig", {"current_host": name, "hosts": names})
            self.hosts.append(Host(name, job, self.root / name / "log.txt"))

    def __getitem__(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def hyperparameters(self, **values: object) -> None:
        for host in self.hosts:
            host.job.hyperparameters(**values)

    def channel(self, host: str, name: str) -> Path:
        """The channel folder of ``host`` (created, possibly left empty)."""
        job = self[host].job
        folder = job.channel(name, self.content_type)
        config = job.base / "input" / "config" / "inputdataconfig.json"
        data = json.loads(config.read_text())
        data[name]["S3DistributionType"] = self.distribution
        config.write_text(json.dumps(data))
        return folder

    def start(
        self,
        net: Network,
        names: list[str] | None = None,
        program: list[str] | None = None,
        **env: str,
    ) -> None:
        """Start ``program`` (the training program by default) on the hosts ``names`` (all)."""
        env = {"OMP_NUM_THREADS": "1", "XGB_DIST_TIMEOUT": "60", **env}
        argv = program or [sys.executable, "-m", "xgb_container", "train"]
        for host in self.hosts:
            if names is not None and host.name not in names:
                continue
            log = host.log_path.open("w")
            host.process = net.popen(
                host.name,
                argv,
                env=program_env(host.job.base, **env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()

    def wait(self, timeout: float = 300) -> dict[str, int]:
        """Exit codes of the started hosts; a host still running at the deadline fails."""
        deadline = time.monotonic() + timeout
        codes = {}
        for host in self.hosts:
            if host.process is None:
                continue
            left = max(0.1, deadline - time.monotonic())
            try:
                codes[host.name] = host.process.wait(timeout=left)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"{host.name} still runs after {timeout} s:\n{host.log}"
                ) from None
        return codes

    def wait_for_log(self, host: str, pattern: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self[host].log):
            process = self[host].process
            if process is not None and process.poll() is not None:
                raise AssertionError(f"{host} ended before {pattern!r}:\n{self[host].log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{host} never logged {pattern!r}:\n{self[host].log}")
            time.sleep(0.1)


def synthetic(rows: int, seed: int = 0) -> np.ndarray:
    """Label-first rows of a learnable binary problem (four features)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 4))
    logit = 1.5 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] * X[:, 3]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(float)
    return np.column_stack([y, X])


def write_csv(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, header=False, index=False, float_format="%.6g")
