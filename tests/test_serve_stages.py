"""The request stages in process: body reading, row counting, negotiation, the lean path."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from serve_harness import train_numeric
from xgb_container import formats, stages
from xgb_container.app import Headers, create_app
from xgb_container.stages import Served, Settings, TooLarge


class Chunked(io.BytesIO):
    """A body stream without a length, as a chunked request gives it."""


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Served:
    base = tmp_path_factory.mktemp("stages") / "ml"
    train_numeric(base, "binary:logistic", n_features=5)
    return Served.load(base / "model", Settings())


def test_read_body_with_and_without_length():
    settings = Settings(max_payload_mb=1)
    limit = settings.max_payload_bytes
    assert stages.read_body(io.BytesIO(b"abc"), 3, settings) == b"abc"
    assert stages.read_body(Chunked(b"x" * limit), None, settings) == b"x" * limit
    with pytest.raises(TooLarge, match=r"SAGEMAKER_MAX_PAYLOAD_IN_MB \(1 MiB\)"):
        stages.read_body(Chunked(b"x" * (limit + 1)), None, settings)
    stream = io.BytesIO(b"x" * (limit + 1))
    with pytest.raises(TooLarge):
        stages.read_body(stream, limit + 1, settings)
    assert stream.read() == b""  # drained, so that the client reads the answer


@pytest.mark.parametrize(
    ("body", "content_type", "rows"),
    [
        (b"1,2\n3,4\n5,6\n", "text/csv", 3),
        (b"1,2\n3,4\n5,6", "text/csv", 3),
        (b"1,2\n3,4\n5,6\n\n\n", "text/csv; header=absent", 3),
        (b"0 1:2\n0 1:3\n0\n", "text/libsvm", 3),
        (b"[1]\n[2]\n[3]\n", "application/jsonlines", 3),
        (json.dumps({"instances": [[1], [2], [3]]}).encode(), "application/json", 3),
        (json.dumps([{}, {}, {}]).encode(), "application/json", 3),
        (b"[1]\n[2]\n[3]", "application/json", 3),  # JSON lines sent as JSON
    ],
)
def test_rows_over_counts_rows(body, content_type, rows):
    assert formats.rows_over(body, content_type, rows) is None
    assert formats.rows_over(body, content_type, rows - 1) == rows


def test_rows_over_a_flat_json_row_is_one_row():
    flat = json.dumps([1, 2, 3]).encode()
    assert formats.rows_over(flat, "application/json", 0) == 1
    assert formats.rows_over(json.dumps({"instances": [1, 2]}).encode(), "application/json", 0) == 1


def test_rows_over_reads_a_parquet_footer():
    buffer = io.BytesIO()
    pd.DataFrame({"f0": np.zeros(1000)}).to_parquet(buffer)
    assert formats.rows_over(buffer.getvalue(), "application/x-parquet", 999) == 1000
    assert formats.rows_over(buffer.getvalue(), "application/x-parquet", 1000) is None
    assert formats.rows_over(b"PAR1 not parquet", "application/x-parquet", 0) is None


def test_rows_over_refuses_an_unknown_type():
    with pytest.raises(formats.UnsupportedType):
        formats.rows_over(b"1", "application/x-recordio-protobuf", 10)


def test_negotiate_reads_outputs_explanations_and_accept(served):
    settings = Settings()
    call = stages.negotiate({"Content-Type": "text/csv"}, served, settings)
    assert (call.accept, call.fields, call.explain, call.heavy) == (
        "text/csv",
        ("probability",),
        False,
        False,
    )
    headers = {
        "Content-Type": "application/json",
        stages.CUSTOM_ATTRIBUTES: "output=predicted_label,probability;explain=true",
    }
    call = stages.negotiate(headers, served, settings)
    assert call.accept == "application/json"
    assert call.fields == ("predicted_label", "probability")
    assert call.explain and call.heavy
    off = {stages.EXPLANATIONS: "`false`", stages.CUSTOM_ATTRIBUTES: "explain=true"}
    assert not stages.negotiate(off, served, settings).explain  # the header wins
    batch = stages.negotiate({"Accept": "application/json"}, served, Settings(batch=True))
    assert batch.accept == "application/jsonlines"
    with pytest.raises(stages.Unacceptable):
        stages.negotiate({"Accept": "application/xml"}, served, settings)


def test_status_of_each_refusal():
    assert stages.status_of(formats.UnsupportedType("x")) == 415
    assert stages.status_of(stages.Unacceptable("x")) == 406
    assert stages.status_of(TooLarge("x")) == 413
    assert stages.status_of(stages.UserError("x")) == 400


def test_row_caps_in_decode(served):
    settings = Settings(max_rows=3, max_explain_rows=1)
    plain = stages.negotiate({}, served, settings)
    explain = stages.negotiate({stages.EXPLANATIONS: "true"}, served, settings)
    body = b"1,2,3,4,5\n" * 3
    assert stages.decode(body, plain, served, settings).shape == (3, 5)
    with pytest.raises(TooLarge, match=r"3 rows; at most 1 rows with explanations .*EXPLAIN"):
        stages.decode(body, explain, served, settings)
    with pytest.raises(TooLarge, match=r"4 rows; at most 3 rows per request \(SERVE_MAX_ROWS\)"):
        stages.decode(body + b"1,2,3,4,5\n", plain, served, settings)


def test_lean_path_answers_as_the_stages(served):
    app = create_app(served, Settings())
    body = b"1,2,3,4,5\n0,0,0,0,0\n"
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    environ = {
        "PATH_INFO": "/invocations",
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "text/csv",
        "HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES": "output=probability",
        "wsgi.input": io.BytesIO(body),
    }
    payload = b"".join(app(environ, start_response))
    expected = served.model.booster.inplace_predict(
        np.array([[1, 2, 3, 4, 5], [0, 0, 0, 0, 0]], dtype=np.float32)
    )
    assert seen["status"] == "200 OK"
    assert seen["headers"]["Content-Type"] == "text/csv"
    assert seen["headers"][stages.CUSTOM_ATTRIBUTES] == "output=probability"
    assert int(seen["headers"]["Content-Length"]) == len(payload)
    np.testing.assert_array_equal(np.array(payload.split(), dtype=np.float32), expected)
    environ = {**environ, "CONTENT_TYPE": "text/plain", "wsgi.input": io.BytesIO(body)}
    payload = b"".join(app(environ, start_response))
    assert seen["status"] == "415 Unsupported Media Type"
    assert payload.endswith(b"\n") and payload.count(b"\n") == 1


def test_dense_predictor_matches_inplace_predict(served):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.2] = np.nan
    booster = served.model.booster
    for kind in ("value", "margin"):
        np.testing.assert_array_equal(
            served.model.dense(X, kind),
            booster.inplace_predict(X, predict_type=kind, validate_features=False),
        )
    # A view that is not C-contiguous reads the same values.
    wide = np.asfortranarray(X)
    np.testing.assert_array_equal(served.model.dense(wide), served.model.dense(X))


def test_dense_predictor_reuses_one_proxy_per_thread_across_shapes(served):
    """The proxy DMatrix made once per thread carries each call's matrix, whatever its
    shape; without it (an XGBoost without the class) XGBoost makes one per call."""
    rng = np.random.default_rng(6)
    dense = served.model.dense
    booster = served.model.booster
    handles = set()
    for rows in (1, 40, 1, 7, 100, 1):
        X = rng.normal(size=(rows, 5)).astype(np.float32)
        for kind in ("value", "margin"):
            np.testing.assert_array_equal(
                dense(X, kind), booster.inplace_predict(X, predict_type=kind)
            )
        handles.add(dense.proxy().value)
        assert dense.local.proxy.num_row() == rows  # XGBoost read this call's matrix there
    assert len(handles) == 1 and None not in handles
    bare = type(dense)(booster, dense.iteration_range)
    bare.proxy_class = None
    assert bare.proxy() is None
    np.testing.assert_array_equal(bare(X), booster.inplace_predict(X))


def test_dense_predictor_honours_the_iteration_range(served):
    """A model kept at its best iteration predicts with the trees up to it."""
    from xgb_container.predictor import DensePredictor

    rng = np.random.default_rng(8)
    X = rng.normal(size=(30, 5)).astype(np.float32)
    booster = served.model.booster
    kept = DensePredictor(booster, (0, 3))
    expected = booster.inplace_predict(X, iteration_range=(0, 3))
    np.testing.assert_array_equal(kept(X), expected)
    assert not np.array_equal(expected, booster.inplace_predict(X))
    # Without XGBoost's C entry point, ``inplace_predict`` itself answers.
    bare = DensePredictor(booster, (0, 3))
    bare.lib = None
    np.testing.assert_array_equal(bare(X), expected)


def test_dense_predictor_threads_each_have_their_own_proxy(served):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    dense = served.model.dense
    together = threading.Barrier(4)  # each task on a thread of its own
    rng = np.random.default_rng(7)
    inputs = [rng.normal(size=(1 + 13 * i, 5)).astype(np.float32) for i in range(4)]
    expected = [served.model.booster.inplace_predict(X) for X in inputs]

    def work(i: int) -> tuple[int | None, bool]:
        together.wait(timeout=30)
        same = all(np.array_equal(dense(inputs[i]), expected[i]) for _ in range(300))
        return dense.proxy().value, same

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(4)))
    assert all(same for _, same in results)
    assert len({handle for handle, _ in results}) == 4


def test_headers_read_the_wsgi_environ_by_header_name():
    environ = {
        "CONTENT_TYPE": "text/csv",
        "HTTP_ACCEPT": "application/json",
        "HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES": "output=predicted_label",
        "wsgi.input": None,
    }
    headers = Headers(environ)
    assert headers.get("Content-Type") == "text/csv"
    assert headers.get("Accept") == "application/json"
    assert headers.get(stages.CUSTOM_ATTRIBUTES) == "output=predicted_label"
    assert headers.get(stages.EXPLANATIONS) is None
    assert headers.get(stages.EXPLANATIONS, "no") == "no"
    assert headers["Accept"] == "application/json"
    assert dict(headers) == {
        "Content-Type": "text/csv",
        "Accept": "application/json",
        "X-Amzn-Sagemaker-Custom-Attributes": "output=predicted_label",
    }


def test_a_file_that_is_no_model_is_refused_with_xgboosts_first_line(tmp_path):
    """XGBoost's message runs to a stack trace; the refusal keeps its first line only."""
    from xgb_container.errors import UserError
    from xgb_container.predictor import read_booster

    path = tmp_path / "xgboost-model"
    with pytest.raises(UserError) as refused:
        read_booster(b"not a model at all", path)
    message = str(refused.value)
    assert message.startswith(f"model file {path} is not an XGBoost model: [")
    assert "Unknown construct" in message
    assert "\n" not in message and "Stack trace" not in message
