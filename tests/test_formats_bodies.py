"""Request and response bodies in process (fast): each decoder's matrix and each refusal's
message, and the response encodings."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xgb_container import formats
from xgb_container.errors import UserError

NUMERIC = formats.Schema("csv", [f"f{i}" for i in range(5)], ["q"] * 5)
TABLE = formats.Schema(
    "csv-header",
    ["purpose", "amount"],
    ["c", "q"],
    {"purpose": ["car", "radio/tv"]},
    "risk",
    ["good", "bad"],
    ["amount", "risk", "purpose"],
)
NAN = float("nan")


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        ("1,2,3,4,5\n1,2,x,4,5", "text/csv", ["line 2", "column 3 (f2)", "'x'"]),
        ("1,2,3,4,5\n1,2,3,4", "text/csv", ["line 2", "has 4 values but the model expects 5"]),
        ("1,2,3,4,5\n\n1,2,3,4,5", "text/csv", ["line 2 is empty"]),
        ('1,2,"3,4,5', "text/csv", ["line 1: has 3 values"]),
        ("1,2,1e39,4,5", "text/csv", ["row 1, column 3 (f2)", "infinite"]),
        ("", "text/csv", ["the body holds no rows"]),
        (b"1,2,\xff,4,5", "text/csv", ["line 1: the body is not UTF-8 text (byte 4)"]),
        (b"1,2,3,4,5\n\xff", "text/csv", ["line 2:", "UTF-8"]),
        ("1,2,3,4,5", "text/csv; header=present", ["line 1: header has unknown columns"]),
        ("f0,f1,f2,f3,f4\n1,2", "text/csv", ["line 2: has 2 values but the header names 5"]),
        ("f0,f1,f2,f3,f4\n" + "1,2,3,4,5\n" * 2 + "1,2", "text/csv", ["line 4: has 2 values"]),
        ("f0,f1,f2,f3,f4\n1,2,3,4,5\n1,2,x,4,5", "text/csv", ["line 3, column 3 (f2)", "'x'"]),
        ('{"instances": [[1,2,3,4,5], [1,2]', "application/json", ["line 1, column", "invalid"]),
        ('{"instances": [[1,2,3,4,5], [1,2]]}', "application/json", ["instance 2", "2 values"]),
        ('{"rows": [[1,2,3,4,5]]}', "application/json", ['needs the key "instances"']),
        ('{"instances": [{"f0": 1, "age": 3}]}', "application/json", ["unknown feature", "'age'"]),
        ('{"instances": [{"f0": [1]}]}', "application/json", ["column 1 (f0)", "'list'"]),
        ('{"instances": []}', "application/json", ["at least one row"]),
        ('{"instances": [7]}', "application/json", ["instance 1: has 1 values"]),
        ('{"instances": [["x",2,3,4,5]]}', "application/json", ["instance 1", "'x' is not"]),
        ('[1,2,3,4,5]\n{"f9": 1}', "application/jsonlines", ["line 2", "'f9'"]),
        ("[1,2,3,4,5]\n[1,2,3,4,", "application/jsonlines", ["line 2", "invalid JSON"]),
        ("[1,2,3,4,5]\n7", "application/jsonlines", ["line 2: expected a list of values"]),
        ("[" * 100_000, "application/json", ["nested too deeply"]),
        ("[1,2,3,4,5]\n" + "[" * 100_000, "application/jsonlines", ["line 2", "too deeply"]),
        ("[" + "1" * 5000 + ",2,3,4,5]", "application/json", ["invalid JSON", "digits"]),
        ("0 1:2 7:3", "text/libsvm", ["line 1, entry 2", "index 7 is outside 0..4"]),
        ("0 1:2\n0 a:b", "text/libsvm", ["line 2, entry 1", "'a:b' is not index:value"]),
        ("0 -1:2", "text/libsvm", ["index -1 is outside"]),
        ("0 3", "text/libsvm", ["entry 1", "'3' is not index:value"]),
        ("", "text/libsvm", ["the body holds no rows"]),
        (b"PAR1 not parquet", "application/x-parquet", ["cannot read the Parquet body"]),
    ],
)
def test_bad_body_names_the_problem(body, content_type, words):
    data = body.encode() if isinstance(body, str) else body
    with pytest.raises(UserError) as refused:
        formats.decode(data, content_type, NUMERIC)
    for word in words:
        assert word in str(refused.value)


def test_unknown_type_is_unsupported():
    with pytest.raises(formats.UnsupportedType, match="'text/plain' is not supported"):
        formats.decode(b"1,2,3,4,5", "text/plain", NUMERIC)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("1,2,3,4,5\n6,,NA,9,10\n", "text/csv"),
        ("1,2,3,4,5\r\n6, ,null,9,10", "text/csv"),
        ("f4,f3,f2,f1,f0\n5,4,3,2,1\n10,9,n/a,,6", "text/csv"),
        ("f0,f1,f2,f3,f4\n1,2,3,4,5\n6,,NaN,9,10", "text/csv; header=present"),
        ("[[1,2,3,4,5],[6,null,null,9,10]]", "application/json"),
        ('{"instances": [[1,2,3,4,5],{"f0":6,"f3":9,"f4":10}]}', "application/json"),
        ('[1,2,3,4,5]\n[6,null,"NA",9,10]', "application/jsonlines"),
        ('[1,2,3,4,5]\n[6,null,"NA",9,10]', "application/json"),
        ("1 0:1 1:2 2:3 3:4 4:5\n0 0:6 3:9 4:10 # note", "text/libsvm"),
        ("0:1 1:2 2:3 3:4 4:5\n0 qid:3 0:6 3:9 4:10", "text/libsvm"),
    ],
)
def test_every_format_reads_the_same_rows(body, content_type):
    X = formats.decode(body.encode(), content_type, NUMERIC)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X, [[1, 2, 3, 4, 5], [6, NAN, NAN, 9, 10]])


def test_single_flat_json_row():
    X = formats.decode(b"[1,2,3,4,5]", "application/json", NUMERIC)
    np.testing.assert_array_equal(X, [[1, 2, 3, 4, 5]])


def test_parquet_body_by_name():
    frame = pd.DataFrame({"f4": [5.0], "f0": [1.0], "f1": [2], "f2": [None], "f3": [4.0]})
    body = io.BytesIO()
    frame.to_parquet(body)
    X = formats.decode(body.getvalue(), "application/x-parquet", NUMERIC)
    np.testing.assert_array_equal(X, [[1, 2, NAN, 4, 5]])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("car,100\nradio/tv,NA\nboat,3", [[0, 100], [1, NAN], [NAN, 3]]),
        ("amount,risk,purpose\n100,good, car\n7,bad,radio/tv", [[0, 100], [1, 7]]),
        ("100,good,car\n7,bad,radio/tv", [[0, 100], [1, 7]]),  # as the table was
        ("purpose,amount\ncar,1", [[0, 1]]),
        ("car,1\n5,bad,radio/tv", [[0, 1], [1, 5]]),
    ],
)
def test_table_model_rows(body, expected):
    X = formats.decode(body.encode(), "text/csv", TABLE)
    np.testing.assert_array_equal(X, expected)


def test_table_model_json_ignores_label_and_table_columns():
    body = json.dumps([{"purpose": "car", "amount": 5, "risk": "bad"}, {"amount": 2.0}])
    X = formats.decode(body.encode(), "application/json", TABLE)
    np.testing.assert_array_equal(X, [[0, 5], [NAN, 2]])


def test_header_alone_is_no_rows_and_no_error():
    X = formats.decode(b"amount,risk,purpose\n", "text/csv", TABLE)
    assert X.shape == (0, 2)
    assert formats.encode({}, ("probability",), 0, formats.CSV) == b""
    assert formats.encode({}, ("probability",), 0, formats.JSONLINES) == b""
    assert formats.encode({}, ("probability",), 0, formats.JSON) == b'{"predictions":[]}'


def test_width_refusal_names_the_table_width():
    with pytest.raises(UserError, match=r"has 4 values but the model expects 2 \(or 3, the"):
        formats.decode(b"1,2,3,4", "text/csv", TABLE)


def test_encode_csv_json_and_lines():
    out = {
        "probability": np.array([0.25, 1 / 3], dtype=np.float32),
        "predicted_label": np.array(["good", "bad"], dtype=object),
        "probabilities": np.array([[0.75, 0.25], [2 / 3, 1 / 3]], dtype=np.float32),
        "labels": np.array(["good", "bad"], dtype=object),
    }
    assert formats.encode(out, ("probability",), 2, formats.CSV) == b"0.25\n0.333333343\n"
    fields = ("probability", "predicted_label", "labels")
    assert formats.encode(out, fields, 2, formats.CSV) == (
        b'0.25,good,"[""good"",""bad""]"\n0.333333343,bad,"[""good"",""bad""]"\n'
    )
    lines = formats.encode(out, ("probabilities", "predicted_label"), 2, formats.JSONLINES)
    assert lines.decode().splitlines() == [
        '{"probabilities":[0.75,0.25],"predicted_label":"good"}',
        '{"probabilities":[0.666666687,0.333333343],"predicted_label":"bad"}',
    ]
    document = json.loads(formats.encode(out, ("probability",), 2, formats.JSON))
    assert document == {"predictions": [{"probability": 0.25}, {"probability": 0.333333343}]}
    nan = {"probability": np.array([np.nan], dtype=np.float32)}
    assert formats.encode(nan, ("probability",), 1, formats.JSON) == (
        b'{"predictions":[{"probability":null}]}'
    )


def test_explanations_largest_first():
    contributions = np.array([[0.1, -0.5, 0.2, 0.05]], dtype=np.float32)
    explained = formats.explain(contributions, ["a", "b", "c"])
    assert explained == [
        {"bias": 0.0500000007, "contributions": {"b": -0.5, "c": 0.200000003, "a": 0.100000001}}
    ]
    assert list(explained[0]["contributions"]) == ["b", "c", "a"]
    out = {"probability": np.array([0.5], dtype=np.float32)}
    body = formats.encode(out, ("probability",), 1, formats.CSV, explained)
    assert body.startswith(b'0.5,"{""bias"":0.0500000007,')


def test_encode_text_only_field_and_labels_per_row():
    out = {
        "predicted_label": np.array(["good", "bad"], dtype=object),
        "labels": np.array(["good", "bad"], dtype=object),
    }
    assert formats.encode(out, ("predicted_label",), 2, formats.CSV) == b"good\nbad\n"
    lines = formats.encode(out, ("labels",), 2, formats.JSONLINES).decode().splitlines()
    assert lines == ['{"labels":["good","bad"]}'] * 2


def test_json_error_names_its_line_in_a_document_of_several_lines():
    body = b'{\n  "instances": [\n    [1, 2, 3, 4, 5],\n    [1, 2, 3 4, 5]\n  ]\n}'
    with pytest.raises(UserError, match=r"^line 4, column \d+: invalid JSON"):
        formats.decode(body, "application/json", NUMERIC)


def test_width_refusal_of_a_model_without_a_table_says_no_more():
    with pytest.raises(UserError, match=r"line 1: has 4 values but the model expects 5$"):
        formats.decode(b"1,2,3,4", "text/csv", NUMERIC)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["1,2", "", " ", "\r", "x"]), max_size=12).map("\n".join),
    st.sampled_from(["", "\n", "\r\n", "\n \t"]),
    st.integers(0, 14),
    st.sampled_from(["text/csv", "text/libsvm", "application/jsonlines"]),
)
def test_rows_over_counts_lines_up_to_the_last_that_is_not_blank(text, end, limit, content_type):
    body = (text + end).encode()
    stripped = body.rstrip(b"\r\n\t ")
    lines = len(stripped.split(b"\n")) if stripped else 0
    assert formats.rows_over(body, content_type, limit) == (lines if lines > limit else None)
