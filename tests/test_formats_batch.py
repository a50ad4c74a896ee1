"""Batch transform of a header table as SageMaker cuts it (issue #9 item 5): the file is split
on lines, the header only in the first mini-batch; every data row is scored, in order."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xgboost as xgb
from conftest import TEST_DIR
from serve_harness import Server, load_booster
from xgb_container import formats
from xgb_container.metadata import ModelMetadata

GERMAN_TEST = TEST_DIR / "input" / "data" / "test" / "german_credit_test.csv"
BATCH_ENV = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD"}


@pytest.fixture(scope="module")
def batch(german_model, tmp_path_factory):
    server = Server(german_model.parent, tmp_path_factory.mktemp("log") / "serve.log", **BATCH_ENV)
    yield server.wait_ready()
    assert server.stop() == 0


@pytest.fixture(scope="module")
def expected(german_model) -> np.ndarray:
    """The test file's probabilities as training reads it (label column and all)."""
    meta = ModelMetadata.load(german_model / "metadata.json")
    schema = formats.Schema.from_metadata(meta)
    dataset = formats.load_channel(
        GERMAN_TEST.parent, "text/csv; header=present", positive_label="bad", schema=schema
    )
    matrix = xgb.DMatrix(
        dataset.X,
        feature_names=meta.feature_names,
        feature_types=meta.feature_types,
        enable_categorical=True,
    )
    return load_booster(german_model).predict(matrix)


def mini_batches(lines: list[str], size: int) -> list[str]:
    """Lines cut into bodies of ``size`` lines, as SageMaker's MULTI_RECORD split does."""
    return ["\n".join(lines[i : i + size]) + "\n" for i in range(0, len(lines), size)]


def scored(server: Server, bodies: list[str], accept: str = "text/csv") -> list[str]:
    out = []
    for body in bodies:
        answer = server.invoke(body, "text/csv", Accept=accept)
        assert answer.status_code == 200, answer.text
        out.extend(answer.text.splitlines())
    return out


def test_metadata_records_the_table_columns(german_model):
    meta = json.loads((german_model / "metadata.json").read_text())
    header = GERMAN_TEST.read_text().splitlines()[0].split(",")
    assert meta["columns"] == header
    assert meta["columns"][-1] == meta["label_column"] == "creditability"


@pytest.mark.parametrize("size", [37, 1, 250], ids=["37-lines", "single-record", "whole-file"])
def test_file_as_is_cut_with_the_header_only_first(batch, expected, size):
    lines = GERMAN_TEST.read_text().splitlines()
    got = scored(batch, mini_batches(lines, size))
    assert len(got) == len(lines) - 1 == len(expected)
    np.testing.assert_array_equal(np.array(got, dtype=np.float32), expected)


def test_rows_without_the_label_score_the_same(batch, expected):
    lines = GERMAN_TEST.read_text().splitlines()[1:]
    without = [line.rsplit(",", 1)[0] for line in lines[:40]]
    got = scored(batch, mini_batches(without, 40), accept="application/jsonlines")
    probabilities = [json.loads(line)["probability"] for line in got]
    np.testing.assert_array_equal(np.array(probabilities, dtype=np.float32), expected[:40])


def test_header_alone_yields_no_output_line(batch):
    header = GERMAN_TEST.read_text().splitlines()[0]
    answer = batch.invoke(header + "\n", "text/csv", Accept="text/csv")
    assert answer.status_code == 200, answer.text
    assert answer.content == b""


def test_other_widths_are_refused_naming_both(batch):
    row = GERMAN_TEST.read_text().splitlines()[1]
    answer = batch.invoke(row + ",extra", "text/csv")
    assert answer.status_code == 400
    assert "has 22 values but the model expects 20 (or 21, the training table's columns)" in (
        answer.text
    )
