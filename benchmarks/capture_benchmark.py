"""What the server's own data capture costs per request.

    .venv/bin/python benchmarks/capture_benchmark.py [--requests 3000] [--rows 1]

Model: binary:logistic, depth 6, 100 rounds on the Taiwan credit data (23 features). The
Flask app is driven in-process (Werkzeug's test client, one thread), so that only the
app's own work is timed: requests alternate in blocks between capture off and on (100 %,
and 100 % with two masked columns), and the median time per request of each is reported,
with the capture writer's own time per call (``Writer.write``) measured alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "container"))
from xgb_container import app, capture  # noqa: E402
from xgb_container.metadata import ModelMetadata  # noqa: E402

TAIWAN = ROOT / "tests" / "data" / "taiwan_default_of_credit_card_clients.csv.gz"
LABEL = "default payment next month"


def model(folder: Path) -> pd.DataFrame:
    table = pd.read_csv(TAIWAN).drop(columns=["ID"])
    X, y = table.drop(columns=[LABEL]), table[LABEL]
    params = {"objective": "binary:logistic", "max_depth": 6, "tree_method": "hist", "nthread": 2}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), 100)
    folder.mkdir(parents=True)
    (folder / "xgboost-model").write_bytes(bytes(booster.save_raw("ubj")))
    ModelMetadata(
        feature_names=list(X.columns),
        feature_types=["q"] * X.shape[1],
        objective="binary:logistic",
        input_format="csv-header",
        xgboost_version=xgb.__version__,
        label_column=LABEL,
    ).save(folder / "metadata.json")
    return X


def client(model_dir: Path, env: dict[str, str]):
    for key in [k for k in os.environ if k.startswith("XGB_CAPTURE")]:
        del os.environ[key]
    os.environ.update(env)
    capture._loaded = False  # a fresh process's view of the environment
    settings = app.Settings()
    served = app.Served.load(model_dir, settings)
    return app.create_app(served, settings).test_client(), served


def timed(test_client, body: bytes, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        answer = test_client.post("/invocations", data=body, content_type="text/csv")
        times.append(time.perf_counter() - start)
        assert answer.status_code == 200
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rows", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    X = model(work / "model")
    body = X.iloc[: args.rows].to_csv(header=False, index=False).encode()
    variants = {
        "capture off": {},
        "capture 100 %": {"XGB_CAPTURE_DIR": str(work / "capture")},
        "capture 100 %, 2 masked": {
            "XGB_CAPTURE_DIR": str(work / "capture-masked"),
            "XGB_CAPTURE_MASK": "AGE,SEX",
        },
    }
    clients = {name: client(work / "model", env) for name, env in variants.items()}
    results: dict[str, list[float]] = {name: [] for name in variants}
    block = 100
    for _ in range(max(1, args.requests // block)):
        for name, (test_client, _) in clients.items():
            results[name].extend(timed(test_client, body, block))
    base = statistics.median(results["capture off"])
    print(f"{args.rows} row(s) per request, {len(results['capture off'])} requests per variant")
    print("| variant | median per request | vs off |")
    print("|---|---|---|")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"| {name} | {median * 1e6:.0f} us | {(median - base) * 1e6:+.0f} us |")
    writer = clients["capture 100 %"][1]
    meta = writer.model.meta
    w = capture.Writer(work / "capture-alone")
    answer = b"0.25\n" * args.rows
    calls = [time.perf_counter()]
    for _ in range(args.requests):
        w.write(meta, body, "text/csv", answer, "text/csv")
        calls.append(time.perf_counter())
    per_call = np.diff(calls)
    print(f"Writer.write alone: median {np.median(per_call) * 1e6:.1f} us per line")


if __name__ == "__main__":
    main()
