"""The fast CSV request readers return exactly the careful reader's matrix, or leave the
body to it: random bodies of nasty cells, line ends and widths, read both ways."""

from __future__ import annotations

import re
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from xgb_container.errors import UserError
from xgb_container.formats import Schema, encode
from xgb_container.formats import csv as fcsv
from xgb_container.formats import rows as rowlib

# The careful reader casts 1e39 (a float64) to float32 infinity, which numpy warns of.
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

NASTY = [
    *(" 1", "1 ", "\t2", "1e5", "1E-5", "1e+05", "1e", "e5", "nan", "NaN", "-nan", "-NAN"),
    *("+nan", "inf", "-inf", "Infinity", "", "-0", "-00", "+0", "0", "1.", ".5", "-.5", "+3"),
    *("+-3", "--1", "1-2", "1+2", ".", "+", "-", "0x10", "1_000", "\u0661\u0662", "\uff11"),
    *("1e400", "-1e400", "1e-400", "3.4028236e38", "00012", "9223372036854775807"),
    *("9223372036854775808", "-9223372036854775809", "99999999999999999999", '"1"', "a"),
    *("f0", "f1", "1.5.2", "1e5.5", "0.1000000000000000055511151231257827", "1.e-3"),
]
CELLS = st.one_of(
    st.sampled_from(NASTY),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(width=32).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.17g}"),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
)
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # a plain number
FEW = [0, fcsv.FEW_CELLS, 10**9]  # numpy's readers always, as served, ``float`` always
PLAIN = st.one_of(st.integers(-(10**6), 10**6).map(str), st.floats(-1e6, 1e6).map(repr))


def careful(body: bytes, options: dict[str, str], schema: Schema) -> np.ndarray:
    """The reference: the careful reader alone, as ``fcsv.decode`` calls it."""
    text = rowlib.text(body)
    if not text:
        raise UserError("the body holds no rows")
    return fcsv.careful(rowlib.lines(text), options.get("header"), schema)


def outcome(read, body: bytes, options: dict[str, str], schema: Schema):  # noqa: ANN001, ANN201
    try:
        return read(body, options, schema)
    except UserError as exc:
        return f"UserError: {exc}"


def same(fast, slow) -> bool:  # noqa: ANN001
    """Equal outcomes: the same refusal, or matrices equal bit for bit (every NaN is the one
    missing value, whatever its sign bit)."""
    if isinstance(fast, str) or isinstance(slow, str):
        return fast == slow
    if fast.shape != slow.shape or fast.dtype != slow.dtype:
        return False
    nan = np.isnan(fast)
    return bool((nan == np.isnan(slow)).all()) and np.array_equal(
        fast[~nan].view(np.uint32), slow[~nan].view(np.uint32)
    )


@st.composite
def bodies(draw, cells=CELLS):  # noqa: ANN001, ANN201
    width = draw(st.integers(1, 4))
    names = draw(st.sampled_from([[f"f{i}" for i in range(width)], [str(i) for i in range(width)]]))
    schema = Schema("csv", names, ["q"] * width)
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        cells_ = draw(st.lists(cells, min_size=width, max_size=width))
        if draw(st.integers(0, 9)) == 0:  # a wrong width now and then
            cells_ = cells_[:-1] if draw(st.booleans()) else [*cells_, "1"]
        if draw(st.integers(0, 14)) == 0:
            cells_ = [draw(st.sampled_from(["", " ", "\t"]))]  # a blank line
        lines.append(",".join(cells_))
    if draw(st.integers(0, 5)) == 0:
        lines[0] = ",".join(names)  # a header
    end = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    text = end.join(lines) + draw(st.sampled_from(["", "\n", "\r\n", "\n\n", " \n", "\n \t"]))
    if draw(st.integers(0, 14)) == 0:
        text = draw(st.sampled_from(["\n", " ", "\ufeff"])) + text
    options = draw(st.sampled_from([{}, {}, {"header": "absent"}, {"header": "present"}]))
    return text.encode(), options, schema


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
@example(case=(b"1,-0\n2,3", {}, Schema("csv", ["a", "b"], ["q", "q"])))
@example(case=(b"9223372036854775807,1\n", {}, Schema("csv", ["a", "b"], ["q", "q"])))
@example(case=(b"1152921573326323713\n", {}, Schema("csv", ["a"], ["q"])))  # 2**60 + 2**36 + 1
@example(case=(b"1\n\n2", {}, Schema("csv", ["a"], ["q"])))
@example(case=(b"\n1", {}, Schema("csv", ["a"], ["q"])))
@example(case=(b"1,2\r\n3,4\r\n", {}, Schema("csv", ["a", "b"], ["q", "q"])))
@example(case=(b"0,1\n2,3", {}, Schema("csv", ["0", "1"], ["q", "q"])))
@pytest.mark.parametrize("few", FEW)
def test_fast_readers_match_the_careful_reader(few, case):  # noqa: ANN001
    body, options, schema = case
    with patch.object(fcsv, "FEW_CELLS", few):
        fast = outcome(fcsv.decode, body, options, schema)
    assert same(fast, outcome(careful, body, options, schema))


@settings(max_examples=300, deadline=None)
@given(bodies(PLAIN))
@pytest.mark.parametrize("few", FEW)
def test_plain_bodies_take_the_byte_reader(few, case):  # noqa: ANN001
    """Bodies of plain numbers (without a header) are read from their bytes, not left over."""
    body, options, schema = case
    if options.get("header") == "present":  # decode never asks the byte reader then
        return
    headerless = options.get("header") == "absent"
    text = body.decode().rstrip("\r\n\t ").replace("\r\n", "\n")
    lines = text.split("\n")
    plain = (
        all(len(line.split(",")) == schema.count for line in lines)
        and all(NUMBER.fullmatch(cell) for line in lines for cell in line.split(","))
        and "\r" not in text
        and not text.startswith(("\n", " ", "\ufeff"))
        and (headerless or not fcsv._is_header(lines[0].split(","), schema))
    )
    with patch.object(fcsv, "FEW_CELLS", few):
        X = fcsv._plain_request(body, schema, headerless)
    assert (X is not None) == plain
    if plain:
        assert same(X, careful(body, options, schema))


@pytest.mark.parametrize(
    "body",
    [b"1,-0,3\n", b"-0,2,3", b"1,2,-00", b"-1,-0,-3"],
)
@pytest.mark.parametrize("few", FEW)
def test_negative_zero_keeps_its_sign(body, few):
    """``float('-0')`` is negative zero; numpy's integer reader would make it zero."""
    schema = Schema("csv", ["a", "b", "c"], ["q"] * 3)
    body = b"\n".join([body.strip()] * 3)
    with patch.object(fcsv, "FEW_CELLS", few):
        X = fcsv.decode(body, {}, schema)
    assert np.array_equal(X.view(np.uint32), careful(body, {}, schema).view(np.uint32))
    assert np.signbit(X).sum() == body.count(b"-")


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.floats(width=32), min_size=1, max_size=50))
def test_csv_answer_is_each_value_to_nine_digits(values):
    """One format call for all rows writes what a per-row ``f"{v:.9g}"`` wrote."""
    out = np.array(values, dtype=np.float32)
    expected = "".join(f"{v:.9g}\n" for v in out.tolist()).encode()
    assert encode({"probability": out}, ("probability",), len(out), "text/csv") == expected


@pytest.mark.parametrize(
    ("rows", "reader"),
    [(1, "_few_numbers"), (100, "_whole_numbers"), (100, "numeric_request")],
)
def test_each_size_of_plain_body_takes_its_fast_reader(rows, reader):
    """A line of 23 numbers is read by ``float``, 100 lines of whole numbers by the integer
    reader, 100 lines with decimals by the float reader: the speed is not lost unseen."""
    rng = np.random.default_rng(rows)
    values = rng.integers(-5000, 5000, (rows, 23)).astype(float)
    if reader == "numeric_request":
        values /= 8
    body = "\n".join(",".join(f"{v:g}" for v in row) for row in values.tolist()).encode()
    schema = Schema("csv", [f"f{i}" for i in range(23)], ["q"] * 23)
    real, returned = getattr(fcsv, reader), []

    def record(*args):  # noqa: ANN002, ANN202
        returned.append(real(*args))
        return returned[-1]

    with patch.object(fcsv, reader, record):
        X = fcsv.decode(body + b"\n", {}, schema)
    assert len(returned) == 1 and returned[0] is not None
    assert np.array_equal(X, values.astype(np.float32))


@pytest.mark.parametrize(
    "cell",
    ["+", "-", "99999999999999999999", "9223372036854775808", "-9223372036854775809", "-0"]
    + ["+-3", "1-2", "00012", "+7", "9223372036854775807"],
)
@pytest.mark.parametrize(("row", "column"), [(3, 7), (3, 22), (3, 0), (4, 22)])
def test_whole_number_bodies_with_a_cell_the_integer_reader_misreads(cell, row, column):
    """numpy's integer text reader saturates past int64 and reads a bare sign as 0: such
    a body is read as the careful reader reads it (or refused the same way), wherever the
    cell stands (inside a line, at a line's end or start, last in the body)."""
    rng = np.random.default_rng(0)
    rows = [[str(v) for v in rng.integers(-500, 500, 23)] for _ in range(5)]
    rows[row][column] = cell
    body = "\n".join(",".join(r) for r in rows).encode()
    schema = Schema("csv", [f"f{i}" for i in range(23)], ["q"] * 23)
    fast, slow = outcome(fcsv.decode, body, {}, schema), outcome(careful, body, {}, schema)
    assert same(fast, slow), (fast, slow)
