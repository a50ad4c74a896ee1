"""The benchmark's model (trained on the Taiwan credit data), its request bodies and the
in-process prediction limit."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "container"))
from xgb_container.metadata import ModelMetadata  # noqa: E402
from xgb_container.predictor import DensePredictor  # noqa: E402

WORK = ROOT / ".cache" / "serve-bench"
TAIWAN = ROOT / "tests" / "data" / "taiwan_default_of_credit_card_clients.csv.gz"
SIZES = (1, 100)


def train() -> tuple[xgb.Booster, np.ndarray]:
    """binary:logistic, hist, depth 6, 100 rounds; written where ``serve`` reads a model."""
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


def in_process(
    booster: xgb.Booster, X: np.ndarray, rows: int, seconds: float, direct: bool = False
) -> float:
    """Best-of-5 single-thread predict calls per CPU second on ``rows``-row float32 inputs
    (CPU time, like the servers' figures, so that other load on the machine counts less):
    ``Booster.inplace_predict``, or with ``direct`` the server's own ``DensePredictor``
    (XGBoost's C entry point without the Python wrapper's per-call work)."""
    booster.set_param({"nthread": 1})
    predict = DensePredictor(booster, (0, 0)) if direct else booster.inplace_predict
    batches = [np.ascontiguousarray(X[i * rows : (i + 1) * rows]) for i in range(200)]
    best = 0.0
    for _ in range(5):
        calls, start = 0, time.thread_time()
        while time.thread_time() - start < seconds / 5:
            for batch in batches:
                predict(batch)
            calls += len(batches)
        best = max(best, calls / (time.thread_time() - start))
    return best


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
