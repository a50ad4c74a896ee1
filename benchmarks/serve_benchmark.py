"""Serving benchmark: this server, the HTTP floor and MLServer, on one machine.

    .venv/bin/python benchmarks/serve_benchmark.py [--seconds 5] [--skip-mlserver]

Model: binary:logistic, hist, depth 6, 100 rounds on the Taiwan credit data (23 features).
Measures, under ``wrk`` over loopback at 1 and 8 connections with 1- and 100-row CSV bodies:
- the in-process limit: single-thread ``inplace_predict`` calls/s on the same rows;
- this server (nginx in front of 2 gunicorn workers, as ``serve`` runs);
- an empty gunicorn app (2 sync workers that read the body and answer one number), alone
  and behind the same nginx front end (the front end's own cost);
- MLServer 1.7.1 with its XGBoost runtime (2 parallel workers, its own virtualenv under
  .cache/, made on first use with a Python 3.12 found as scripts/setup.sh finds Python);
- slow clients: /ping latency with 8 stalled connections (half in the headers, half in the
  body), with and without the front end.
CPU per request is the server's whole process tree (front end included). The floor is the
empty gunicorn app's CPU per request plus one in-process ``inplace_predict`` of the same rows;
the ratio is this server's CPU per request at 8 connections over it. Each point is the best
of 3 wrk runs (least CPU per request: other load only adds). Each server's figures
are printed as soon as measured; all are written to .cache/serve-bench/results.json.
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
REPEATS = 3
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
    """Best-of-5 single-thread ``inplace_predict`` calls per CPU second on ``rows``-row float32
    inputs (CPU time, like the servers' figures, so that other load on the machine counts
    less)."""
    booster.set_param({"nthread": 1})
    batches = [np.ascontiguousarray(X[i * rows : (i + 1) * rows]) for i in range(200)]
    best = 0.0
    for _ in range(5):
        calls, start = 0, time.thread_time()
        while time.thread_time() - start < seconds / 5:
            for batch in batches:
                booster.inplace_predict(batch)
            calls += len(batches)
        best = max(best, calls / (time.thread_time() - start))
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
    """Requests/s, p50/p99 in ms, errors and server CPU ms per request: the best (least CPU
    per request) of ``REPEATS`` wrk runs of ``seconds / REPEATS`` each, since other load on a
    shared machine only ever adds to a server's CPU time."""
    script = WORK / "post.lua"
    script.write_text(LUA)
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_TYPE": content_type}
    base = ["wrk", "-t1", f"-c{connections}", "-s", str(script), "--latency", url]
    subprocess.run([*base[:3], "-d1s", *base[3:]], env=env, capture_output=True, check=True)
    runs = []
    for _ in range(REPEATS):
        cpu = tree_cpu(pid)
        out = subprocess.run(
            [*base[:3], f"-d{max(1, round(seconds / REPEATS))}s", *base[3:]],
            env=env,
            capture_output=True,
            text=True,
        ).stdout
        cpu = tree_cpu(pid) - cpu
        total = int(re.search(r"(\d+) requests in", out).group(1))
        errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        runs.append(
            {
                "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                "p50_ms": seconds_of(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)) * 1e3,
                "p99_ms": seconds_of(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)) * 1e3,
                "errors": errors + (int(bad.group(1)) if bad else 0),
                "cpu_ms_per_request": cpu / max(total, 1) * 1e3,
            }
        )
    best = min(runs, key=lambda r: r["cpu_ms_per_request"])
    return {**best, "errors": sum(r["errors"] for r in runs)}


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


def serve_env(port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(WORK / "ml"),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SERVE_HOST": "127.0.0.1",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        "PYTHONPATH": str(ROOT / "container"),
        **extra,
    }


def start(command: list[str], env: dict[str, str], name: str, ready: str) -> subprocess.Popen:
    log = (WORK / f"{name}.log").open("wb")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    wait_until(ready, proc)
    return proc


def bench_this_server(files: dict[int, Path], seconds: float) -> dict:
    port = free_port()
    command = [sys.executable, "-m", "xgb_container", "serve"]
    proc = start(command, serve_env(port), "serve", f"http://127.0.0.1:{port}/ping")
    try:
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


def noop_gunicorn(bind: str) -> int:
    """gunicorn with ``noop_app``, configured as ``serve`` configures its gunicorn."""
    from gunicorn.app.base import BaseApplication

    class Noop(BaseApplication):
        def load_config(self) -> None:
            for key, value in {"bind": bind, "workers": 2, "worker_class": "sync"}.items():
                self.cfg.set(key, value)
            self.cfg.set("control_socket_disable", True)

        def load(self):  # noqa: ANN202
            return noop_app

    Noop().run()
    return 0


def noop_behind_front_end(port: int) -> int:
    """``noop_gunicorn`` behind the front end that ``serve`` runs (its own cost)."""
    from xgb_container import frontend

    front = frontend.FrontEnd("127.0.0.1", port, 6 << 20, 6, 60, 20)
    return frontend.run(front, frontend.find_nginx(), lambda sock: noop_gunicorn(f"unix:{sock}"))


def bench_noop(files: dict[int, Path], seconds: float, behind_front_end: bool) -> dict:
    """The empty app, alone or behind nginx: the floor's HTTP part, and the front end's cost."""
    port = free_port()
    mode = "--noop-front-end" if behind_front_end else "--noop"
    command = [sys.executable, __file__, mode, str(port)]
    name = "noop-front-end" if behind_front_end else "noop"
    proc = start(command, serve_env(port), name, f"http://127.0.0.1:{port}/")
    try:
        return sweep(f"http://127.0.0.1:{port}/invocations", files, "text/csv", seconds, proc.pid)
    finally:
        stop(proc)


def stalled(port: int, in_body: bool) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = "POST /invocations HTTP/1.1\r\nHost: x\r\n"
    head += "Content-Length: 100000\r\n\r\n1,2," if in_body else "Content-Ty"
    sock.sendall(head.encode())
    return sock


def bench_slow_clients(front_end: str) -> dict:
    """/ping latency (median and worst of 20) with 8 stalled connections and 2 workers."""
    port = free_port()
    env = serve_env(port, SERVE_FRONT_END=front_end)
    command = [sys.executable, "-m", "xgb_container", "serve"]
    proc = start(command, env, f"slow-{front_end}", f"http://127.0.0.1:{port}/ping")
    socks = [stalled(port, i % 2 == 1) for i in range(8)]
    latencies: list[float | None] = []
    try:
        for _ in range(20):
            began = time.perf_counter()
            try:
                requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).raise_for_status()
                latencies.append((time.perf_counter() - began) * 1e3)
            except requests.RequestException:
                latencies.append(None)
                break  # the workers are held: one unanswered ping says it
    finally:
        for sock in socks:
            sock.close()
        stop(proc)
    answered = [v for v in latencies if v is not None]
    return {
        "answered": f"{len(answered)}/{len(latencies)}",
        "p50_ms": float(np.median(answered)) if answered else None,
        "max_ms": max(answered) if answered else None,
    }


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


SERVERS = (
    "this server",
    "gunicorn, empty app",
    "gunicorn, empty app behind nginx",
    "MLServer 1.7.1",
)


def rows_of(name: str, result: dict) -> list[str]:
    """Markdown rows of one server's sweep."""
    lines = []
    for key, r in result.items():
        rows, conns = map(int, key.split("x"))
        lines.append(
            f"| {name} | {rows} | {conns} | {r['requests_per_s'] * rows:,.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | "
            f"{r['cpu_ms_per_request']:.3f} |"
        )
    return lines


HEADER = (
    "| server | rows/request | connections | rows/s | p50 ms | p99 ms | errors | "
    "server CPU ms/request |\n|---|---|---|---|---|---|---|---|"
)


def floor_table(results: dict) -> str:
    """CPU per request at 8 connections against the floor, at 1 and 100 rows."""
    lines = [
        "| rows | this server ms | empty app ms | empty app behind nginx ms | "
        "in-process predict ms | floor ms | ratio to floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for rows in SIZES:
        key = f"{rows}x8"
        ours = results["this server"][key]["cpu_ms_per_request"]
        empty = results["gunicorn, empty app"][key]["cpu_ms_per_request"]
        behind = results["gunicorn, empty app behind nginx"][key]["cpu_ms_per_request"]
        predict = 1e3 / results["in-process calls/s"][str(rows)]
        floor = empty + predict
        lines.append(
            f"| {rows} | {ours:.3f} | {empty:.3f} | {behind:.3f} | {predict:.3f} | "
            f"{floor:.3f} | {ours / floor:.2f} |"
        )
    return "\n".join(lines)


def measure(results: dict, name: str, run) -> None:  # noqa: ANN001
    """Run one server's sweep and print its rows at once; a failure is printed, not fatal."""
    try:
        results[name] = run()
    except Exception as exc:  # noqa: BLE001 - the other servers' figures must survive
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"{name}: not measured: {results[name]['error']}", flush=True)
        return
    print("\n".join([HEADER, *rows_of(name, results[name])]) + "\n", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="wrk duration per point")
    parser.add_argument("--skip-mlserver", action="store_true")
    parser.add_argument("--noop", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--noop-front-end", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noop is not None:
        return noop_gunicorn(f"127.0.0.1:{args.noop}")
    if args.noop_front_end is not None:
        return noop_behind_front_end(args.noop_front_end)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: run scripts/setup.sh (installs Debian's wrk)")
    WORK.mkdir(parents=True, exist_ok=True)
    booster, X = train()
    files = bodies(X)
    results: dict = {"cpus": len(os.sched_getaffinity(0)), "load_average_before": os.getloadavg()}
    results["in-process calls/s"] = {str(n): in_process(booster, X, n, 5) for n in SIZES}
    limits = {n: f"{v:,.0f} calls/s ({v * int(n):,.0f} rows/s)"
              for n, v in results["in-process calls/s"].items()}  # fmt: skip
    print(f"in-process single-thread inplace_predict per CPU second: {limits}", flush=True)
    measure(results, "this server", lambda: bench_this_server(files["csv"], args.seconds))
    measure(results, "gunicorn, empty app", lambda: bench_noop(files["csv"], args.seconds, False))
    measure(
        results,
        "gunicorn, empty app behind nginx",
        lambda: bench_noop(files["csv"], args.seconds, True),
    )
    if all("error" not in results.get(name, {"error": 1}) for name in SERVERS[:3]):
        print(floor_table(results) + "\n", flush=True)
    for front_end in ("nginx", "none"):
        slow = results[f"slow clients, front end {front_end}"] = bench_slow_clients(front_end)
        print(f"/ping with 8 stalled connections, front end {front_end}: {slow}", flush=True)
    if not args.skip_mlserver:
        mlserver = SERVERS[3]
        measure(results, mlserver, lambda: bench_mlserver(booster, files["v2"], args.seconds))
    results["load_average_after"] = os.getloadavg()
    (WORK / "results.json").write_text(json.dumps(results, indent=2))
    print(
        f"load average before/after: {results['load_average_before']} / "
        f"{results['load_average_after']} on {results['cpus']} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
