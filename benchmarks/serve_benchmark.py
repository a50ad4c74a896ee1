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
empty gunicorn app's CPU per request plus one in-process ``inplace_predict`` of the same rows
(issue #10's definition); the ratio is this server's CPU per request at 8 connections over
it. The strict floor takes the server's own predictor called in process instead (XGBoost's
C entry point, without ``inplace_predict``'s per-call Python work, which the server skips):
its ratio is what the HTTP stack and the request stages cost beyond prediction. Each point is the best
of 3 wrk runs (least CPU per request: other load only adds). Each server's figures
are printed as soon as measured; all are written to .cache/serve-bench/results.json.
The parts live in ``benchmarks/serve_bench/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

from serve_bench import model, servers
from serve_bench.mlserver import bench_mlserver
from serve_bench.report import SERVERS, floor_table, measure


def measure_all(args: argparse.Namespace) -> dict:
    """Every server in turn, each printed as soon as measured."""
    booster, X = model.train()
    files = model.bodies(X)
    results: dict = {"cpus": len(os.sched_getaffinity(0)), "load_average_before": os.getloadavg()}
    results["in-process calls/s"] = {
        str(n): model.in_process(booster, X, n, 5) for n in model.SIZES
    }
    results["in-process direct calls/s"] = {
        str(n): model.in_process(booster, X, n, 5, direct=True) for n in model.SIZES
    }
    for key, name in [
        ("in-process calls/s", "inplace_predict"),
        ("in-process direct calls/s", "direct C call (the server's predictor)"),
    ]:
        limits = {
            n: f"{v:,.0f} calls/s ({v * int(n):,.0f} rows/s)" for n, v in results[key].items()
        }
        print(f"in-process single-thread {name} per CPU second: {limits}", flush=True)  # fmt: skip
    csv = files["csv"]
    measure(results, SERVERS[0], lambda: servers.bench_this_server(csv, args.seconds))
    measure(results, SERVERS[1], lambda: servers.bench_noop(csv, args.seconds, False))
    measure(results, SERVERS[2], lambda: servers.bench_noop(csv, args.seconds, True))
    if all("error" not in results.get(name, {"error": 1}) for name in SERVERS[:3]):
        print(floor_table(results) + "\n", flush=True)
    for front_end in ("nginx", "none"):
        slow = results[f"slow clients, front end {front_end}"] = servers.bench_slow_clients(
            front_end
        )
        print(f"/ping with 8 stalled connections, front end {front_end}: {slow}", flush=True)
    if not args.skip_mlserver:
        measure(results, SERVERS[3], lambda: bench_mlserver(booster, files["v2"], args.seconds))
    results["load_average_after"] = os.getloadavg()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="wrk duration per point")
    parser.add_argument("--skip-mlserver", action="store_true")
    parser.add_argument("--noop", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--noop-front-end", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noop is not None:
        return servers.noop_gunicorn(f"127.0.0.1:{args.noop}")
    if args.noop_front_end is not None:
        return servers.noop_behind_front_end(args.noop_front_end)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: run scripts/setup.sh (installs Debian's wrk)")
    model.WORK.mkdir(parents=True, exist_ok=True)
    results = measure_all(args)
    (model.WORK / "results.json").write_text(json.dumps(results, indent=2))
    print(
        f"load average before/after: {results['load_average_before']} / "
        f"{results['load_average_after']} on {results['cpus']} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
