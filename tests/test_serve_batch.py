"""Batch transform: ``/execution-parameters`` and one output line per input line, in order."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests
from serve_harness import Server, train_numeric

BATCH_ENV = {
    "SAGEMAKER_BATCH": "true",
    "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD",
    "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20",
    "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "2",
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("batch") / "ml"
    booster, _ = train_numeric(base, "binary:logistic", n_features=8)
    server = Server(base, base.parent / "serve.log", workers=2, **BATCH_ENV)
    yield server.wait_ready(), booster
    assert server.stop() == 0


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    """About 19 MiB of CSV: under the 20 MiB limit set above, far over the 6 MiB default."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(260_000, 8)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    return X


def as_csv(X: np.ndarray) -> str:
    return "\n".join(",".join("" if v != v else f"{v:.6g}" for v in row) for row in X.tolist())


def test_execution_parameters(batch):
    server, _ = batch
    answer = requests.get(server.url("/execution-parameters"), timeout=5)
    assert answer.status_code == 200
    params = answer.json()
    assert params["BatchStrategy"] == "MULTI_RECORD"
    assert params["MaxPayloadInMB"] == 20
    assert 1 <= params["MaxConcurrentTransforms"] * params["MaxPayloadInMB"] <= 100


def test_csv_one_line_per_line_in_order(batch, rows):
    server, booster = batch
    body = as_csv(rows) + "\n"
    assert 6 * 1024 * 1024 < len(body) < 20 * 1024 * 1024
    answer = server.invoke(body, "text/csv", Accept="text/csv")
    assert answer.status_code == 200, answer.text[:300]
    lines = answer.text.splitlines()
    assert len(lines) == len(rows)
    expected = booster.inplace_predict(np.array(rows_as_sent(body), dtype=np.float32))
    np.testing.assert_array_equal(np.array(lines, dtype=np.float32), expected)


def rows_as_sent(body: str) -> list[list[float]]:
    return [[float(v) if v else np.nan for v in line.split(",")] for line in body.splitlines()]


@pytest.mark.parametrize("content_type", ["application/json", "application/jsonlines"])
def test_json_records_one_line_each(batch, rows, content_type):
    """A JSON batch file split by line is one JSON value per line; so is the answer."""
    server, booster = batch
    sample = rows[:5000]
    body = "\n".join(json.dumps([None if v != v else v for v in r]) for r in sample.tolist())
    answer = server.invoke(
        body,
        content_type,
        Accept="application/json",
        **{"X-Amzn-SageMaker-Custom-Attributes": "output=probability,predicted_label"},
    )
    assert answer.status_code == 200, answer.text[:300]
    lines = answer.text.splitlines()
    assert len(lines) == len(sample)
    got = np.array([json.loads(line)["probability"] for line in lines], dtype=np.float32)
    np.testing.assert_array_equal(got, booster.inplace_predict(sample))


def test_libsvm_one_line_per_line(batch, rows):
    server, booster = batch
    sample = rows[:3000]
    body = "\n".join(
        "0 " + " ".join(f"{j}:{v!r}" for j, v in enumerate(r) if v == v) for r in sample.tolist()
    )
    answer = server.invoke(body, "text/libsvm", Accept="application/jsonlines")
    assert answer.status_code == 200, answer.text[:300]
    lines = answer.text.splitlines()
    assert len(lines) == len(sample)
    got = np.array([json.loads(line)["probability"] for line in lines], dtype=np.float32)
    np.testing.assert_array_equal(got, booster.inplace_predict(sample))
