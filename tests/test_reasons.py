"""Adverse-action reasons at ``/invocations``: the K largest positive SHAP values per row,
with the applicant's value as sent, for every content type and in batch transform."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from conftest import TEST_DIR
from serve_harness import Server, load_booster, table_matrix, train_numeric
from xgb_container import formats, reasons
from xgb_container.errors import UserError

GERMAN_TEST = TEST_DIR / "input" / "data" / "test" / "german_credit_test.csv"
ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


@pytest.fixture(scope="module")
def expected(german_model):
    """Per test row: SHAP values computed here (pandas encoding, Booster.predict) and the
    raw values of the table."""
    meta = json.loads((german_model / "metadata.json").read_text())
    frame = pd.read_csv(GERMAN_TEST)
    matrix = table_matrix(meta, frame)
    shap = load_booster(german_model).predict(matrix, pred_contribs=True)
    return shap, frame, meta["feature_names"]


def reasons_of(shap_row: np.ndarray, names: list[str], k: int) -> list[tuple[str, float]]:
    pairs = [(names[j], shap_row[j]) for j in range(len(names)) if shap_row[j] > 0]
    pairs.sort(key=lambda p: -p[1])  # Python's sort is stable: ties stay in feature order
    return pairs[:k]


def check_rows(got: list[list[dict]], expected, k: int, rows: int | None = None) -> None:
    shap, frame, names = expected
    rows = len(frame) if rows is None else rows
    assert len(got) == rows
    for i in range(rows):
        want = reasons_of(shap[i], names, k)
        assert [r["feature"] for r in got[i]] == [n for n, _ in want]
        for reason, (name, value) in zip(got[i], want, strict=True):
            assert np.float32(reason["contribution"]) == value  # exact, as float32
            sent = frame[name].iloc[i]
            assert reason["value"] == (sent.item() if hasattr(sent, "item") else sent)


@pytest.fixture(scope="module")
def german(german_model, tmp_path_factory):
    server = Server(german_model.parent, tmp_path_factory.mktemp("log") / "serve.log", workers=1)
    yield server.wait_ready()
    assert server.stop() == 0


def test_json_rows_get_the_top_three_reasons(german, expected):
    answer = german.invoke(
        GERMAN_TEST.read_bytes(), "text/csv", Accept="application/json", **{ATTRIBUTES: "reasons=3"}
    )
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert all(len(p["reasons"]) == 3 for p in predictions)  # every row has 3 positive here
    check_rows([p["reasons"] for p in predictions], expected, 3)
    assert answer.headers[ATTRIBUTES] == "reasons=3"


def test_fewer_reasons_when_fewer_contributions_are_positive(german, expected):
    k = len(expected[2])  # as many as there are features
    answer = german.invoke(
        GERMAN_TEST.read_bytes(),
        "text/csv",
        Accept="application/jsonlines",
        **{ATTRIBUTES: f"reasons={k}"},
    )
    lines = [json.loads(line) for line in answer.text.splitlines()]
    counts = [len(line["reasons"]) for line in lines]
    assert counts == [int((row[:-1] > 0).sum()) for row in expected[0]]
    assert max(counts) < k
    check_rows([line["reasons"] for line in lines], expected, k)


def test_csv_answer_holds_reasons_as_one_json_cell(german, expected):
    answer = german.invoke(
        GERMAN_TEST.read_bytes(),
        "text/csv",
        Accept="text/csv",
        **{ATTRIBUTES: "output=probability,predicted_label;reasons=2"},
    )
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert all(len(row) == 3 for row in rows)
    check_rows([json.loads(row[2]) for row in rows], expected, 2)


@pytest.mark.parametrize("content_type", ["application/json", "application/jsonlines", "parquet"])
def test_every_content_type(german, expected, content_type):
    frame = expected[1].drop(columns=["creditability"]).head(12)
    records = frame.to_dict(orient="records")
    if content_type == "application/json":
        body = json.dumps({"instances": records}).encode()
    elif content_type == "application/jsonlines":
        body = "".join(json.dumps(r) + "\n" for r in records).encode()
    else:
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        body, content_type = buffer.getvalue(), "application/x-parquet"
    answer = german.invoke(
        body, content_type, Accept="application/jsonlines", **{ATTRIBUTES: "reasons=3"}
    )
    assert answer.status_code == 200, answer.text
    got = [json.loads(line)["reasons"] for line in answer.text.splitlines()]
    check_rows(got, expected, 3, rows=12)


def test_no_reasons_unless_asked_and_bad_counts_refused(german):
    plain = german.invoke(GERMAN_TEST.read_bytes(), "text/csv", Accept="application/json")
    assert "reasons" not in plain.json()["predictions"][0]
    zero = german.invoke(
        GERMAN_TEST.read_bytes(), "text/csv", Accept="application/json", **{ATTRIBUTES: "reasons=0"}
    )
    assert "reasons" not in zero.json()["predictions"][0]
    for bad in ("three", "-1", "2.5"):
        answer = german.invoke(
            GERMAN_TEST.read_bytes(), "text/csv", **{ATTRIBUTES: f"reasons={bad}"}
        )
        assert answer.status_code == 400
        assert f"custom attribute reasons={bad!r} must be a whole number" in answer.text


def test_environment_default_and_batch_transform(german_model, expected, tmp_path):
    server = Server(
        german_model.parent,
        tmp_path / "serve.log",
        workers=1,
        SAGEMAKER_BATCH="true",
        SAGEMAKER_BATCH_STRATEGY="MULTI_RECORD",
        SAGEMAKER_REASONS="3",
    ).wait_ready()
    try:
        body = GERMAN_TEST.read_bytes()
        as_json = server.invoke(body, "text/csv", Accept="application/json")
        lines = [json.loads(line) for line in as_json.text.splitlines()]  # JSON lines in batch
        check_rows([line["reasons"] for line in lines], expected, 3)
        as_csv = server.invoke(body, "text/csv", Accept="text/csv")
        check_rows([json.loads(r[1]) for r in csv.reader(io.StringIO(as_csv.text))], expected, 3)
        one = server.invoke(
            body, "text/csv", Accept="application/json", **{ATTRIBUTES: "reasons=1"}
        )
        assert all(len(json.loads(x)["reasons"]) == 1 for x in one.text.splitlines())
    finally:
        assert server.stop() == 0


def test_bad_environment_default_is_named(german_model, tmp_path):
    server = Server(german_model.parent, tmp_path / "s.log", workers=1, SAGEMAKER_REASONS="x")
    server.wait_ready()
    try:
        answer = server.invoke(GERMAN_TEST.read_bytes(), "text/csv")
        assert answer.status_code == 400 and "SAGEMAKER_REASONS='x'" in answer.text
    finally:
        assert server.stop() == 0


def test_libsvm_and_multiclass_models(tmp_path):
    base = tmp_path / "ml"
    booster, X = train_numeric(base, "multi:softprob", num_class=3)
    server = Server(base, tmp_path / "serve.log", workers=1).wait_ready()
    try:
        rows = X[:30]
        body = "\n".join(
            "0 " + " ".join(f"{j}:{v:.9g}" for j, v in enumerate(r) if v == v) for r in rows
        )
        answer = server.invoke(
            body, "text/libsvm", Accept="application/jsonlines", **{ATTRIBUTES: "reasons=2"}
        )
        assert answer.status_code == 200, answer.text
        lines = [json.loads(line) for line in answer.text.splitlines()]
        matrix = xgb.DMatrix(rows, feature_names=[f"f{i}" for i in range(rows.shape[1])])
        shap = booster.predict(matrix, pred_contribs=True)
        chosen = booster.predict(matrix).argmax(axis=1)
        for i, line in enumerate(lines):
            want = reasons_of(shap[i, chosen[i]], matrix.feature_names, 2)
            assert [(r["feature"], np.float32(r["contribution"])) for r in line["reasons"]] == want
            for r in line["reasons"]:
                sent = rows[i, int(r["feature"][1:])]
                assert (r["value"] is None and sent != sent) or np.float32(r["value"]) == sent
    finally:
        assert server.stop() == 0


def schema(types: list[str], categories: dict | None = None) -> formats.Schema:
    names = [f"x{i}" for i in range(len(types))]
    return formats.Schema("csv-header", names, types, categories or {})


def test_top_reasons_order_ties_values_and_missing():
    s = schema(["q", "c", "q", "q"], {"x1": ["low", "high"]})
    contributions = np.array(
        [[0.5, 0.5, -1.0, 0.25, 9.0], [0.0, -0.1, 0.3, np.float32(0.1), 0.0]], dtype=np.float32
    )
    X = np.array([[0.1, 1, np.nan, 67], [3.5, 0, 2**24 + 2, np.nan]], dtype=np.float32)
    got = reasons.top_reasons(contributions, X, s, 3)
    assert got[0] == [
        {"feature": "x0", "value": 0.1, "contribution": 0.5},
        {"feature": "x1", "value": "high", "contribution": 0.5},
        {"feature": "x3", "value": 67, "contribution": 0.25},
    ]
    assert got[1] == [
        {"feature": "x2", "value": 2**24 + 2, "contribution": 0.300000012},
        {"feature": "x3", "value": None, "contribution": 0.100000001},
    ]
    assert reasons.top_reasons(contributions, X, s, 1)[1][0]["feature"] == "x2"
    assert reasons.top_reasons(contributions, X, s, 0) == [[], []]
    assert reasons.display_value(5.0, 1, s) is None  # a code outside the categories


def test_requested_counts():
    assert reasons.requested("3", "1") == 3
    assert reasons.requested(None, "2") == 2
    assert reasons.requested(None, " ") == 0
    assert reasons.requested("0", "5") == 0
    with pytest.raises(UserError, match="SAGEMAKER_REASONS='-2'"):
        reasons.requested(None, "-2")
    with pytest.raises(UserError, match="custom attribute reasons='x'"):
        reasons.requested("x", "1")
