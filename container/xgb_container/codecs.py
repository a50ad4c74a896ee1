"""Request bodies to feature matrices, and predictions to response bodies.

Every decoder returns a float32 matrix with one column per model feature, in the model's
order, with NaN for a missing value; categorical values become their code (the index in
the model's category list, as training encodes them; an unknown category is missing).
Bad input raises ``UserError`` naming the line and column.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np

from .errors import UserError
from .metadata import ModelMetadata

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
LIBSVM = "text/libsvm"
PARQUET = "application/x-parquet"
ALIASES = {
    "csv": CSV,
    "text/x-csv": CSV,
    "application/csv": CSV,
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
    "application/x-ndjson": JSONLINES,
    "libsvm": LIBSVM,
    "text/x-libsvm": LIBSVM,
    "application/parquet": PARQUET,
}
CONTENT_TYPES = (CSV, JSON, JSONLINES, LIBSVM, PARQUET)
ACCEPT_TYPES = (CSV, JSON, JSONLINES)
MISSING = frozenset({"", "nan", "NaN", "NA", "N/A", "null", "None"})


class UnsupportedType(UserError):
    """A Content-Type the server cannot read (HTTP 415)."""


def media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """``text/csv; header=present`` as ``("text/csv", {"header": "present"})``."""
    media, *params = (header or CSV).split(";")
    media = media.strip().lower()
    options = {}
    for param in params:
        key, _, value = param.partition("=")
        options[key.strip().lower()] = value.strip().strip('"').lower()
    return ALIASES.get(media, media), options


class Features:
    """The model's feature schema as decoders use it."""

    def __init__(self, meta: ModelMetadata) -> None:
        self.names = list(meta.feature_names)
        self.count = len(self.names)
        self.position = {name: i for i, name in enumerate(self.names)}
        self.label = meta.label_column
        self.codes: dict[int, dict[str, float]] = {
            self.position[name]: {value: float(code) for code, value in enumerate(values)}
            for name, values in meta.categories.items()
            if name in self.position and meta.feature_types[self.position[name]] == "c"
        }

    def cell(self, value: object, column: int, where: str) -> float:
        """One value as the model reads it: a number, or a category code."""
        codes = self.codes.get(column)
        if value is None or (isinstance(value, str) and value.strip() in MISSING):
            return math.nan
        if codes is not None:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            return codes.get(str(value).strip(), math.nan)
        if isinstance(value, int | float) and not isinstance(value, bool | complex):
            return float(value)
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        shown = value if isinstance(value, str | int | float) else type(value).__name__
        raise UserError(
            f"{where}, column {column + 1} ({self.names[column]}): {shown!r} is not a number"
        )

    def matrix(self, rows: list[list], where: str, start: int = 1) -> np.ndarray:
        """Positional rows of Python values (text, numbers, None) as the model's matrix.

        Row ``i`` is called ``{where} {i + start}`` in messages.
        """
        X = np.empty((len(rows), self.count), dtype=np.float32)
        for i, row in enumerate(rows):
            self.check_width(len(row), f"{where} {i + start}")
            X[i] = [self.cell(v, j, f"{where} {i + start}") for j, v in enumerate(row)]
        return X

    def positional(self, row: object, where: str) -> list:
        """A row given as a list of values, or as ``{feature name: value}`` (a name left out
        is a missing value; the training label column is ignored)."""
        if isinstance(row, list):
            return row
        if not isinstance(row, dict):
            raise UserError(f"{where}: expected a list of values or an object keyed by name")
        values: list = [None] * self.count
        for name, value in row.items():
            j = self.position.get(name)
            if j is None:
                if name == self.label:
                    continue
                raise UserError(f"{where}: unknown feature name {name!r}")
            values[j] = value
        return values

    def check_width(self, width: int, where: str) -> None:
        if width != self.count:
            raise UserError(f"{where}: has {width} values but the model expects {self.count}")


def _text(body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise UserError(f"line {line}: the body is not UTF-8 text (byte {exc.start})") from None
    return text.rstrip("\r\n\t ")


def _lines(text: str) -> list[str]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            raise UserError(f"line {i + 1} is empty")
    return lines


def _is_header(cells: list[str], features: Features) -> bool:
    known = features.position.keys() | {features.label}
    return bool(cells) and all(c.strip() in known for c in cells)


def _numeric_csv(lines: list[str], features: Features) -> np.ndarray | None:
    """Fast path for plain numbers (numpy's C reader); ``None`` when the exact, slower
    reading is needed (missing values, text, wrong widths: it names the problem)."""
    try:
        X = np.loadtxt(lines, delimiter=",", dtype=np.float32, ndmin=2, comments=None)
    except ValueError:
        return None
    return X if X.shape == (len(lines), features.count) else None


def decode_csv(body: bytes, options: dict[str, str], features: Features) -> np.ndarray:
    """CSV rows of features (no label); a first line of feature names is a header."""
    text = _text(body)
    if not text:
        raise UserError("the body holds no rows")
    lines = _lines(text)
    header = options.get("header")
    if (
        '"' not in text
        and not features.codes
        and header != "present"
        and (header == "absent" or not _is_header(lines[0].split(","), features))
    ):
        X = _numeric_csv(lines, features)
        if X is not None:
            return X
    rows = list(csv.reader(lines, skipinitialspace=True))
    if options.get("header") == "present" or (
        options.get("header") != "absent" and _is_header(rows[0], features)
    ):
        return _header_csv(rows, features)
    return features.matrix(rows, "line")


def _header_csv(rows: list[list[str]], features: Features) -> np.ndarray:
    header = [c.strip() for c in rows[0]]
    unknown = [c for c in header if c not in features.position and c != features.label]
    missing = [n for n in features.names if n not in header]
    if unknown or missing:
        raise UserError(f"line 1: header has unknown columns {unknown}, lacks {missing}")
    order = [header.index(name) for name in features.names]
    data = []
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise UserError(
                f"line {i + 2}: has {len(row)} values but the header names {len(header)}"
            )
        data.append([row[j] for j in order])
    if not data:
        raise UserError("the body holds a header but no rows")
    return features.matrix(data, "line", start=2)


def _json_rows(rows: object, features: Features, where: str) -> np.ndarray:
    if not isinstance(rows, list) or not rows:
        raise UserError('expected {"instances": [row, ...]} with at least one row')
    if not features.codes and all(isinstance(r, list) for r in rows):
        try:
            X = np.array(rows, dtype=np.float32)
        except (ValueError, TypeError):
            X = None
        if X is not None and X.ndim == 2 and X.shape[1] == features.count:
            return X
    positional = [features.positional(r, f"{where} {i + 1}") for i, r in enumerate(rows)]
    return features.matrix(positional, where)


def decode_json(body: bytes, features: Features) -> np.ndarray:
    """``{"instances": [[...], ...]}``, ``{"instances": [{name: value}, ...]}`` or a bare list.

    A body of several JSON documents, one per line (batch transform splits files by line),
    is read as JSON lines.
    """
    try:
        doc = json.loads(_text(body))
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return decode_jsonlines(body, features)
        raise UserError(f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}") from None
    if isinstance(doc, dict):
        if "instances" not in doc:
            raise UserError('a JSON object body needs the key "instances"')
        doc = doc["instances"]
    if isinstance(doc, list) and doc and not any(isinstance(v, list | dict) for v in doc):
        doc = [doc]  # a single row given as a flat list of values
    return _json_rows(doc, features, "instance")


def decode_jsonlines(body: bytes, features: Features) -> np.ndarray:
    """One row per line: a list of values, or an object keyed by feature name."""
    rows = []
    for i, line in enumerate(_lines(_text(body))):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise UserError(f"line {i + 1}, column {exc.colno}: invalid JSON: {exc.msg}") from None
    return _json_rows(rows, features, "line")


def decode_libsvm(body: bytes, features: Features) -> np.ndarray:
    """``[label] index:value ...`` per line; index ``i`` is feature ``i``, as training reads it."""
    lines = _lines(_text(body))
    X = np.full((len(lines), features.count), np.nan, dtype=np.float32)
    for i, line in enumerate(lines):
        tokens = line.split("#", 1)[0].split()
        if tokens and ":" not in tokens[0]:
            tokens = tokens[1:]  # the label, which serving ignores
        for n, token in enumerate(tokens):
            index, sep, value = token.partition(":")
            if index == "qid":
                continue
            where = f"line {i + 1}, entry {n + 1}"
            try:
                j, v = int(index), float(value)
            except ValueError:
                raise UserError(f"{where}: {token!r} is not index:value") from None
            if not sep or not 0 <= j < features.count:
                raise UserError(
                    f"{where}: index {index} is outside 0..{features.count - 1} "
                    "(indices are used as written, index i is feature i)"
                )
            X[i, j] = v
    return X


def decode_parquet(body: bytes, features: Features) -> np.ndarray:
    """A Parquet table whose columns are named like the model's features."""
    import pandas as pd

    try:
        frame = pd.read_parquet(io.BytesIO(body))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for bad bytes
        raise UserError(f"cannot read the Parquet body: {exc}".splitlines()[0]) from None
    frame = frame.astype(object).where(frame.notna(), None)
    records = frame.to_dict("records")
    return features.matrix([features.positional(r, "row") for r in records], "row")


def decode(body: bytes, content_type: str | None, features: Features) -> np.ndarray:
    """The feature matrix of a request body of ``content_type``."""
    media, options = media_type(content_type)
    if media == CSV:
        X = decode_csv(body, options, features)
    elif media == JSON:
        X = decode_json(body, features)
    elif media == JSONLINES:
        X = decode_jsonlines(body, features)
    elif media == LIBSVM:
        X = decode_libsvm(body, features)
    elif media == PARQUET:
        X = decode_parquet(body, features)
    else:
        supported = ", ".join(CONTENT_TYPES)
        raise UnsupportedType(f"Content-Type {content_type!r} is not supported; use {supported}")
    if not len(X):
        raise UserError("the body holds no rows")
    if np.isinf(X).any():
        row, column = np.argwhere(np.isinf(X))[0]
        raise UserError(
            f"row {row + 1}, column {column + 1} ({features.names[column]}): the value is "
            "infinite or too large for float32 (XGBoost refuses it, as in training)"
        )
    return X


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
    first = out[fields[0]]
    simple = len(fields) == 1 and first.ndim == 1 and first.dtype != object
    if accept == CSV and simple and explanations is None:
        return ("\n".join([f"{v:.9g}" for v in first.tolist()]) + "\n").encode()
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
