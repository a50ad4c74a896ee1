"""JSON lines: request bodies (one row per line, a list of values or an object keyed by
feature name) and training files (one object per line, keyed by column name)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from . import rows as rowlib
from .files import blocks
from .schema import Schema


def parse_line(line: str, number: int) -> object:
    """One line's JSON value; ``UserError`` naming the line."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"line {number}, column {exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise UserError(f"line {number}: the JSON value is nested too deeply") from None
    except ValueError as exc:
        raise UserError(f"line {number}: invalid JSON: {exc}") from None


def decode(body: bytes, schema: Schema) -> np.ndarray:
    """One row per line: a list of values, or an object keyed by feature name."""
    rows = [parse_line(line, i + 1) for i, line in enumerate(rowlib.lines(rowlib.text(body)))]
    return rowlib.rows_matrix(rows, schema, "line")


# Training: files of one JSON object per line, keyed by column name.


def _records(path: Path, block: bytes, line: int) -> list[dict]:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = line + block[: exc.start].count(b"\n")
        raise UserError(f"{path}: line {at}: not UTF-8 text") from None
    records = []
    for i, raw in enumerate(text.splitlines()):
        if not raw.strip():
            continue
        value = parse_line(raw, line + i)
        if not isinstance(value, dict):
            raise UserError(
                f"{path}: line {line + i}: training rows are JSON objects keyed by column name"
            )
        records.append(value)
    return records


def _wrap(exc: UserError, path: Path) -> UserError:
    return exc if str(exc).startswith(str(path)) else UserError(f"{path}: {exc}")


def header(path: Path) -> list[str]:
    """The column names of a JSON lines table: the keys of its first block, in order."""
    for line, block in blocks(path):
        try:
            records = _records(path, block, line)
        except UserError as exc:
            raise _wrap(exc, path) from None
        if records:
            return list(dict.fromkeys(key for record in records for key in record))
    return []


def table_chunks(
    path: Path, usecols: list[str] | None, numeric: tuple[str, ...] | list[str] = ()
) -> Iterator[tuple[int, pd.DataFrame]]:
    """A JSON lines table as (first row, frame) blocks; a key the first block lacks is
    refused, a key left out of a row is a missing value."""
    names = header(path)
    keep = names if usecols is None else [c for c in names if c in usecols]
    row = 1
    for line, block in blocks(path):
        try:
            records = _records(path, block, line)
        except UserError as exc:
            raise _wrap(exc, path) from None
        unknown = sorted({k for r in records for k in r} - set(names))
        if unknown:
            raise UserError(
                f"{path}: near line {line}: columns {unknown} are not in the first rows"
            )
        if records:
            frame = pd.DataFrame.from_records(records, columns=names)[keep]
            yield row, frame
            row += len(frame)


def first_rows(path: Path) -> pd.DataFrame | None:
    """The first block of a JSON lines table (to learn column kinds); ``None`` without rows."""
    for _, frame in table_chunks(path, None, ()):
        return frame
    return None
