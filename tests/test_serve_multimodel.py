"""Multi-model endpoints over real HTTP: load, list, invoke, unload, across two workers."""

from __future__ import annotations

import numpy as np
import requests
from serve_harness import Server, train_numeric


def test_models_load_invoke_and_unload(tmp_path):
    binary, X = train_numeric(tmp_path / "a", "binary:logistic", n_features=5)
    regression, _ = train_numeric(tmp_path / "b", "reg:squarederror", n_features=5)
    base = tmp_path / "ml"
    server = Server(base, tmp_path / "serve.log", workers=2, SAGEMAKER_MULTI_MODEL="true")
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        server.wait_ready(marker="serves a multi-model endpoint")
        url = server.url
        row = ",".join(repr(float(v)) for v in np.nan_to_num(X[0]))
        assert requests.post(url("/models/a/invoke"), data=row, timeout=10).status_code == 404
        for name in ("a", "b"):
            spec = {"model_name": name, "url": str(tmp_path / name / "model")}
            assert requests.post(url("/models"), json=spec, timeout=30).status_code == 200
        spec = {"model_name": "a", "url": str(tmp_path / "a" / "model")}
        assert requests.post(url("/models"), json=spec, timeout=30).status_code == 409
        bad = {"model_name": "c", "url": str(tmp_path / "nowhere")}
        refused = requests.post(url("/models"), json=bad, timeout=30)
        assert refused.status_code == 400
        assert "does not exist" in refused.text
        listed = requests.get(url("/models"), timeout=10).json()["models"]
        assert [m["modelName"] for m in listed] == ["a", "b"]
        assert requests.get(url("/models/b"), timeout=10).json()["modelUrl"].endswith("b/model")
        x = np.nan_to_num(X[:1]).astype(np.float32)
        # Enough requests that both workers answer for each model (each loads its own copy).
        for _ in range(10):
            got_a = requests.post(
                url("/models/a/invoke"), data=row, headers={"Content-Type": "text/csv"}, timeout=10
            )
            got_b = requests.post(
                url("/models/b/invoke"), data=row, headers={"Content-Type": "text/csv"}, timeout=10
            )
            assert np.float32(got_a.text) == binary.inplace_predict(x)[0]
            assert np.float32(got_b.text) == regression.inplace_predict(x)[0]
        assert requests.delete(url("/models/a"), timeout=10).status_code == 200
        for _ in range(4):
            gone = requests.post(url("/models/a/invoke"), data=row, timeout=10)
            assert gone.status_code == 404
        assert requests.delete(url("/models/a"), timeout=10).status_code == 404
        assert requests.get(url("/ping"), timeout=10).status_code == 200
    finally:
        assert server.stop() == 0
