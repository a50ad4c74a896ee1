"""Multi-model endpoints over real HTTP: load, list, invoke, unload, across two workers."""

from __future__ import annotations

import shutil

import numpy as np
import requests
from multimodel_harness import Endpoint, csv_row
from serve_harness import train_numeric


def test_models_load_invoke_and_unload(tmp_path):
    binary, X = train_numeric(tmp_path / "a", "binary:logistic", n_features=5)
    regression, _ = train_numeric(tmp_path / "b", "reg:squarederror", n_features=5)
    endpoint = Endpoint(tmp_path, workers=2)
    for name in ("a", "b"):
        shutil.copytree(tmp_path / name / "model", endpoint.models / name / "model")
    try:
        url = endpoint.url
        row = csv_row(X)
        assert endpoint.invoke("a", row).status_code == 404
        for name in ("a", "b"):
            assert endpoint.add(name, endpoint.models / name / "model").status_code == 200
        assert endpoint.add("a", endpoint.models / "a" / "model").status_code == 409
        refused = endpoint.add("c", endpoint.models / "nowhere")
        assert refused.status_code == 400
        assert "does not exist" in refused.text
        listed = requests.get(url("/models"), timeout=10).json()["models"]
        assert listed == [
            {"modelName": name, "modelUrl": str(endpoint.models / name / "model")}
            for name in ("a", "b")
        ]
        assert requests.get(url("/models/b"), timeout=10).json() == listed[1]
        x = np.nan_to_num(X[:1]).astype(np.float32)
        endpoint.use_on_every_worker("a", row)  # each worker loads its own copy
        endpoint.use_on_every_worker("b", row)
        for _ in range(4):
            assert np.float32(endpoint.invoke("a", row).text) == binary.inplace_predict(x)[0]
            assert np.float32(endpoint.invoke("b", row).text) == regression.inplace_predict(x)[0]
        assert endpoint.delete("a").status_code == 200
        for _ in range(4):
            assert endpoint.invoke("a", row).status_code == 404
        assert endpoint.delete("a").status_code == 404
        assert requests.get(url("/models/a"), timeout=10).status_code == 404
        assert requests.get(url("/models/bad name!"), timeout=10).status_code == 400
        assert requests.get(url("/ping"), timeout=10).status_code == 200
    finally:
        assert endpoint.stop() == 0
