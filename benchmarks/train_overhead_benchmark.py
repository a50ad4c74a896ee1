"""Container training (parsing included) against plain ``xgboost.train``, same parameters.

Data: the Taiwan credit-card default table (30,000 rows, 23 features), split 80/20 into
train and validation channels as SageMaker CSV (label first, no header).

- plain: ``xgboost.train`` on arrays already in memory (DMatrix construction included),
  with the same parameters and evaluation sets;
- container job: ``xgb_container.training.train`` in this process: configs, CSV parsing,
  training, model, metadata, evaluation JSON and PNGs;
- container process: the whole ``python -m xgb_container train`` (adds interpreter
  start-up and imports, a fixed cost of about two CPU seconds).

One run each. Wall-clock and CPU time (user + system) are printed; the ratio is taken on
CPU time with ``nthread=1`` by default, because on a shared machine wall time mostly
measures the neighbours. Usage:
``.venv/bin/python benchmarks/train_overhead_benchmark.py [num_round [nthread]]``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "container"))
from xgb_container import evaluation, training  # noqa: E402,F401 - imports are not job work
from xgb_container.paths import Layout  # noqa: E402

TAIWAN = ROOT / "tests" / "data" / "taiwan_default_of_credit_card_clients.csv.gz"
LABEL = "default payment next month"


def params(num_round: int, nthread: int) -> dict[str, str]:
    return {
        "objective": "binary:logistic",
        "eval_metric": "auc",
        "tree_method": "hist",
        "max_depth": "6",
        "eta": "0.05",
        "seed": "0",
        "nthread": str(nthread),
        "num_round": str(num_round),
    }


def prepare(base: Path, num_round: int, nthread: int) -> dict[str, np.ndarray]:
    frame = pd.read_csv(TAIWAN).drop(columns=["ID"])
    table = np.column_stack([frame.pop(LABEL).to_numpy(), frame.to_numpy()]).astype(np.float32)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(table))
    split = {"train": table[order[:24000]], "validation": table[order[24000:]]}
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(params(num_round, nthread)))
    channels = {n: {"ContentType": "text/csv", "TrainingInputMode": "File"} for n in split}
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    for name, rows in split.items():
        folder = base / "input" / "data" / name
        folder.mkdir(parents=True)
        pd.DataFrame(rows).to_csv(folder / f"{name}.csv", header=False, index=False)
    return split


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_container(base: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the whole train program."""
    env = dict(os.environ, SAGEMAKER_BASE_DIR=str(base), PYTHONPATH=str(ROOT / "container"))
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "xgb_container", "train"], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"container training failed:\n{done.stderr}")
    return elapsed, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def run_job(base: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the container's training job, in this process."""
    cpu = cpu_seconds(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        training.train(Layout(base))
    return time.perf_counter() - start, cpu_seconds(resource.RUSAGE_SELF) - cpu


def run_plain(split: dict[str, np.ndarray], num_round: int, nthread: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``xgboost.train`` on arrays in memory."""
    p = {k: v for k, v in params(num_round, nthread).items() if k != "num_round"}
    cpu = cpu_seconds(resource.RUSAGE_SELF)
    start = time.perf_counter()
    dtrain = xgb.DMatrix(split["train"][:, 1:], label=split["train"][:, 0])
    dvalid = xgb.DMatrix(split["validation"][:, 1:], label=split["validation"][:, 0])
    with contextlib.redirect_stdout(io.StringIO()):
        xgb.train(
            p,
            dtrain,
            num_boost_round=num_round,
            evals=[(dtrain, "train"), (dvalid, "validation")],
            verbose_eval=True,
        )
    return time.perf_counter() - start, cpu_seconds(resource.RUSAGE_SELF) - cpu


def main() -> None:
    num_round = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    nthread = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "ml"
        split = prepare(base, num_round, nthread)
        plain = run_plain(split, num_round, nthread)
        job = run_job(base)
        process = run_container(base)
    print(f"Taiwan, {num_round} rounds, nthread={nthread}, xgboost {xgb.__version__}")
    for name, (wall, cpu) in [("plain xgboost.train", plain), ("container job", job)]:
        print(f"{name:20} wall {wall:7.2f} s, CPU {cpu:7.2f} s")
    print(f"{'container process':20} wall {process[0]:7.2f} s, CPU {process[1]:7.2f} s")
    print(f"ratio, container job / plain (CPU time): {job[1] / plain[1]:.3f}x")
    print(f"ratio, container process / plain (CPU time): {process[1] / plain[1]:.3f}x")


if __name__ == "__main__":
    main()
