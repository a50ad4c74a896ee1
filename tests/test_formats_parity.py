"""Train/serve parity: the same file read by training (a channel, in chunks) and by serving
(a request body) gives the same matrix, categories included, for every format."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from xgb_container import formats
from xgb_container.formats import files

PURPOSES = ["car", "radio/tv", "  education", "NA", "", "business ", "n/a"]


def table(n: int, seed: int) -> pd.DataFrame:
    """A credit-like table with text categories, missing spellings and spaces in cells."""
    rng = np.random.default_rng(seed)
    amount = rng.integers(100, 20_000, n).astype(str).astype(object)
    amount[rng.random(n) < 0.1] = "NULL"
    amount[rng.random(n) < 0.05] = " 1.5e3 "
    amount[rng.random(n) < 0.05] = ""
    return pd.DataFrame(
        {
            "purpose": rng.choice(PURPOSES, n),
            "amount": amount,
            "age": rng.integers(18, 80, n),
            "housing": rng.choice(["own", "rent", "free", "<NA>"], n),
            "risk": rng.choice(["good", "bad"], n, p=[0.7, 0.3]),
        }
    )


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of about 1 KiB, so that every file spans many blocks."""
    monkeypatch.setattr(files, "BLOCK_BYTES", 1024)


def trained(tmp_path, name: str, content_type: str, **columns) -> formats.Schema:
    folder = tmp_path / "train"
    folder.mkdir()
    frame = table(400, 1)
    write(frame, folder / name, content_type)
    schema = formats.infer_schema(folder, content_type, **columns)
    assert schema is not None
    return schema


def write(frame: pd.DataFrame, path, content_type: str) -> None:
    if content_type.startswith("text/csv"):
        path.write_text(frame.to_csv(index=False))
    elif content_type == formats.PARQUET:
        frame.to_parquet(path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict("records")))


def read_by_training(folder, content_type, schema, **columns) -> np.ndarray:
    chunks = list(formats.iter_chunks(folder, content_type, schema=schema, chunk_rows=7, **columns))
    assert all(c.num_rows <= 7 for c in chunks)
    whole = formats.load_channel(folder, content_type, schema=schema, **columns)
    X = np.concatenate([c.X for c in chunks])
    np.testing.assert_array_equal(X, whole.X)
    return X


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("t.csv", "text/csv; header=present"),
        ("t.parquet", formats.PARQUET),
        ("t.jsonl", formats.JSONLINES),
    ],
)
def test_tables_read_the_same_by_training_and_serving(tmp_path, name, content_type):
    schema = trained(tmp_path, name, content_type, label_column="risk", positive_label="bad")
    assert schema.feature_types == ["c", "q", "q", "c"]
    assert schema.categories["purpose"] == ["business", "car", "education", "radio/tv"]
    folder = tmp_path / "test"
    folder.mkdir()
    frame = table(300, 2)
    frame.loc[::17, "purpose"] = "spaceship"  # unknown to the model: missing
    write(frame, folder / name, content_type)
    X = read_by_training(folder, content_type, schema, positive_label="bad")
    served = formats.decode((folder / name).read_bytes(), content_type, schema)
    np.testing.assert_array_equal(served, X)
    assert np.isnan(X[::17, 0]).all() and not np.isnan(X[1::17, 0]).all()


def test_json_body_reads_like_json_lines(tmp_path):
    schema = trained(tmp_path, "t.jsonl", formats.JSONLINES, label_column="risk")
    records = table(50, 3).to_dict("records")
    lines = "".join(json.dumps(r) + "\n" for r in records).encode()
    document = json.dumps({"instances": records}).encode()
    np.testing.assert_array_equal(
        formats.decode(document, formats.JSON, schema),
        formats.decode(lines, formats.JSONLINES, schema),
    )


def test_plain_csv_features_read_the_same(tmp_path):
    rng = np.random.default_rng(4)
    values = rng.normal(size=(500, 5)).round(5).astype(str).astype(object)
    values[rng.random(values.shape) < 0.1] = "NA"
    values[rng.random(values.shape) < 0.05] = ""
    labels = rng.integers(0, 2, (500, 1)).astype(str)
    text = "\n".join(",".join(row) for row in np.hstack([labels, values])) + "\n"
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "t.csv.gz").write_bytes(gzip.compress(text.encode()))
    schema = formats.infer_schema(folder, "text/csv")
    X = read_by_training(folder, "text/csv", schema)
    body = "\n".join(line.split(",", 1)[1] for line in text.splitlines()).encode()
    np.testing.assert_array_equal(formats.decode(body, "text/csv", schema), X)
    assert np.isnan(X).sum() == ((values == "NA") | (values == "")).sum()


def test_libsvm_reads_the_same(tmp_path):
    rng = np.random.default_rng(5)
    lines = []
    for _ in range(400):
        keep = sorted(rng.choice(8, rng.integers(1, 8), replace=False))
        lines.append(f"{rng.integers(0, 2)} " + " ".join(f"{j}:{rng.normal():.4f}" for j in keep))
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "t.libsvm").write_text("\n".join(lines) + "\n0 7:0\n")
    schema = formats.infer_schema(folder, formats.LIBSVM)
    assert schema.count == 8
    chunks = list(formats.iter_chunks(folder, formats.LIBSVM, schema=schema, chunk_rows=7))
    trained_rows = sp.vstack([c.X for c in chunks]).tocsr()
    served = formats.decode((folder / "t.libsvm").read_bytes(), formats.LIBSVM, schema)
    dense = np.full(served.shape, np.nan, dtype=np.float32)  # absent entries are missing
    coo = trained_rows.tocoo()
    dense[coo.row, coo.col] = coo.data
    np.testing.assert_array_equal(served, dense)
    assert served[-1, 7] == 0  # an explicit zero is a value, not missing, on both sides


def test_validation_categories_follow_the_train_channel(tmp_path):
    schema = trained(tmp_path, "t.csv", "text/csv; header=present", label_column="risk")
    body = io.StringIO()
    table(20, 6).drop(columns=["risk"]).to_csv(body, index=False)
    served = formats.decode(body.getvalue().encode(), "text/csv", schema)
    codes = served[:, 0]
    names = table(20, 6)["purpose"].str.strip()
    expected = [
        schema.categories["purpose"].index(n) if n in schema.categories["purpose"] else -1
        for n in names
    ]
    np.testing.assert_array_equal(np.nan_to_num(codes, nan=-1), expected)
