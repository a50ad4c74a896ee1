"""Serving benchmark: this server and MLServer against the in-process limit, on one machine.

    .venv/bin/python benchmarks/serve_benchmark.py [--seconds 5]

Model: binary:logistic, hist, depth 6, 100 rounds on the Taiwan credit data (23 features).
Measures (1) single-thread in-process ``inplace_predict`` rows/s for 1 and 100 rows, (2) this
server (2 workers) and (3) MLServer 1.7.1 with its XGBoost runtime (2 parallel workers, in its
own virtualenv under .cache/, made here on first use) under ``wrk`` over loopback at 1 and 8
connections. R = served rows/s at 8 connections / (2 x in-process rows/s).
Results: printed as a Markdown table and written to .cache/serve-bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import requests
import xgboost as xgb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "container"))
from xgb_container.metadata import ModelMetadata  # noqa: E402

WORK = ROOT / ".cache" / "serve-bench"
MLSERVER_VENV = ROOT / ".cache" / "mlserver-venv"
MLSERVER_PINS = [
    "mlserver==1.7.1",
    "uvloop==0.21.0",
    f"xgboost-cpu=={xgb.__version__}",
    "scikit-learn==1.9.1",
]
TAIWAN = ROOT / "tests" / "data" / "taiwan_default_of_credit_card_clients.csv.gz"
SIZES = (1, 100)
CONNECTIONS = (1, 8)
LUA = """
local f = io.open(os.getenv("BENCH_BODY"), "rb")
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train() -> tuple[xgb.Booster, np.ndarray]:
    frame = pd.read_csv(TAIWAN).drop(columns=["ID"])
    y = frame.pop("default payment next month").to_numpy()
    X = frame.to_numpy(np.float32)
    params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6}
    booster = xgb.train(params, xgb.DMatrix(X, y, feature_names=list(frame.columns)), 100)
    model_dir = WORK / "ml" / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "xgboost-model").write_bytes(bytes(booster.save_raw("ubj")))
    ModelMetadata(
        list(frame.columns), ["q"] * X.shape[1], "binary:logistic", "csv", xgb.__version__
    ).save(model_dir / "metadata.json")
    return booster, X


def in_process(booster: xgb.Booster, X: np.ndarray, rows: int, seconds: float) -> float:
    """Best-of-5 single-thread ``inplace_predict`` rows/s on ``rows``-row float32 inputs."""
    booster.set_param({"nthread": 1})
    batches = [np.ascontiguousarray(X[i * rows : (i + 1) * rows]) for i in range(200)]
    best = 0.0
    for _ in range(5):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 5:
            for batch in batches:
                booster.inplace_predict(batch)
            calls += len(batches)
        best = max(best, calls * rows / (time.perf_counter() - start))
    return best


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants."""
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def seconds_of(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def run_wrk(url: str, body: Path, content_type: str, connections: int, seconds: float, pid: int):
    """One wrk run; requests/s, p50/p99 in ms, error count, server CPU ms per request."""
    script = WORK / "post.lua"
    script.write_text(LUA)
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_TYPE": content_type}
    base = ["wrk", "-t1", f"-c{connections}", "-s", str(script), "--latency", url]
    subprocess.run([*base[:3], "-d1s", *base[3:]], env=env, capture_output=True, check=True)
    cpu = tree_cpu(pid)
    out = subprocess.run(
        [*base[:3], f"-d{seconds:g}s", *base[3:]], env=env, capture_output=True, text=True
    ).stdout
    cpu = tree_cpu(pid) - cpu
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(bad.group(1)) if bad else 0
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": seconds_of(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)) * 1e3,
        "p99_ms": seconds_of(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)) * 1e3,
        "errors": errors,
        "cpu_ms_per_request": cpu / max(total, 1) * 1e3,
    }


def wait_until(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited {proc.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bodies(X: np.ndarray) -> dict[str, dict[int, Path]]:
    """Request bodies: CSV for this server, V2 inference JSON for MLServer."""
    out: dict[str, dict[int, Path]] = {"csv": {}, "v2": {}}
    for rows in SIZES:
        chunk = X[:rows]
        csv = WORK / f"rows{rows}.csv"
        csv.write_text("\n".join(",".join(f"{v:g}" for v in r) for r in chunk.tolist()) + "\n")
        v2 = WORK / f"rows{rows}.json"
        tensor = {"name": "input-0", "shape": list(chunk.shape), "datatype": "FP32"}
        v2.write_text(json.dumps({"inputs": [{**tensor, "data": chunk.ravel().tolist()}]}))
        out["csv"][rows], out["v2"][rows] = csv, v2
    return out


def bench_this_server(files: dict[int, Path], seconds: float) -> dict:
    port = free_port()
    env = {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(WORK / "ml"),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SERVE_HOST": "127.0.0.1",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        "PYTHONPATH": str(ROOT / "container"),
    }
    log = (WORK / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "xgb_container", "serve"], env=env, stdout=log, stderr=log
    )
    try:
        wait_until(f"http://127.0.0.1:{port}/ping", proc)
        url = f"http://127.0.0.1:{port}/invocations"
        return sweep(url, files, "text/csv", seconds, proc.pid)
    finally:
        stop(proc)


def sweep(url: str, files: dict[int, Path], content_type: str, seconds: float, pid: int) -> dict:
    """wrk at every request size and connection count against one running server."""
    return {
        f"{rows}x{c}": run_wrk(url, files[rows], content_type, c, seconds, pid)
        for rows in SIZES
        for c in CONNECTIONS
    }


def noop_app(environ: dict, start_response) -> list[bytes]:  # noqa: ANN001
    """A WSGI app that reads the body and answers one fixed number: the HTTP overhead alone."""
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/csv"), ("Content-Length", "4")])
    return [b"0.5\n"]


def bench_noop(files: dict[int, Path], seconds: float) -> dict:
    """gunicorn (2 sync workers, as this server runs) with ``noop_app``: R's ceiling here."""
    port = free_port()
    log = (WORK / "noop.log").open("wb")
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "sync", "--no-control-socket"]
    command += ["-b", f"127.0.0.1:{port}", "--chdir", str(ROOT / "benchmarks")]
    proc = subprocess.Popen([*command, "serve_benchmark:noop_app"], stdout=log, stderr=log)
    try:
        wait_until(f"http://127.0.0.1:{port}/", proc)
        url = f"http://127.0.0.1:{port}/invocations"
        return sweep(url, files, "text/csv", seconds, proc.pid)
    finally:
        stop(proc)


def mlserver_venv() -> Path:
    """MLServer in its own virtualenv (Python 3.12, as MLServer 1.7.1 supports), made once."""
    python = MLSERVER_VENV / "bin" / "python"
    if not (MLSERVER_VENV / "bin" / "mlserver").exists():
        candidates = [
            "python3.12",
            *map(str, Path("/root/.pyenv/versions").glob("3.12*/bin/python3")),
        ]
        base = next((c for c in candidates if shutil.which(c)), None)
        if base is None:
            raise SystemExit("MLServer needs a Python 3.12 interpreter; none found")
        subprocess.run([base, "-m", "venv", str(MLSERVER_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, *MLSERVER_PINS], check=True)
        # The runtime asks for plain xgboost (with 300 MB of NCCL); xgboost-cpu is the same API.
        subprocess.run([*pip, "--no-deps", "mlserver-xgboost==1.7.1"], check=True)
    return MLSERVER_VENV / "bin" / "mlserver"


def bench_mlserver(booster: xgb.Booster, files: dict[int, Path], seconds: float) -> dict:
    mlserver = mlserver_venv()
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
    port = free_port()
    settings = {
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 2,
        "host": "127.0.0.1",
    }
    (repo / "settings.json").write_text(json.dumps(settings))
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


def table(results: dict) -> str:
    lines = [
        "| server | rows/request | connections | rows/s | p50 ms | p99 ms | errors | "
        "server CPU ms/request | R |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("this server", "gunicorn, empty app", "MLServer 1.7.1"):
        for key, r in results.get(name, {}).items():
            rows, conns = map(int, key.split("x"))
            rate = r["requests_per_s"] * rows
            r_value = rate / (2 * results["in-process rows/s"][str(rows)]) if conns == 8 else None
            lines.append(
                f"| {name} | {rows} | {conns} | {rate:,.0f} | {r['p50_ms']:.2f} | "
                f"{r['p99_ms']:.2f} | {r['errors']} | {r['cpu_ms_per_request']:.3f} | "
                + (f"{r_value:.2f} |" if r_value is not None else "|")
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="wrk duration per point")
    parser.add_argument("--skip-mlserver", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: run scripts/setup.sh (installs Debian's wrk)")
    WORK.mkdir(parents=True, exist_ok=True)
    booster, X = train()
    files = bodies(X)
    results: dict = {
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_before": os.getloadavg(),
        "in-process rows/s": {str(n): in_process(booster, X, n, 5) for n in SIZES},
    }
    results["this server"] = bench_this_server(files["csv"], args.seconds)
    results["gunicorn, empty app"] = bench_noop(files["csv"], args.seconds)
    if not args.skip_mlserver:
        results["MLServer 1.7.1"] = bench_mlserver(booster, files["v2"], args.seconds)
    results["load_average_after"] = os.getloadavg()
    (WORK / "results.json").write_text(json.dumps(results, indent=2))
    print(f"in-process single-thread rows/s: {results['in-process rows/s']}")
    print(
        f"load average before/after: {results['load_average_before']} / "
        f"{results['load_average_after']} on {results['cpus']} CPUs"
    )
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
