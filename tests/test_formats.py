"""Reading channels: every content type, several files, sub-folders, gzip, and bad data."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from conftest import GERMAN
from xgb_container import formats
from xgb_container.errors import UserError
from xgb_container.formats import files


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


def test_short_rows_are_refused_not_filled(tmp_path):
    (tmp_path / "t.csv").write_text("1,2,3\n0,4,5\n1,2\n")
    with pytest.raises(UserError, match=r"t\.csv: line 3 has 2 values but the lines before have 3"):
        formats.load_channel(tmp_path, "text/csv")
    (tmp_path / "t.csv").write_text("y,a,b\n1,2,3\n0,4\n")
    with pytest.raises(UserError, match=r"t\.csv: line 3 has 2 values but the header names 3"):
        formats.load_channel(tmp_path, "text/csv; header=present", label_column="y")


def test_long_rows_in_tables_are_refused(tmp_path):
    (tmp_path / "t.csv").write_text("y,a,b\n1,2,3,4\n0,4,5\n")
    with pytest.raises(UserError, match=r"t\.csv: line 2 has 4 values but the header names 3"):
        formats.load_channel(tmp_path, "text/csv; header=present", label_column="y")


def test_line_numbers_count_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "BLOCK_BYTES", 64)
    lines = ["1,2,3"] * 500 + ["0,oops,3"] + ["1,2,3"] * 10
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"t\.csv: line 501, column 2: 'oops' is not a number"):
        formats.load_channel(tmp_path, "text/csv")
    (tmp_path / "t.csv").write_text("y,a,b\n" + "\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"row 501, column 'a': 'oops' is not a number"):
        formats.load_channel(tmp_path, "text/csv; header=present", label_column="y")


def test_json_lines_channel_is_a_table(tmp_path):
    rows_ = [
        {"risk": "bad", "purpose": "car", "amount": 1200, "flag": True},
        {"risk": "good", "purpose": " radio", "amount": None, "flag": False},
        {"risk": "good", "amount": 300.5, "flag": True},
    ]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows_) + "\n\n")
    ds = formats.load_channel(
        tmp_path, "application/jsonlines", label_column="risk", positive_label="bad"
    )
    assert ds.schema.input_format == "jsonlines"
    assert ds.schema.feature_names == ["purpose", "amount", "flag"]
    assert ds.schema.feature_types == ["c", "q", "q"]
    assert ds.schema.categories == {"purpose": ["car", "radio"]}
    np.testing.assert_array_equal(ds.X, [[0, 1200, 1], [1, np.nan, 0], [np.nan, 300.5, 1]])
    np.testing.assert_array_equal(ds.y, [1, 0, 0])
    (tmp_path / "t.jsonl").write_text('{"risk": 1, "a": 2}\n[1, 2]\n')
    with pytest.raises(UserError, match=r"t\.jsonl: line 2: training rows are JSON objects"):
        formats.load_channel(tmp_path, "application/jsonlines", label_column="risk")


def test_true_false_text_is_categorical_in_csv(tmp_path):
    (tmp_path / "t.csv").write_text("y,owner,n\n1,True,3\n0,False,4\n1,True,\n")
    ds = formats.load_channel(tmp_path, "text/csv; header=present", label_column="y")
    assert ds.schema.feature_types == ["c", "q"]
    assert ds.schema.categories == {"owner": ["False", "True"]}
    np.testing.assert_array_equal(ds.X, [[1, 3], [0, 4], [1, np.nan]])


def test_streamed_chunks_carry_weights_and_side_columns(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "BLOCK_BYTES", 100)
    table = rows(40)
    weights = np.arange(1, 41)
    write_csv(tmp_path / "w.csv", np.column_stack([table[:, 0], weights, table[:, 1:]]))
    chunks = list(
        formats.iter_chunks(
            tmp_path, "text/csv", csv_weights=True, side_columns=("f1",), chunk_rows=6
        )
    )
    assert max(c.num_rows for c in chunks) <= 6
    np.testing.assert_array_equal(np.concatenate([c.weight for c in chunks]), weights)
    np.testing.assert_allclose(np.concatenate([c.columns["f1"] for c in chunks]), table[:, 2])


def test_header_tables_stream_side_and_excluded_columns(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "BLOCK_BYTES", 2048)
    (tmp_path / "g.csv").write_bytes(GERMAN.read_bytes())
    chunks = list(
        formats.iter_chunks(
            tmp_path,
            "text/csv; header=present",
            label_column="creditability",
            positive_label="bad",
            exclude_columns=("age_in_years",),
            side_columns=("age_in_years", "purpose"),
            chunk_rows=100,
        )
    )
    frame = pd.read_csv(GERMAN, skipinitialspace=True)
    assert "age_in_years" not in chunks[0].schema.feature_names
    ages = np.concatenate([c.columns["age_in_years"] for c in chunks])
    np.testing.assert_array_equal(ages, frame["age_in_years"])
    purposes = np.concatenate([c.columns["purpose"] for c in chunks])
    assert list(purposes) == list(frame["purpose"])
    assert sum(c.y.sum() for c in chunks) == 300


def test_second_file_with_other_columns_is_refused(tmp_path):
    (tmp_path / "a.csv").write_text("y,a,b\n1,2,3\n")
    (tmp_path / "b.csv").write_text("y,a,c\n1,2,3\n")
    with pytest.raises(
        UserError, match=r"b\.csv: columns differ .*missing \['b'\], unexpected \['c'\]"
    ):
        formats.load_channel(tmp_path, "text/csv; header=present", label_column="y")


def test_libsvm_error_names_the_file_and_line(tmp_path):
    (tmp_path / "a.libsvm").write_text("1 0:1.5 3:2\n0 x:y\n")
    with pytest.raises(UserError, match=r"a\.libsvm: cannot parse LibSVM near line 1"):
        formats.load_channel(tmp_path, "text/libsvm")


def test_ahead_keeps_order_works_in_parallel_and_raises_at_its_item():
    import threading
    import time

    seen: set[str] = set()

    def work(n: int) -> int:
        seen.add(threading.current_thread().name)
        time.sleep(0.02 * (n % 3))  # later items may finish first
        if n == 7:
            raise UserError("item 7")
        return n * n

    out = files.ahead(range(10), work, 2)
    assert [next(out) for _ in range(7)] == [n * n for n in range(7)]
    with pytest.raises(UserError, match="item 7"):
        next(out)
    assert len(seen) == 2  # two threads worked
    assert list(files.ahead(range(5), work, 1)) == [0, 1, 4, 9, 16]


@pytest.mark.parametrize("bad", [None, "0,oops,3", "1,2"])
def test_plain_csv_parsed_in_parallel_reads_and_refuses_as_in_one_thread(
    tmp_path, monkeypatch, bad
):
    monkeypatch.setattr(files, "BLOCK_BYTES", 256)
    lines = [",".join(f"{v:g}" for v in row) for row in rows(600)]
    if bad:
        lines[433] = bad
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")

    def read(workers: int) -> tuple[np.ndarray | None, str | None]:
        try:
            chunks = list(formats.iter_chunks(tmp_path, "text/csv", workers=workers))
        except UserError as exc:
            return None, str(exc)
        return np.concatenate([np.column_stack([c.y, c.X]) for c in chunks]), None

    one, parallel = read(1), read(2)
    if bad is None:
        np.testing.assert_array_equal(parallel[0], rows(600).astype(np.float32))
        np.testing.assert_array_equal(parallel[0], one[0])
    else:
        assert parallel[1] is not None and "line 434" in parallel[1]
        assert parallel[1] == one[1]
