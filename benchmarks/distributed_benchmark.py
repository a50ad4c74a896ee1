"""Distributed training on 1, 2 and 3 hosts (network namespaces) with the same total data.

    sudo .venv/bin/python benchmarks/distributed_benchmark.py [--rows 30000] [--rounds 200]

Every host is a namespace with its own address (tests/netns.py); the Taiwan credit rows
are split into one shard per host (ShardedByS3Key). Each host logs the wall and CPU
seconds of its training phase; with one thread per host, the time a host is not on the
CPU is spent communicating or waiting for the others. On one small machine the hosts
share its cores, so this measures the overhead of distribution, not a speed-up.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "container")]

from conftest import TAIWAN  # noqa: E402
from distributed_hosts import Hosts, write_csv  # noqa: E402
from netns import Network, available  # noqa: E402

PHASE = re.compile(r"training phase on \S+ \(rank \d+ of \d+\): ([\d.]+) s wall, ([\d.]+) s CPU")


def taiwan(rows: int) -> np.ndarray:
    table = pd.read_csv(TAIWAN).drop(columns=["ID"])
    label = table.pop("default payment next month")
    data = np.column_stack([label.to_numpy(), table.to_numpy()]).astype(np.float64)
    data = data[np.random.default_rng(0).permutation(len(data))]
    return np.concatenate([data] * (rows // len(data) + 1))[:rows]


def run(count: int, rows: np.ndarray, rounds: int, root: Path) -> dict[str, float]:
    cluster = Hosts(root / f"hosts-{count}", count)
    for i, host in enumerate(cluster.hosts):
        write_csv(cluster.channel(host.name, "train") / "part.csv", rows[i::count])
    cluster.hyperparameters(
        num_round=rounds, objective="binary:logistic", eval_metric="auc", max_depth=6, eta=0.1
    )
    with Network(count) as net:
        started = time.monotonic()
        cluster.start(net)
        codes = cluster.wait(timeout=1800)
        job_wall = time.monotonic() - started
    if set(codes.values()) != {0}:
        raise SystemExit(f"{count} hosts failed: {codes}\n{cluster.hosts[0].log}")
    phases = [tuple(map(float, PHASE.search(h.log).groups())) for h in cluster.hosts]
    wall = max(w for w, _ in phases)
    share = float(np.mean([1 - c / w for w, c in phases])) if count > 1 else 0.0
    return {"hosts": count, "job": job_wall, "train": wall, "share": share}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    reason = available()
    if reason:
        print(f"skipped: {reason}")
        return 1
    rows = taiwan(args.rows)
    print(f"{len(rows)} rows, {args.rounds} rounds, max_depth 6, one thread per host")
    print("hosts | job wall (s) | training wall (s) | communication and waiting")
    with tempfile.TemporaryDirectory() as tmp:
        for count in (1, 2, 3):
            r = run(count, rows, args.rounds, Path(tmp))
            print(
                f"{count} | {r['job']:.1f} | {r['train']:.1f} | {100 * r['share']:.0f}%", flush=True
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
