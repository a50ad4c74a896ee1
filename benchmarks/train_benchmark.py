"""Container training against XGBoost's own CSV reader: peak memory and wall time.

A generated CSV (label first, then ``cols`` features written as ``+d.ddd``; 3,000,000 x 40
is about 850 MB) is trained on twice with the same parameters, each run a separate
process whose peak resident memory comes from ``wait4``:

- xgboost: ``DMatrix("file?format=csv&label_column=0")`` and ``xgboost.train``;
- container: ``python -m xgb_container train`` on a SageMaker-shaped folder holding the
  same file as its train channel (streamed into a ``QuantileDMatrix`` for hist);
- XGBoost's own part of that design: the same rows already parsed (a ``.npy`` file) fed in
  50,000-row chunks to a ``QuantileDMatrix`` and trained, timed inside the process. No
  streaming reader can be faster than this; it shows what the design costs against a
  whole ``DMatrix``.

Targets (issue #11): container peak memory <= 0.6x and wall time <= 1.0x of XGBoost's.
The machine's load average is printed with the figures: on a shared machine wall time
also measures the neighbours. Not a test: CI never runs it. Usage:
``.venv/bin/python benchmarks/train_benchmark.py [rows [cols [num_round [nthread]]]]``
(defaults 3000000 40 50 2); ``XGB_BENCH_DIR`` keeps the generated file between runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BLOCK = 100_000  # rows generated at a time
WIDTH = 7  # bytes of one feature cell: ",+d.ddd"

XGBOOST_RUN = """
import sys, xgboost as xgb
path, params, rounds = sys.argv[1], eval(sys.argv[2]), int(sys.argv[3])
dtrain = xgb.DMatrix(path + "?format=csv&label_column=0")
xgb.train(params, dtrain, num_boost_round=rounds).save_model(sys.argv[4])
"""

# XGBoost's own cost of the streaming design: the parsed rows (read from a .npy file, not
# timed) in chunks through a DataIter into a QuantileDMatrix, then the same training.
QUANTILE_RUN = """
import sys, time, numpy as np, xgboost as xgb
path, params, rounds = sys.argv[1], eval(sys.argv[2]), int(sys.argv[3])
data = np.load(path, mmap_mode="r")
class Chunks(xgb.DataIter):
    def __init__(self):
        self.at = 0
        super().__init__(release_data=True)
    def reset(self):
        self.at = 0
    def next(self, feed):
        if self.at >= len(data):
            return False
        part = np.array(data[self.at : self.at + 50_000])
        feed(data=np.ascontiguousarray(part[:, 1:]), label=part[:, 0])
        self.at += 50_000
        return True
start = time.perf_counter()
dtrain = xgb.QuantileDMatrix(Chunks(), max_bin=256, nthread=int(params["nthread"]))
xgb.train(params, dtrain, num_boost_round=rounds).save_model(sys.argv[4])
print(f"seconds {time.perf_counter() - start}")
"""


def learnable(rows: int, cols: int, seed: int = 0):
    """Blocks of (label, features in thousandths) of a learnable binary problem."""
    rng = np.random.default_rng(seed)
    for start in range(0, rows, BLOCK):
        n = min(BLOCK, rows - start)
        milli = rng.integers(-9999, 10000, size=(n, cols))
        logit = (milli[:, 0] + 0.5 * milli[:, 1] - milli[:, 2]) / 4000
        yield rng.random(n) < 1 / (1 + np.exp(-logit)), milli


def generate(path: Path, rows: int, cols: int, seed: int = 0) -> None:
    """Write ``rows`` label-first rows of ``learnable``, fast (no formatting calls: the
    digits are laid out as bytes)."""
    with path.open("wb") as f:
        for label, milli in learnable(rows, cols, seed):
            n = len(label)
            line = np.empty((n, 1 + cols * WIDTH + 1), np.uint8)
            line[:, 0] = np.where(label, ord("1"), ord("0"))
            digits = np.abs(milli)
            cells = line[:, 1:-1].reshape(n, cols, WIDTH)
            cells[:, :, 0] = ord(",")
            cells[:, :, 1] = np.where(milli < 0, ord("-"), ord("+"))
            cells[:, :, 2] = ord("0") + digits // 1000
            cells[:, :, 3] = ord(".")
            cells[:, :, 4] = ord("0") + digits // 100 % 10
            cells[:, :, 5] = ord("0") + digits // 10 % 10
            cells[:, :, 6] = ord("0") + digits % 10
            line[:, -1] = ord("\n")
            f.write(line.tobytes())


def generate_binary(path: Path, rows: int, cols: int, seed: int = 0) -> None:
    """The same rows as float32 (label first) in a ``.npy`` file: the parsed data."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 1 + cols))
    start = 0
    for label, milli in learnable(rows, cols, seed):
        out[start : start + len(label), 0] = label
        out[start : start + len(label), 1:] = milli / 1000
        start += len(label)
    out.flush()


def measure(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak resident bytes and standard output of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    out, err = process.stdout.read(), process.stderr.read()  # type: ignore[union-attr]
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{command[:3]} failed ({process.returncode}):\n{err.decode()[-3000:]}")
    lines = [ln for ln in out.decode().splitlines() if ln.startswith("Training matrices")]
    if lines:
        print(f"  container: {lines[0]}")
    return elapsed, usage.ru_maxrss * 1024, out.decode()


def container_job(base: Path, data: Path, params: dict[str, str], rounds: int) -> None:
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps({**params, "num_round": str(rounds)}))
    channel = {"train": {"ContentType": "text/csv", "TrainingInputMode": "File"}}
    (config / "inputdataconfig.json").write_text(json.dumps(channel))
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )
    folder = base / "input" / "data" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "train.csv"
    if not link.exists():
        link.symlink_to(data)


def main() -> None:
    args = [int(a) for a in sys.argv[1:]]
    rows, cols, rounds, nthread = args + [3_000_000, 40, 50, 2][len(args) :]
    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_depth": "6",
        "eta": "0.1",
        "seed": "0",
        "nthread": str(nthread),
    }
    keep = os.environ.get("XGB_BENCH_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = work / f"bench-{rows}x{cols}.csv"
        if not data.exists():
            started = time.perf_counter()
            generate(data, rows, cols)
            print(f"generated {data} in {time.perf_counter() - started:.0f} s")
        binary = work / f"bench-{rows}x{cols}.npy"
        if not binary.exists():
            generate_binary(binary, rows, cols)
        size = data.stat().st_size
        env = dict(os.environ, PYTHONPATH=str(ROOT / "container"))
        load_before = os.getloadavg()
        native = measure(
            [
                sys.executable,
                "-c",
                XGBOOST_RUN,
                str(data),
                repr(params),
                str(rounds),
                str(work / "m"),
            ],
            env,
        )
        base = work / "ml"
        container_job(base, data, params, rounds)
        ours = measure(
            [sys.executable, "-m", "xgb_container", "train"],
            dict(env, SAGEMAKER_BASE_DIR=str(base)),
        )
        run = [sys.executable, "-c", QUANTILE_RUN, str(binary), repr(params), str(rounds)]
        streamed = measure([*run, str(work / "q")], env)
        load_after = os.getloadavg()
    print(
        f"{rows} x {cols} CSV ({size / 1e6:.0f} MB), {rounds} rounds, nthread={nthread}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    for name, (wall, peak, _) in [("xgboost CSV reader", native), ("container train", ours)]:
        print(f"{name:20} wall {wall:7.1f} s, peak RSS {peak / 1e6:7.0f} MB")
    floor = float(streamed[2].split()[-1])
    print(
        f"ratio container / xgboost: memory {ours[1] / native[1]:.2f}x, wall {ours[0] / native[0]:.2f}x"
    )
    print(
        f"XGBoost's own part of streaming (parsed chunks -> QuantileDMatrix -> train, no "
        f"parsing, imports or start-up): {floor:.1f} s = {floor / native[0]:.2f}x the CSV reader's "
        f"whole run"
    )


if __name__ == "__main__":
    main()
