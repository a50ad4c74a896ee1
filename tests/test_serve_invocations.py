"""``/invocations`` over real HTTP: content types, Accept types, outputs and explanations."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb
from conftest import TEST_DIR
from serve_harness import Server, load_booster, train_numeric
from xgb_container import formats
from xgb_container.formats import cells
from xgb_container.metadata import ModelMetadata

GERMAN_TEST = TEST_DIR / "input" / "data" / "test" / "german_credit_test.csv"


@pytest.fixture(scope="module")
def german(german_model, tmp_path_factory):
    server = Server(german_model.parent, tmp_path_factory.mktemp("log") / "serve.log")
    yield server.wait_ready()
    assert server.stop() == 0


@pytest.fixture(scope="module")
def german_expected(german_model):
    """Probabilities of the test rows as training reads them (the formats layer)."""
    meta = ModelMetadata.load(german_model / "metadata.json")
    schema = formats.Schema(
        meta.input_format,
        meta.feature_names,
        meta.feature_types,
        meta.categories,
        meta.label_column,
        meta.classes,
    )
    dataset = formats.load_channel(
        GERMAN_TEST.parent, "text/csv; header=present", positive_label="bad", schema=schema
    )
    booster = load_booster(german_model)
    matrix = xgb.DMatrix(
        dataset.X,
        feature_names=meta.feature_names,
        feature_types=meta.feature_types,
        enable_categorical=True,
    )
    return booster.predict(matrix), booster.predict(matrix, pred_contribs=True), meta


def floats(text: str) -> np.ndarray:
    return np.array([float(v) for v in text.split()], dtype=np.float32)


def test_ping_is_empty_200(german):
    answer = requests.get(german.url("/ping"), timeout=5)
    assert answer.status_code == 200
    assert answer.content == b""


def test_header_csv_scores_exactly_as_training(german, german_expected):
    expected, _, _ = german_expected
    answer = german.invoke(GERMAN_TEST.read_bytes(), "text/csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/csv")
    np.testing.assert_array_equal(floats(answer.text), expected)


def test_headerless_csv_with_text_values(german, german_expected):
    expected, _, _ = german_expected
    frame = pd.read_csv(GERMAN_TEST, dtype=str, keep_default_na=False)
    rows = frame.drop(columns=["creditability"]).head(5)
    body = rows.to_csv(header=False, index=False)
    answer = german.invoke(body, "text/csv; header=absent")
    assert answer.status_code == 200, answer.text
    np.testing.assert_array_equal(floats(answer.text), expected[:5])


def test_json_objects_by_feature_name(german, german_expected):
    expected, _, meta = german_expected
    frame = pd.read_csv(GERMAN_TEST, skipinitialspace=True).head(4)
    records = json.loads(frame.to_json(orient="records"))
    records[1] = dict(reversed(list(records[1].items())))  # key order does not matter
    answer = german.invoke(json.dumps({"instances": records}), "application/json")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    got = [p["probability"] for p in answer.json()["predictions"]]
    np.testing.assert_array_equal(np.array(got, dtype=np.float32), expected[:4])


def test_jsonlines_in_and_out(german, german_expected):
    expected, _, _ = german_expected
    frame = pd.read_csv(GERMAN_TEST, skipinitialspace=True).head(3)
    body = frame.to_json(orient="records", lines=True)
    answer = german.invoke(body, "application/jsonlines", Accept="application/jsonlines")
    assert answer.status_code == 200, answer.text
    lines = answer.text.splitlines()
    assert len(lines) == 3
    got = [json.loads(line)["probability"] for line in lines]
    np.testing.assert_array_equal(np.array(got, dtype=np.float32), expected[:3])


def test_unknown_category_is_missing_like_training(german, german_model):
    booster = load_booster(german_model)
    meta = ModelMetadata.load(german_model / "metadata.json")
    frame = pd.read_csv(GERMAN_TEST, skipinitialspace=True).head(1)
    frame["purpose"] = "spaceship"
    record = json.loads(frame.to_json(orient="records"))[0]
    answer = german.invoke(json.dumps([record]), "application/json")
    assert answer.status_code == 200, answer.text
    row = pd.DataFrame([record]).drop(columns=["creditability"])
    X = np.empty((1, meta.num_features), dtype=np.float32)
    for i, (name, kind) in enumerate(zip(meta.feature_names, meta.feature_types, strict=True)):
        column = row[name]
        X[:, i] = (
            cells.codes(column, meta.categories[name])
            if kind == "c"
            else column.to_numpy(dtype=np.float32)
        )
    assert np.isnan(X[0, meta.feature_names.index("purpose")])
    expected = booster.predict(
        xgb.DMatrix(
            X,
            feature_names=meta.feature_names,
            feature_types=meta.feature_types,
            enable_categorical=True,
        )
    )
    assert np.float32(answer.json()["predictions"][0]["probability"]) == expected[0]


@pytest.mark.parametrize(
    ("accept", "kind"),
    [
        ("text/csv", "text/csv"),
        ("application/json", "application/json"),
        ("application/jsonlines", "application/jsonlines"),
        ("application/json;q=0.5, text/csv", "text/csv"),
        ("*/*", "text/csv"),
    ],
)
def test_accept_types(german, accept, kind):
    answer = german.invoke(GERMAN_TEST.read_bytes(), "text/csv", Accept=accept)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].split(";")[0] == kind


def test_output_selection_and_custom_attributes_echo(german, german_expected):
    expected, _, meta = german_expected
    attributes = "output=predicted_label,probability,probabilities,labels,raw_score"
    answer = german.invoke(
        GERMAN_TEST.read_bytes(),
        "text/csv",
        Accept="text/csv",
        **{"X-Amzn-SageMaker-Custom-Attributes": attributes},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Amzn-SageMaker-Custom-Attributes"] == attributes
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert len(rows) == len(expected)
    for row, p in zip(rows, expected, strict=True):
        label, prob, probs, labels, raw = row
        assert np.float32(prob) == p
        assert label == (meta.classes[1] if p >= meta.threshold else meta.classes[0])
        assert json.loads(labels) == meta.classes
        assert np.float32(json.loads(probs)[1]) == p
        assert 1 / (1 + np.exp(-float(raw))) == pytest.approx(float(p), rel=1e-5)


def test_inference_output_variable_sets_the_default(german_model, tmp_path):
    server = Server(
        german_model.parent,
        tmp_path / "serve.log",
        workers=1,
        SAGEMAKER_INFERENCE_OUTPUT="predicted_label,probability",
    ).wait_ready()
    try:
        answer = server.invoke(GERMAN_TEST.read_bytes(), "text/csv", Accept="application/json")
        first = answer.json()["predictions"][0]
        assert list(first) == ["predicted_label", "probability"]
    finally:
        assert server.stop() == 0


def test_explanations_are_shap_values_largest_first(german, german_expected):
    expected, contributions, meta = german_expected
    body = GERMAN_TEST.read_bytes()
    by_header = german.invoke(
        body,
        "text/csv",
        Accept="application/json",
        **{"X-Amzn-SageMaker-Enable-Explanations": "`true`"},
    )
    by_attribute = german.invoke(
        body,
        "text/csv",
        Accept="application/json",
        **{"X-Amzn-SageMaker-Custom-Attributes": "explain=true"},
    )
    assert by_header.status_code == by_attribute.status_code == 200
    assert by_header.json() == by_attribute.json()
    for i, prediction in enumerate(by_header.json()["predictions"][:20]):
        explanation = prediction["explanation"]
        values = list(explanation["contributions"].values())
        assert sorted(explanation["contributions"]) == sorted(meta.feature_names)
        assert [abs(v) for v in values] == sorted((abs(v) for v in values), reverse=True)
        for name, value in explanation["contributions"].items():
            j = meta.feature_names.index(name)
            assert np.float32(value) == contributions[i, j]
        margin = explanation["bias"] + sum(values)
        assert 1 / (1 + np.exp(-margin)) == pytest.approx(float(expected[i]), abs=1e-5)


def test_no_explanations_unless_asked(german):
    answer = german.invoke(
        GERMAN_TEST.read_bytes(),
        "text/csv",
        Accept="application/json",
        **{"X-Amzn-SageMaker-Enable-Explanations": "`false`"},
    )
    assert "explanation" not in answer.json()["predictions"][0]


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory):
    base = tmp_path_factory.mktemp("multi") / "ml"
    booster, X = train_numeric(base, "multi:softprob", num_class=3)
    server = Server(base, base.parent / "serve.log", workers=1)
    yield server.wait_ready(), booster, X
    assert server.stop() == 0


def test_multiclass_probabilities_and_labels(multiclass):
    server, booster, X = multiclass
    rows = X[:10]
    body = "\n".join(",".join("" if np.isnan(v) else repr(float(v)) for v in r) for r in rows)
    answer = server.invoke(
        body,
        "text/csv",
        Accept="application/jsonlines",
        **{
            "X-Amzn-SageMaker-Custom-Attributes": "output=predicted_label,probability,probabilities;explain=true"
        },
    )
    assert answer.status_code == 200, answer.text
    expected = booster.inplace_predict(rows)
    names = [f"f{i}" for i in range(rows.shape[1])]
    contributions = booster.predict(xgb.DMatrix(rows, feature_names=names), pred_contribs=True)
    for i, line in enumerate(answer.text.splitlines()):
        record = json.loads(line)
        best = int(expected[i].argmax())
        assert record["predicted_label"] == f"class{best}"
        np.testing.assert_array_equal(np.float32(record["probabilities"]), expected[i])
        assert np.float32(record["probability"]) == expected[i, best]
        shown = record["explanation"]["contributions"]
        assert np.float32(shown["f0"]) == contributions[i, best, 0]


def test_multiclass_default_output_is_probabilities(multiclass):
    server, booster, X = multiclass
    answer = server.invoke(json.dumps({"instances": X[:2].tolist()}), "application/json")
    assert answer.status_code == 200, answer.text
    # json.dumps writes NaN for missing values, which Python's json module reads back.
    got = [p["probabilities"] for p in answer.json()["predictions"]]
    np.testing.assert_array_equal(np.float32(got), booster.inplace_predict(X[:2]))


def test_regression_scores_and_no_probability(tmp_path):
    base = tmp_path / "ml"
    booster, X = train_numeric(base, "reg:squarederror")
    server = Server(base, tmp_path / "serve.log", workers=1).wait_ready()
    try:
        body = json.dumps(
            {"instances": [[None if np.isnan(v) else float(v) for v in r] for r in X[:5]]}
        )
        answer = server.invoke(body, "application/json", Accept="text/csv")
        assert answer.status_code == 200, answer.text
        np.testing.assert_array_equal(floats(answer.text), booster.inplace_predict(X[:5]))
        refused = server.invoke(
            body, "application/json", **{"X-Amzn-SageMaker-Custom-Attributes": "output=probability"}
        )
        assert refused.status_code == 400
        assert "predicted_score" in refused.text
    finally:
        assert server.stop() == 0


def test_libsvm_row_scores_as_in_training(job, tmp_path):
    """Index i is feature i at serving exactly as in training (no 1-based shift)."""
    rng = np.random.default_rng(5)
    lines = []
    for _ in range(300):
        x = rng.normal(size=6)
        label = int(x[0] + x[3] > 0)
        keep = [i for i in range(6) if rng.random() > 0.2]
        lines.append(f"{label} " + " ".join(f"{i}:{x[i]:.4f}" for i in keep))
    folder = job.channel("train", "text/libsvm")
    (folder / "train.libsvm").write_text("\n".join(lines) + "\n")
    job.hyperparameters(num_round=10, objective="binary:logistic", max_depth=3)
    done = job.train()
    assert done.returncode == 0, done.stderr
    server = Server(job.base, tmp_path / "serve.log", workers=1).wait_ready()
    try:
        answer = server.invoke("\n".join(lines[:50]), "text/libsvm")
        assert answer.status_code == 200, answer.text
        X = formats.load_channel(folder, "text/libsvm").X
        booster = load_booster(job.model_dir)
        expected = booster.predict(xgb.DMatrix(X[:50], feature_names=booster.feature_names))
        np.testing.assert_array_equal(floats(answer.text), expected)
        outside = server.invoke("1 6:0.5", "text/libsvm")
        assert outside.status_code == 400
        assert "index 6" in outside.text
    finally:
        assert server.stop() == 0


def test_parquet_body(german, german_expected):
    expected, _, _ = german_expected
    frame = pd.read_csv(GERMAN_TEST, skipinitialspace=True).head(6)
    buffer = io.BytesIO()
    frame.drop(columns=["creditability"]).to_parquet(buffer)
    answer = german.invoke(buffer.getvalue(), "application/x-parquet")
    assert answer.status_code == 200, answer.text
    np.testing.assert_array_equal(floats(answer.text), expected[:6])
