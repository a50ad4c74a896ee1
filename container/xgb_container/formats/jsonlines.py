"""JSON lines request bodies: one row per line, a list of values or an object keyed by
feature name."""

from __future__ import annotations

import json

import numpy as np

from ..errors import UserError
from . import rows as rowlib
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
