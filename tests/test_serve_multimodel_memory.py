"""Unloading frees what loading took: many models cycled through must not grow the workers."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xgboost as xgb
from multimodel_harness import Endpoint, csv_row
from serve_harness import save_model

MiB = 1024 * 1024
CYCLES = 600


def test_600_models_loaded_used_and_deleted_do_not_grow_the_workers(tmp_path):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2000, 10)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.float32)
    params = {"objective": "binary:logistic", "max_depth": 6, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), 200)
    source = save_model(tmp_path / "source", booster, None)
    endpoint = Endpoint(tmp_path, workers=2)
    row = csv_row(X)

    def folder(i: int):
        target = endpoint.models / f"m{i}" / "model"
        target.mkdir(parents=True)
        os.link(source / "xgboost-model", target / "xgboost-model")  # same bytes, own files
        return target

    def cycle(i: int) -> None:
        """Load, use (from two clients, so that both workers are likely to), delete."""
        assert endpoint.add(f"m{i}", folder(i)).status_code == 200
        with ThreadPoolExecutor(2) as pool:
            for got in pool.map(lambda _: endpoint.invoke(f"m{i}", row), range(2)):
                assert got.status_code == 200, got.text
        assert endpoint.delete(f"m{i}").status_code == 200

    def cycles(start: int, count: int) -> None:
        """``count`` cycles from two clients at once."""
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(cycle, range(start, start + count)))

    try:
        cycles(0, 20)  # warm up: imports, first allocations
        before = endpoint.worker_rss()
        # One model's cost: ten held at once, used on both workers.
        for i in range(20, 30):
            assert endpoint.add(f"m{i}", folder(i)).status_code == 200
            endpoint.use_on_every_worker(f"m{i}", row)
        held = endpoint.worker_rss()
        one_model = max(held[pid] - before[pid] for pid in before) / 10
        for i in range(20, 30):
            assert endpoint.delete(f"m{i}").status_code == 200
        cycles(30, CYCLES)
        after = endpoint.worker_rss()
        assert after.keys() == before.keys(), "a worker was replaced"
        growth = {pid: (after[pid] - before[pid]) / MiB for pid in before}
        bound = max(16 * MiB, 20 * one_model) / MiB
        print(f"one model {one_model / MiB:.2f} MiB, growth {growth} MiB, bound {bound:.1f} MiB")
        assert all(g < bound for g in growth.values()), (growth, bound)
    finally:
        assert endpoint.stop() == 0
