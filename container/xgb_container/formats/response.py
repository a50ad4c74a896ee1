"""Response bodies: predictions (and explanations) as CSV, JSON or JSON lines."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from .content import CSV, JSONLINES


def _round(value: float) -> float | None:
    """A float32 result to nine significant digits (reads back as the same float32); NaN: null."""
    return None if value != value else float(f"{value:.9g}")


def _values(name: str, values: np.ndarray, n: int) -> list:
    """One output field as a Python value per row."""
    if name == "labels":
        return [values.tolist()] * n
    if values.dtype == object:
        return values.tolist()
    if values.ndim == 2:
        return [[_round(v) for v in row] for row in values.tolist()]
    return [_round(v) for v in values.tolist()]


def _csv_cell(value: object) -> object:
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float):
        return f"{value:.9g}"
    return "" if value is None else value


def encode(
    out: dict[str, np.ndarray],
    fields: tuple[str, ...],
    n: int,
    accept: str,
    explanations: list[dict] | None = None,
) -> bytes:
    """Selected ``fields`` of ``n`` rows in the ``accept`` format: one line per row for CSV
    and JSON lines, ``{"predictions": [...]}`` for JSON."""
    if n == 0:
        return b'{"predictions":[]}' if accept not in (CSV, JSONLINES) else b""
    first = out[fields[0]]
    simple = len(fields) == 1 and first.ndim == 1 and first.dtype != object
    if accept == CSV and simple and explanations is None:  # one format call for all rows
        return ("%.9g\n" * len(first) % tuple(first.tolist())).encode()
    columns = [_values(name, out[name], n) for name in fields]
    names = list(fields)
    if explanations is not None:
        columns.append(explanations)
        names.append("explanation")
    if accept == CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([[_csv_cell(v) for v in row] for row in zip(*columns, strict=True)])
        return buffer.getvalue().encode()
    records = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    if accept == JSONLINES:
        return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
    return json.dumps({"predictions": records}, separators=(",", ":")).encode()


def explain(contributions: np.ndarray, names: list[str]) -> list[dict]:
    """Per row: the bias and each feature's contribution, largest (in size) first."""
    result = []
    for row in contributions.tolist():
        order = sorted(range(len(names)), key=lambda j: -abs(row[j]))
        result.append(
            {
                "bias": _round(row[-1]),
                "contributions": {names[j]: _round(row[j]) for j in order},
            }
        )
    return result
