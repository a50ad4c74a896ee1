"""The one cell rule: missing spellings (checked against pandas), and the same answer for a
cell whether training reads it in a column or serving reads it alone."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xgb_container.formats import cells

NOT_MISSING = ["0", "none", "NONE", "-", "?", "na ", "missing", "N.A."]


def test_missing_spellings_are_pandas_defaults():
    """pandas has no public name for its list; its parser module holds it."""
    from pandas._libs.parsers import STR_NA_VALUES

    assert frozenset(STR_NA_VALUES) == cells.MISSING


@pytest.mark.parametrize("spelling", sorted(cells.MISSING))
def test_each_spelling_is_missing_for_pandas_training_and_serving(spelling):
    text = f"a,b\n1,{spelling}\n"
    assert pd.read_csv(io.StringIO(text))["b"].isna().all()  # pandas' own default
    assert math.isnan(cells.cell(spelling, None))
    assert math.isnan(cells.cell(f"  {spelling} ", None))
    values, bad = cells.numbers(pd.Series([spelling, f" {spelling}"], dtype=object))
    assert bad is None and np.isnan(values).all()
    assert np.isnan(cells.codes(pd.Series([spelling]), ["a", spelling])).all()


@pytest.mark.parametrize("text", NOT_MISSING)
def test_other_text_is_not_missing(text):
    assert not cells.is_missing(text)
    assert cells.categories(pd.Series([text, "NA"])) == {text.strip()}


def _scalar(text: str) -> float | str:
    try:
        return cells.cell(text, None)
    except ValueError:
        return "refused"


def _column(text: str) -> float | str:
    values, bad = cells.numbers(pd.Series([text], dtype=object))
    return "refused" if bad is not None else float(values[0])


cell_text = st.one_of(
    st.sampled_from(
        [*sorted(cells.MISSING), *NOT_MISSING, "1_0", "inf", "-Infinity", "1e39", "-0"]
        + ["\u0661\u0662", "\uff11", ".5", "5.", "+1", "0x10", "1d3"]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8),
    st.text(max_size=6),
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(text=cell_text, pad=st.sampled_from(["", " ", "\t"]))
def test_a_number_cell_reads_the_same_in_a_column_and_alone(text, pad):
    text = pad + text + pad
    alone, column = _scalar(text), _column(text)
    if isinstance(alone, str) or isinstance(column, str):
        assert alone == column, (text, alone, column)
    else:
        with np.errstate(over="ignore"):
            same = np.float32(alone) == np.float32(column)
        assert same or (math.isnan(alone) and math.isnan(column)), (text, alone, column)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    value=st.one_of(
        st.text(max_size=6), st.integers(-5, 5), st.floats(-5, 5), st.none(), st.booleans()
    ),
    categories=st.lists(st.text(max_size=4).map(str.strip), max_size=5, unique=True),
)
def test_a_category_cell_reads_the_same_in_a_column_and_alone(value, categories):
    codes = {name: float(i) for i, name in enumerate(categories)}
    alone = cells.cell(value, codes)
    column = float(cells.codes(pd.Series([value], dtype=object), categories)[0])
    assert alone == column or (math.isnan(alone) and math.isnan(column)), (value, alone, column)


def test_whole_floats_name_integer_categories_in_a_column_too():
    """Parquet or JSON lines may carry category ``2`` as the float 2.0, as serving's cell does."""
    column = pd.Series([2.0, np.nan, 1.5, 7.0])
    np.testing.assert_array_equal(cells.codes(column, ["2", "1.5"]), [0, np.nan, 1, np.nan])
    assert cells.cell(2.0, {"2": 0.0, "1.5": 1.0}) == 0.0
