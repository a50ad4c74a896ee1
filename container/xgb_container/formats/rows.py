"""Rows of a request (lists of Python values, or objects keyed by name) as the model's
matrix, cell by cell with the one cell rule."""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from . import cells
from .schema import Schema


def check_width(width: int, schema: Schema, where: str) -> None:
    if width != schema.count:
        table = len(schema.columns or ()) if schema.table_picks else 0
        also = f" (or {table}, the training table's columns)" if table else ""
        raise UserError(f"{where}: has {width} values but the model expects {schema.count}{also}")


def row_values(row: list, schema: Schema, where: str) -> list[float]:
    """One positional row as floats in the schema's order."""
    out = []
    for j, value in enumerate(row):
        try:
            out.append(cells.cell(value, schema.codes.get(j)))
        except ValueError:
            shown = value if isinstance(value, str | int | float) else type(value).__name__
            raise UserError(
                f"{where}, column {j + 1} ({schema.feature_names[j]}): {shown!r} is not a number"
            ) from None
    return out


def matrix(rows: list[list], schema: Schema, where: str, start: int = 1) -> np.ndarray:
    """Positional rows of Python values (text, numbers, None) as the model's matrix.

    Row ``i`` is called ``{where} {i + start}`` in messages.
    """
    X = np.empty((len(rows), schema.count), dtype=np.float32)
    for i, row in enumerate(rows):
        check_width(len(row), schema, f"{where} {i + start}")
        X[i] = row_values(row, schema, f"{where} {i + start}")
    return X


def positional(row: object, schema: Schema, where: str) -> list:
    """A row given as a list of values, or as ``{feature name: value}`` (a name left out
    is a missing value; the training label column is ignored)."""
    if isinstance(row, list):
        return row
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a list of values or an object keyed by name")
    values: list = [None] * schema.count
    for name, value in row.items():
        j = schema.position.get(name)
        if j is None:
            if name == schema.label_column or name in (schema.columns or ()):
                continue
            raise UserError(f"{where}: unknown feature name {name!r}")
        values[j] = value
    return values


def text(body: bytes) -> str:
    """A body as text, without trailing line ends and blanks."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise UserError(f"line {line}: the body is not UTF-8 text (byte {exc.start})") from None
    return decoded.rstrip("\r\n\t ")


def lines(decoded: str) -> list[str]:
    """The lines of a body; an empty line in between is refused."""
    found = decoded.splitlines()
    for i, line in enumerate(found):
        if not line.strip():
            raise UserError(f"line {i + 1} is empty")
    return found


def rows_matrix(rows: object, schema: Schema, where: str) -> np.ndarray:
    """Rows as lists of values or objects keyed by name, as the model's matrix."""
    if not isinstance(rows, list) or not rows:
        raise UserError('expected {"instances": [row, ...]} with at least one row')
    if not schema.codes and all(isinstance(r, list) for r in rows):
        try:
            X = np.array(rows, dtype=np.float32)
        except (ValueError, TypeError, OverflowError):
            X = None
        if X is not None and X.ndim == 2 and X.shape[1] == schema.count:
            return X
    ordered = [positional(r, schema, f"{where} {i + 1}") for i, r in enumerate(rows)]
    return matrix(ordered, schema, where)
