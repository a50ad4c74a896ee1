"""The one rule for a cell: what is missing, what is a number, what is a category code.

Training applies it to whole columns (``numbers``, ``codes``), serving to single values
(``cell``); both follow the same steps: strip the text, a spelling in ``MISSING`` is
missing, a numeric feature's text must be a number, a categorical feature's text is its
index in the schema's category list (unknown: missing).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# pandas.read_csv's default NA spellings (tests/test_formats_cells.py checks the list
# against pandas itself); every reader passes this list to pandas explicitly.
MISSING = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"}
    | {"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)
NA_VALUES = sorted(MISSING)


def is_missing(value: object) -> bool:
    """``None``, NaN, or text that strips to a missing spelling."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    return isinstance(value, str) and value.strip() in MISSING


def number(text: str) -> float:
    """A number written as text (``ValueError`` if it is not one)."""
    if "_" in text:  # Python reads 1_000, pandas does not
        raise ValueError(text)
    return float(text)


def cell(value: object, codes: dict[str, float] | None) -> float:
    """One value of a request as the model reads it (``ValueError``: not a number).

    ``codes`` maps a categorical feature's names to their codes (``None``: numeric).
    """
    if is_missing(value):
        return math.nan
    if codes is not None:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return codes.get(str(value).strip(), math.nan)
    if isinstance(value, int | float):  # bool is an int
        try:
            return float(value)
        except OverflowError:
            return math.inf  # refused with the other infinite values
    if isinstance(value, str):
        return number(value.strip())
    raise ValueError(value)


def texts(values: pd.Series) -> pd.Series:
    """Stripped text of a column, missing spellings as ``<NA>``."""
    text = values.astype("string").str.strip()
    return text.mask(text.isin(MISSING))


def numbers(values: pd.Series) -> tuple[np.ndarray, int | None]:
    """A column as float32 and the position of its first cell that is not a number."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float32, na_value=np.nan), None
    text = texts(values)
    numeric = pd.to_numeric(text.mask(text.str.contains("_", regex=False)), errors="coerce")
    bad = (numeric.isna() & text.notna()).to_numpy()
    first = int(np.flatnonzero(bad)[0]) if bad.any() else None
    return numeric.to_numpy(dtype=np.float32, na_value=np.nan), first


def codes(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Codes of ``values`` in ``categories`` as float32; unknown or missing: NaN."""
    if pd.api.types.is_float_dtype(values):  # 2.0 is the category "2", as in ``cell``
        values = values.map(lambda v: int(v) if v == v and float(v).is_integer() else v)
    index = pd.Index(categories).get_indexer(texts(values))
    out = index.astype(np.float32)
    out[index < 0] = np.nan
    return out


def categories(values: pd.Series) -> set[str]:
    """The category names in a column (missing cells left out)."""
    return set(texts(values).dropna())
