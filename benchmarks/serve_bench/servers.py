"""The servers measured on this machine: ``serve`` itself, an empty gunicorn app (alone and
behind the same nginx front end), and ``serve`` with stalled clients."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import requests

from .load import sweep
from .model import ROOT, WORK

SCRIPT = ROOT / "benchmarks" / "serve_benchmark.py"  # runs the empty app (--noop ...)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def noop_app(environ: dict, start_response) -> list[bytes]:  # noqa: ANN001
    """A WSGI app that reads the body and answers one fixed number: the HTTP overhead alone."""
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/csv"), ("Content-Length", "4")])
    return [b"0.5\n"]


def noop_gunicorn(bind: str, **extra: object) -> int:
    """gunicorn with ``noop_app``, configured as ``serve`` configures its gunicorn."""
    from gunicorn.app.base import BaseApplication

    class Noop(BaseApplication):
        def load_config(self) -> None:
            options = {"bind": bind, "workers": 2, "worker_class": "sync", **extra}
            for key, value in options.items():
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
    return frontend.run(
        front,
        frontend.find_nginx(),
        lambda sock: noop_gunicorn(f"unix:{sock}", post_request=frontend.close_upstream),
    )


def bench_noop(files: dict[int, Path], seconds: float, behind_front_end: bool) -> dict:
    """The empty app, alone or behind nginx: the floor's HTTP part, and the front end's cost."""
    port = free_port()
    mode = "--noop-front-end" if behind_front_end else "--noop"
    command = [sys.executable, str(SCRIPT), mode, str(port)]
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
