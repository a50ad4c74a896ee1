"""Request limits: the payload limit holds for chunked bodies, rows and work are bounded.

Each test runs with nginx in front and with gunicorn alone (``SERVE_FRONT_END=none``).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import requests
from serve_harness import Server, run_serve, train_numeric

ROW = "0.5,1.5,2.5,3.5,4.5\n"
EXPLAIN = {"X-Amzn-SageMaker-Enable-Explanations": "true"}
LIMITS = {
    "SAGEMAKER_MAX_PAYLOAD_IN_MB": "1",
    "SERVE_MAX_ROWS": "2000",
    "SERVE_MAX_EXPLAIN_ROWS": "50",
}


@pytest.fixture(scope="module", params=["nginx", "none"])
def server(request, tmp_path_factory):
    base = tmp_path_factory.mktemp("limits") / "ml"
    train_numeric(base, "binary:logistic", n_features=5)
    running = Server(
        base, base.parent / "serve.log", workers=1, SERVE_FRONT_END=request.param, **LIMITS
    )
    yield running.wait_ready()
    assert running.stop() == 0


def chunked(text: str, size: int = 64 * 1024):
    """A body sent with Transfer-Encoding: chunked (requests does so for a generator)."""
    data = text.encode()
    for start in range(0, len(data), size):
        yield data[start : start + size]


def post(server: Server, body, content_type: str = "text/csv", **headers: str):
    headers = {"Content-Type": content_type, **headers}
    return requests.post(server.url("/invocations"), data=body, headers=headers, timeout=60)


def test_chunked_body_over_the_limit_is_413_never_cut_and_scored(server):
    over = ROW * (1024 * 1024 // len(ROW) + 100)
    answer = post(server, chunked(over))
    assert answer.status_code == 413, answer.text[:200]
    assert answer.text.strip() == "the body is larger than SAGEMAKER_MAX_PAYLOAD_IN_MB (1 MiB)"
    with_length = post(server, over.encode())
    assert (with_length.status_code, with_length.text) == (413, answer.text)


def test_chunked_body_under_the_limit_is_scored_whole(server):
    body = ROW * 1500
    answer = post(server, chunked(body, size=1000))
    assert answer.status_code == 200, answer.text[:200]
    assert len(answer.text.splitlines()) == 1500


def test_rows_over_the_cap_are_413_naming_the_setting(server):
    assert post(server, ROW * 2000).status_code == 200
    answer = post(server, ROW * 2001)
    assert answer.status_code == 413
    assert "2001 rows" in answer.text and "SERVE_MAX_ROWS" in answer.text
    lines = "".join("[0.5,1.5,2.5,3.5,4.5]\n" for _ in range(2001))
    assert post(server, lines, "application/jsonlines").status_code == 413
    assert post(server, "1 0:1\n" * 2001, "text/libsvm").status_code == 413


def test_json_and_parquet_rows_are_counted_before_decoding(server):
    objects = json.dumps({"instances": [{}] * 2001})
    answer = post(server, objects, "application/json")
    assert answer.status_code == 413, answer.text[:200]
    assert "2001 rows" in answer.text
    assert post(server, json.dumps([{}] * 2000), "application/json").status_code == 200
    frame = pd.DataFrame({f"f{i}": np.zeros(300_000, dtype=np.float32) for i in range(5)})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)  # 300,000 rows in a few kilobytes
    answer = post(server, buffer.getvalue(), "application/x-parquet")
    assert answer.status_code == 413, answer.text[:200]
    assert "300000 rows" in answer.text


def test_explanations_have_their_own_lower_cap(server):
    assert post(server, ROW * 50, **EXPLAIN).status_code == 200
    answer = post(server, ROW * 51, **EXPLAIN)
    assert answer.status_code == 413
    assert "SERVE_MAX_EXPLAIN_ROWS" in answer.text
    attributes = {"X-Amzn-SageMaker-Custom-Attributes": "explain=true"}
    assert post(server, ROW * 51, **attributes).status_code == 413
    assert post(server, ROW * 51).status_code == 200


def test_many_empty_libsvm_rows_with_explanations_cost_no_worker(tmp_path):
    """The reported case, with the default settings: 6 MB of empty rows, explanations on."""
    base = tmp_path / "ml"
    train_numeric(base, "binary:logistic", n_features=5)
    server = Server(base, tmp_path / "serve.log", workers=1).wait_ready()
    try:
        body = b"0\n" * (3 * 1024 * 1024 - 8)
        answer = post(server, body, "text/libsvm", **EXPLAIN)
        assert answer.status_code == 413
        assert "SERVE_MAX_EXPLAIN_ROWS" in answer.text
        answer = post(server, body, "text/libsvm")
        assert answer.status_code == 413
        assert "SERVE_MAX_ROWS" in answer.text
        assert requests.get(server.url("/ping"), timeout=10).status_code == 200
        assert post(server, ROW).status_code == 200
    finally:
        assert server.stop() == 0
    assert "WORKER TIMEOUT" not in server.log


@pytest.mark.parametrize("value", ["0", "many", "-5"])
def test_bad_row_caps_are_refused_at_start(tmp_path, value):
    train_numeric(tmp_path / "ml", "binary:logistic")
    done = run_serve(tmp_path / "ml", SERVE_MAX_ROWS=value)
    assert done.returncode == 1
    assert "SERVE_MAX_ROWS" in done.stderr and "Traceback" not in done.stderr
