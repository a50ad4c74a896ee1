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
from .files import ahead, blocks, first_line
from .schema import Schema

PANDAS = {"na_values": NA_VALUES, "keep_default_na": False}


def _shift(message: str, lines: int) -> str:
    """pandas' message about a block, with its line numbers made the file's."""
    return re.sub(r"line (\d+)", lambda m: f"line {int(m[1]) + lines}", message)


def _parse_error(path: Path, exc: Exception, lines: int) -> UserError:
    message = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
    return UserError(f"{path}: cannot parse CSV: {_shift(message, lines)}")


def _widths(block: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Values on each line of an unquoted block, and which lines are blank."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    if not len(ends) or ends[-1] != len(data) - 1:
        ends = np.append(ends, len(data))
    starts = np.r_[0, ends[:-1] + 1]
    commas = np.searchsorted(np.flatnonzero(data == ord(",")), ends)
    values = np.diff(commas, prepend=0) + 1
    blank = (ends == starts) | (
        (ends == starts + 1) & (data[np.minimum(starts, len(data) - 1)] == ord("\r"))
    )
    return values, blank


def odd_line(block: bytes, width: int) -> tuple[int, int] | None:
    """(index, values) of the block's first line without ``width`` values: pandas would
    fill a short one with missing values and cut a long one. Blank lines are left to the
    readers, blocks with quoted fields to the parser."""
    if b'"' in block:
        return None
    values, blank = _widths(block)
    odd = np.flatnonzero((values != width) & ~blank)
    return (int(odd[0]), int(values[odd[0]])) if len(odd) else None


def common_width(block: bytes) -> int:
    """The most common number of values on the block's lines (blank lines aside)."""
    values, blank = _widths(block)
    return int(np.bincount(values[~blank]).argmax()) if (~blank).any() else 0


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


def _plain_block(path: Path, line: int, block: bytes) -> np.ndarray | None:
    """One block of a headerless numeric file as a float32 matrix (``None``: no rows)."""
    try:
        X = numeric_block(block)
    except pd.errors.EmptyDataError:
        return None
    except pd.errors.ParserError as exc:
        width = common_width(block)  # pandas names the line after a short first one
        odd = odd_line(block, width)
        if odd is None:
            raise _parse_error(path, exc, line - 1) from None
        raise UserError(
            f"{path}: line {line + odd[0]} has {odd[1]} values but most lines have {width}"
        ) from None
    except ValueError:
        X = _exact_block(block, path, line)
    # pandas refuses a line longer than the first: with every comma accounted for, none is short.
    full = block.count(b",") == X.shape[0] * (X.shape[1] - 1)
    odd = None if full else odd_line(block, X.shape[1])
    if odd is not None:
        raise UserError(
            f"{path}: line {line + odd[0]} has {odd[1]} values but the lines before "
            f"have {X.shape[1]}"
        )
    return X if len(X) else None


def plain_chunks(path: Path, workers: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """A headerless numeric file as (first line, float32 matrix of every column) blocks,
    parsed ``workers`` blocks at a time in threads (pandas lets go of the GIL while it
    parses; each block in flight costs memory)."""
    parsed = ahead(blocks(path), lambda item: (item[0], _plain_block(path, *item)), workers)
    for line, X in parsed:
        if X is not None:
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
    path: Path, usecols: list[str] | None, numeric: tuple[str, ...] | list[str] | None = ()
) -> Iterator[tuple[int, pd.DataFrame]]:
    """A header table as (first row, frame) blocks: ``numeric`` columns as float32 (the
    fast path), the others as text (``numeric=None``: as pandas infers them); rows counted
    from 1 after the header."""
    head = first_line(path) + b"\n"
    names = header(path)
    keep = names if usecols is None else [c for c in names if c in usecols]
    row = 1
    for line, block in blocks(path, skip_lines=1):
        odd = odd_line(block, len(names))
        if odd is not None:
            raise UserError(
                f"{path}: line {line + odd[0]} has {odd[1]} values but the header names "
                f"{len(names)}"
            )
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
    fast = None if numeric is None else {c: (np.float32 if c in numeric else str) for c in keep}
    try:
        try:
            frame = pd.read_csv(io.BytesIO(data), dtype=fast, **common)
        except ValueError as exc:
            if isinstance(exc, pd.errors.ParserError | UnicodeDecodeError):
                raise
            frame = pd.read_csv(io.BytesIO(data), dtype=str, **common)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=keep)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise _parse_error(path, exc, lines) from None
    return frame[keep]


def first_rows(path: Path) -> pd.DataFrame | None:
    """The first block of a header table, typed as pandas infers (to learn column kinds); ``None`` without rows."""
    for _, frame in table_chunks(path, None, None):
        for name in frame.select_dtypes("bool").columns:  # True/False in text: categories
            frame[name] = frame[name].astype(object)
        return frame
    return None


# Serving: request bodies.

UNSIGNED_BYTES = b"0123456789+.eE"  # the bytes a plain number is written with, but "-"
FLOAT32_MAX = float(np.finfo(np.float32).max)
FEW_CELLS = 64  # up to this many cells, ``float`` of each; beyond, numpy's C readers
INT64_SAFE = 10**18  # numpy's integer text reader saturates past int64: larger is suspect


def _is_header(cells: list[str], schema: Schema) -> bool:
    if not cells:
        return False
    first = cells[0].strip()  # a line of values is told by its first cell, without a set
    if first not in schema.position and first not in (schema.label_column, *(schema.columns or ())):
        return False
    known = schema.position.keys() | {schema.label_column, *(schema.columns or ())}
    return all(c.strip() in known for c in cells)


def numeric_request(lines: list[str], schema: Schema) -> np.ndarray | None:
    """Lines of plain numbers with numpy's C reader (each cell read as ``float`` reads it,
    then float32); ``None`` when the careful reader is needed (missing values, text,
    wrong widths: it names the problem)."""
    try:
        X = np.loadtxt(lines, delimiter=",", dtype=np.float32, ndmin=2, comments=None)
    except ValueError:
        return None
    return X if X.shape == (len(lines), schema.count) else None


def _whole_numbers(data: bytes, minus: int, rows: int, width: int) -> np.ndarray | None:
    """Bytes of whole numbers only (no point, no exponent; ``minus`` signs in all): numpy's
    integer text reader on the bytes, twice as fast as ``loadtxt``. ``None`` where a cell
    may be no int64 (its magnitude ``INT64_SAFE`` or more), is a bare sign (a stray sign
    elsewhere stops the reading short) or is "-0" (``float`` reads negative zero, the
    integer reader zero). A bare "-" reads as 0 and fails the count of minus signs."""
    if b"+" in data and (b"+," in data or b"+\n" in data or data.endswith(b"+")):
        return None  # a bare "+", which the integer reader reads as 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy's word for stopping short
        try:
            X = np.fromstring(data.replace(b"\n", b","), dtype=np.int64, sep=",")
        except ValueError:
            return None
    if X.size != rows * width or minus != np.count_nonzero(X < 0):
        return None
    if np.count_nonzero((X >= INT64_SAFE) | (X <= -INT64_SAFE)):
        return None
    return X.reshape(rows, width).astype(np.float64).astype(np.float32)  # float(), float32


def _few_numbers(data: bytes, rows: int, width: int) -> np.ndarray | None:
    """A few plain cells as the cell rule reads them: ``float`` of each (numpy's reader
    costs more than it saves on a line or two)."""
    try:
        values = [float(cell) for cell in data.replace(b"\n", b",").split(b",")]
    except ValueError:
        return None
    if max(map(abs, values)) > FLOAT32_MAX:  # infinite as float32: the careful reader says so
        return None
    return np.array(values, dtype=np.float32).reshape(rows, width)


def _plain_request(body: bytes, schema: Schema, headerless: bool) -> np.ndarray | None:
    """The matrix of a body of plain numbers only, checked on its bytes before any text
    is made: ``schema.count`` cells a line, written with digits, signs, points and
    exponents, commas between them, a newline (or CRLF) after each line but the last,
    line ends and blanks at the end ignored. ``None`` for anything else (a blank line or
    cell, a space, a quote, another byte, a header, a cell that is no number): the other
    readers take it."""
    data = body.rstrip(b"\r\n\t ")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    signs = data.translate(None, UNSIGNED_BYTES)  # of plain lines: separators and minus signs
    separators = signs.replace(b"-", b"") if b"-" in signs else signs
    width = schema.count
    line = b"," * (width - 1)
    rows = (len(separators) + 1) // width
    if not data or separators != (line + b"\n") * (rows - 1) + line:
        return None
    if not headerless and _is_header(data.split(b"\n", 1)[0].decode().split(","), schema):
        return None
    if rows * width <= FEW_CELLS:
        return _few_numbers(data, rows, width)
    if b"." not in data and b"e" not in data and b"E" not in data:
        X = _whole_numbers(data, len(signs) - len(separators), rows, width)
        if X is not None:
            return X
    return numeric_request(data.decode("ascii").split("\n"), schema)


def decode(body: bytes, options: dict[str, str], schema: Schema) -> np.ndarray:
    """CSV rows of features (no label); a first line of feature names is a header.

    One reading, three speeds: a body of plain numbers is read from its bytes
    (``_plain_request``), then other bodies without quotes by numpy's C reader
    (``numeric_request``), and whatever those leave by the careful reader (``careful``),
    which names any problem. The fast readers return exactly the careful reader's matrix
    or nothing (tests/test_formats_csv_fast.py)."""
    head = options.get("header")
    quick = not schema.codes and head != "present"
    if quick:
        X = _plain_request(body, schema, head == "absent")
        if X is not None:
            return X
    text = rowlib.text(body)
    if not text:
        raise UserError("the body holds no rows")
    lines = rowlib.lines(text)
    if (
        quick
        and '"' not in text
        and (head == "absent" or not _is_header(lines[0].split(","), schema))
    ):
        X = numeric_request(lines, schema)
        if X is not None:
            return X
    return careful(lines, head, schema)


def careful(lines: list[str], head: str | None, schema: Schema) -> np.ndarray:
    """The careful reader: the lines of a body (``rowlib.lines``) cell by cell with the
    cell rule, a header (``head``: the content type's ``header`` option) by its names."""
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
