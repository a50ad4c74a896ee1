"""Reading channels: every content type, several files, sub-folders, gzip, and bad data."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from conftest import GERMAN
from xgb_container import formats
from xgb_container.errors import UserError


def rows(n: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).round(4)
    y = (X[:, 0] > 0).astype(int)
    return np.column_stack([y, X])


def write_csv(path, table: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, table, delimiter=",", fmt="%g")


def test_plain_csv_from_several_files_sub_folders_and_gzip(tmp_path):
    a, b, c = rows(10, 1), rows(20, 2), rows(30, 3)
    write_csv(tmp_path / "a.csv", a)
    write_csv(tmp_path / "deeper" / "b.csv", b)
    (tmp_path / "deeper" / "c.csv.gz").write_bytes(
        gzip.compress(pd.DataFrame(c).to_csv(header=False, index=False).encode())
    )
    (tmp_path / ".hidden.csv").write_text("not,data\n")
    ds = formats.load_channel(tmp_path, "text/csv")
    assert ds.num_rows == 60
    assert ds.schema.feature_names == ["f0", "f1", "f2"]
    expected = np.concatenate([a, b, c])
    np.testing.assert_allclose(ds.X, expected[:, 1:], rtol=1e-6)
    np.testing.assert_array_equal(ds.y, expected[:, 0])


def test_plain_csv_weights_in_column_two(tmp_path):
    table = rows(10)
    weights = np.arange(1, 11)
    write_csv(tmp_path / "w.csv", np.column_stack([table[:, 0], weights, table[:, 1:]]))
    ds = formats.load_channel(tmp_path, "text/csv", csv_weights=True)
    np.testing.assert_array_equal(ds.weight, weights)
    assert ds.X.shape == (10, 3)


def test_bad_cell_names_file_line_and_column(tmp_path):
    (tmp_path / "ok.csv").write_text("1,2,3\n0,4,5\n")
    (tmp_path / "bad.csv").write_text("1,2,3\n0,4,5\n1,x7,2\n")
    with pytest.raises(UserError, match=r"bad\.csv: line 3, column 2: 'x7' is not a number"):
        formats.load_channel(tmp_path, "text/csv")


def test_ragged_row_is_named(tmp_path):
    (tmp_path / "ragged.csv").write_text("1,2,3\n0,4,5\n1,2,3,4\n")
    with pytest.raises(UserError, match=r"ragged\.csv.*line 3"):
        formats.load_channel(tmp_path, "text/csv")


def test_broken_gzip_is_named(tmp_path):
    packed = gzip.compress(b"1,2,3\n" * 100)
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(UserError, match=r"cut\.csv\.gz: broken gzip"):
        formats.load_channel(tmp_path, "text/csv")


def test_header_csv_with_text_columns_and_text_labels(tmp_path):
    (tmp_path / "german.csv").write_bytes(GERMAN.read_bytes())
    ds = formats.load_channel(
        tmp_path,
        "text/csv; header=present",
        label_column="creditability",
        positive_label="bad",
    )
    frame = pd.read_csv(GERMAN)
    assert ds.num_rows == 1000
    assert ds.y.sum() == (frame["creditability"] == "bad").sum() == 300
    assert ds.schema.classes == ["good", "bad"]
    purpose = ds.schema.feature_names.index("purpose")
    assert ds.schema.feature_types[purpose] == "c"
    codes = ds.X[:, purpose]
    names = ds.schema.categories["purpose"]
    assert [names[int(c)] for c in codes[:5]] == list(frame["purpose"][:5].str.strip())


def test_header_csv_without_label_column_says_so(tmp_path):
    (tmp_path / "german.csv").write_bytes(GERMAN.read_bytes())
    with pytest.raises(UserError, match="needs the hyperparameter label_column"):
        formats.load_channel(tmp_path, "text/csv; header=present")
    with pytest.raises(UserError, match="label_column 'target' is not a column"):
        formats.load_channel(tmp_path, "text/csv; header=present", label_column="target")


def test_parquet_like_header_csv(tmp_path):
    frame = pd.read_csv(GERMAN)
    frame.to_parquet(tmp_path / "german.parquet")
    ds = formats.load_channel(
        tmp_path, "application/x-parquet", label_column="creditability", positive_label="bad"
    )
    assert ds.num_rows == 1000 and ds.schema.input_format == "parquet"
    assert ds.schema.feature_types.count("c") == 13


def test_libsvm_indices_are_used_as_written(tmp_path):
    (tmp_path / "a.libsvm").write_text("1 0:1.5 3:2\n0 1:-1\n")
    (tmp_path / "b.libsvm").write_text("1 2:7\n")
    ds = formats.load_channel(tmp_path, "text/libsvm")
    dense = ds.X.toarray()
    assert dense.shape == (3, 4)
    np.testing.assert_array_equal(dense[0], [1.5, 0, 0, 2])
    np.testing.assert_array_equal(dense[2], [0, 0, 7, 0])
    np.testing.assert_array_equal(ds.y, [1, 0, 1])


def test_validation_with_other_feature_count_is_refused(tmp_path):
    train, validation = tmp_path / "train", tmp_path / "validation"
    write_csv(train / "t.csv", rows(10))
    write_csv(validation / "v.csv", rows(10)[:, :3])
    schema = formats.load_channel(train, "text/csv").schema
    with pytest.raises(UserError, match="validation has 2 features but the train channel has 3"):
        formats.load_channel(validation, "text/csv", schema=schema)


def test_unknown_content_type_is_refused(tmp_path):
    write_csv(tmp_path / "t.csv", rows(5))
    with pytest.raises(UserError, match="content type 'application/json' is not supported"):
        formats.load_channel(tmp_path, "application/json")


def test_empty_channel_is_none(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    assert formats.load_channel(tmp_path, "text/csv") is None
    assert formats.load_channel(tmp_path / "missing", "text/csv") is None
