"""MLServer 1.7.1 with its XGBoost runtime, in its own virtualenv (made on first use)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import requests
import xgboost as xgb

from .load import sweep
from .model import ROOT, WORK
from .servers import free_port, stop, wait_until

MLSERVER_VENV = ROOT / ".cache" / "mlserver-venv"
MLSERVER_PINS = [
    "mlserver==1.7.1",
    "uvloop==0.21.0",
    f"xgboost-cpu=={xgb.__version__}",
    "scikit-learn==1.9.1",
]


def mlserver_python() -> str | None:
    """A Python 3.12 that really runs (a pyenv shim for a missing version refuses)."""
    candidates = ["python3.12", *map(str, Path("/root/.pyenv/versions").glob("3.12*/bin/python3"))]
    for candidate in candidates:
        path = shutil.which(candidate)
        if path is None:
            continue
        check = [path, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 12))"]
        if subprocess.run(check, capture_output=True).returncode == 0:
            return path
    return None


def mlserver_venv() -> Path:
    """MLServer in its own virtualenv (Python 3.12, as MLServer 1.7.1 supports), made once."""
    python = MLSERVER_VENV / "bin" / "python"
    if not (MLSERVER_VENV / "bin" / "mlserver").exists():
        base = mlserver_python()
        if base is None:
            raise RuntimeError("MLServer needs a Python 3.12 interpreter; none found")
        subprocess.run([base, "-m", "venv", str(MLSERVER_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, *MLSERVER_PINS], check=True)
        # The runtime asks for plain xgboost (with 300 MB of NCCL); xgboost-cpu is the same API.
        subprocess.run([*pip, "--no-deps", "mlserver-xgboost==1.7.1"], check=True)
    return MLSERVER_VENV / "bin" / "mlserver"


def model_repository(booster: xgb.Booster, port: int) -> Path:
    """MLServer's settings and one model, ``loan``, as it reads them."""
    repo = WORK / "mlserver"
    model = repo / "loan"
    model.mkdir(parents=True, exist_ok=True)
    (model / "model.ubj").write_bytes(bytes(booster.save_raw("ubj")))
    (model / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "loan",
                "implementation": "mlserver_xgboost.XGBoostModel",
                "parameters": {"uri": "./model.ubj"},
            }
        )
    )
    settings = {
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 2,
        "host": "127.0.0.1",
    }
    (repo / "settings.json").write_text(json.dumps(settings))
    return repo


def bench_mlserver(booster: xgb.Booster, files: dict[int, Path], seconds: float) -> dict:
    mlserver = mlserver_venv()
    port = free_port()
    repo = model_repository(booster, port)
    log = (WORK / "mlserver.log").open("wb")
    proc = subprocess.Popen([str(mlserver), "start", str(repo)], stdout=log, stderr=log, cwd=repo)
    try:
        wait_until(f"http://127.0.0.1:{port}/v2/models/loan/ready", proc)
        url = f"http://127.0.0.1:{port}/v2/models/loan/infer"
        check = requests.post(url, data=files[1].read_bytes(), timeout=10)
        check.raise_for_status()
        return sweep(url, files, "application/json", seconds, proc.pid)
    finally:
        stop(proc)
