"""CSV: headerless numeric files (label first) and tables with a header (text columns are
categorical), for training in blocks of lines and for serving as request bodies."""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from . import rows as rowlib
from .cells import NA_VALUES, numbers
from .files import BLOCK_BYTES, blocks, first_line
from .schema import Schema

PANDAS = {"na_values": NA_VALUES, "keep_default_na": False}


def _shift(message: str, lines: int) -> str:
    """pandas' message about a block, with its line numbers made the file's."""
    return re.sub(r"line (\d+)", lambda m: f"line {int(m[1]) + lines}", message)


def _parse_error(path: Path, exc: Exception, lines: int) -> UserError:
    message = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
    return UserError(f"{path}: cannot parse CSV: {_shift(message, lines)}")


# Training: headerless numeric files.


def numeric_block(block: bytes) -> np.ndarray:
    """The fast path for a block of headerless numeric lines (pandas' C reader); raises
    ``ValueError`` where a cell is not a plain number."""
    return pd.read_csv(
        io.BytesIO(block), header=None, dtype=np.float32, skip_blank_lines=False, **PANDAS
    ).to_numpy()


def _exact_block(block: bytes, path: Path, line: int) -> np.ndarray:
    """A block cell by cell with the cell rule; names the first cell that is no number."""
    frame = pd.read_csv(
        io.BytesIO(block), header=None, dtype=str, skip_blank_lines=False, na_filter=False
    )
    X = np.empty(frame.shape, dtype=np.float32)
    for j in range(frame.shape[1]):
        X[:, j], bad = numbers(frame[j])
        if bad is not None:
            text = frame[j].iloc[bad]
            raise UserError(f"{path}: line {line + bad}, column {j + 1}: {text!r} is not a number")
    return X


def plain_chunks(path: Path, block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[int, np.ndarray]]:
    """A headerless numeric file as (first line, float32 matrix of every column) blocks."""
    for line, block in blocks(path, block_bytes):
        try:
            X = numeric_block(block)
        except pd.errors.EmptyDataError:
            continue
        except pd.errors.ParserError as exc:
            raise _parse_error(path, exc, line - 1) from None
        except ValueError:
            X = _exact_block(block, path, line)
        if len(X):
            yield line, X


# Training: tables with a header.


def header(path: Path) -> list[str]:
    """The column names of a CSV table (its first line)."""
    line = first_line(path)
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path}: line 1: the header is not UTF-8 text") from None
    if not text.strip():
        raise UserError(f"{path}: the file is empty")
    names = [c.strip() for c in next(csv.reader([text], skipinitialspace=True))]
    doubled = sorted({c for c in names if names.count(c) > 1})
    if doubled:
        raise UserError(f"{path}: the header names columns {doubled} more than once")
    return names


def table_chunks(
    path: Path,
    usecols: list[str] | None,
    numeric: tuple[str, ...] | list[str] = (),
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[tuple[int, pd.DataFrame]]:
    """A header table as (first row, frame) blocks: ``numeric`` columns as float32 (the
    fast path), the others as text; rows counted from 1 after the header."""
    head = first_line(path) + b"\n"
    names = header(path)
    keep = names if usecols is None else [c for c in names if c in usecols]
    row = 1
    for line, block in blocks(path, block_bytes, skip_lines=1):
        frame = _table_block(head + block, names, keep, numeric, path, line - 2)
        if len(frame):
            yield row, frame
            row += len(frame)


def _table_block(
    data: bytes, names: list[str], keep: list[str], numeric: list[str], path: Path, lines: int
) -> pd.DataFrame:
    common = {
        "header": 0,
        "names": names,
        "usecols": keep,
        "index_col": False,
        "skipinitialspace": True,
        "encoding": "utf-8-sig",
        **PANDAS,
    }
    fast = {c: (np.float32 if c in numeric else str) for c in keep}
    try:
        with warnings.catch_warnings():
            # A row longer than the header: pandas would drop its extra values.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                frame = pd.read_csv(io.BytesIO(data), dtype=fast, **common)
            except ValueError as exc:
                if isinstance(exc, pd.errors.ParserError | UnicodeDecodeError):
                    raise
                frame = pd.read_csv(io.BytesIO(data), dtype=str, **common)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=keep)
    except pd.errors.ParserWarning:
        raise UserError(
            f"{path}: a row after line {lines + 1} has more values than the header names"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise _parse_error(path, exc, lines) from None
    return frame[keep]


def first_rows(path: Path, block_bytes: int = BLOCK_BYTES) -> pd.DataFrame:
    """The first block of a header table, every column as text (to learn column kinds)."""
    for _, frame in table_chunks(path, None, (), block_bytes):
        return frame
    raise UserError(f"{path}: the table has a header but no rows")


# Serving: request bodies.


def _is_header(cells: list[str], schema: Schema) -> bool:
    known = schema.position.keys() | {schema.label_column, *(schema.columns or ())}
    return bool(cells) and all(c.strip() in known for c in cells)


def numeric_request(lines: list[str], schema: Schema) -> np.ndarray | None:
    """The fast path for a request of plain numbers (numpy's C reader); ``None`` when the
    exact, slower reading is needed (missing values, text, wrong widths: it names the
    problem)."""
    try:
        X = np.loadtxt(lines, delimiter=",", dtype=np.float32, ndmin=2, comments=None)
    except ValueError:
        return None
    return X if X.shape == (len(lines), schema.count) else None


def decode(body: bytes, options: dict[str, str], schema: Schema) -> np.ndarray:
    """CSV rows of features (no label); a first line of feature names is a header."""
    text = rowlib.text(body)
    if not text:
        raise UserError("the body holds no rows")
    lines = rowlib.lines(text)
    head = options.get("header")
    if (
        '"' not in text
        and not schema.codes
        and head != "present"
        and (head == "absent" or not _is_header(lines[0].split(","), schema))
    ):
        X = numeric_request(lines, schema)
        if X is not None:
            return X
    reader = csv.reader(lines, skipinitialspace=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise UserError(f"line {reader.line_num}: cannot read CSV: {exc}") from None
    if head == "present" or (head != "absent" and _is_header(rows[0], schema)):
        return _header_rows(rows, schema)
    picks = schema.table_picks
    if picks is not None:  # a row as the training table was, label included
        width = len(schema.columns or ())
        rows = [[row[j] for j in picks] if len(row) == width else row for row in rows]
    return rowlib.matrix(rows, schema, "line")


def _header_rows(rows: list[list[str]], schema: Schema) -> np.ndarray:
    names = [c.strip() for c in rows[0]]
    known = {schema.label_column, *(schema.columns or ())}
    unknown = [c for c in names if c not in schema.position and c not in known]
    missing = [n for n in schema.feature_names if n not in names]
    if unknown or missing:
        raise UserError(f"line 1: header has unknown columns {unknown}, lacks {missing}")
    order = [names.index(name) for name in schema.feature_names]
    data = []
    for i, row in enumerate(rows[1:]):
        if len(row) != len(names):
            raise UserError(
                f"line {i + 2}: has {len(row)} values but the header names {len(names)}"
            )
        data.append([row[j] for j in order])
    if not data:  # batch transform's first record may be the header alone: no rows
        return np.empty((0, schema.count), dtype=np.float32)
    return rowlib.matrix(data, schema, "line", start=2)
