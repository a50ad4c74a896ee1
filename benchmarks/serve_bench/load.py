"""wrk runs against one server, with the CPU time of the server's whole process tree."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import psutil

from .model import SIZES, WORK

CONNECTIONS = (1, 8)
REPEATS = 3
LUA = """
local f = io.open(os.getenv("BENCH_BODY"), "rb")
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE")
"""


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


def parse(out: str, cpu: float) -> dict:
    """One wrk run's figures; ``cpu``: the server's CPU seconds during it."""
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": seconds_of(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)) * 1e3,
        "p99_ms": seconds_of(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1)) * 1e3,
        "errors": errors + (int(bad.group(1)) if bad else 0),
        "cpu_ms_per_request": cpu / max(total, 1) * 1e3,
    }


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
        runs.append(parse(out, tree_cpu(pid) - cpu))
    best = min(runs, key=lambda r: r["cpu_ms_per_request"])
    return {**best, "errors": sum(r["errors"] for r in runs)}


def sweep(url: str, files: dict[int, Path], content_type: str, seconds: float, pid: int) -> dict:
    """wrk at every request size and connection count against one running server."""
    return {
        f"{rows}x{c}": run_wrk(url, files[rows], content_type, c, seconds, pid)
        for rows in SIZES
        for c in CONNECTIONS
    }
