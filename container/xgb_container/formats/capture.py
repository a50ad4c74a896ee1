"""SageMaker's data-capture files, ground-truth files and prediction bodies.

A capture line is one invocation::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "...", "encoding": "CSV"},
                     "endpointOutput": {...}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2026-11-30T09:00:00.000Z",
                       "inferenceId": "..."},
     "eventVersion": "0"}

``data`` is the payload itself when ``encoding`` is ``CSV`` or ``JSON``, else base64.
Payloads are decoded by the same decoders as request bodies (``observe``), with what a
monitor needs on top: unknown categories kept apart from missing values (code ``-1``),
values of the wrong type counted, and unknown or absent columns named.
"""

from __future__ import annotations

import base64
import binascii
import csv as pycsv
import gzip
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..errors import UserError
from . import cells, jsonlines
from . import rows as rowlib
from .bodies import decode
from .content import CSV, JSON, JSONLINES, parse_content_type
from .schema import Schema

UNKNOWN_CODE = -1.0  # an observed category that the schema does not list
SCORE_KEYS = ("probability", "score", "predicted_score")


@dataclass(frozen=True)
class Payload:
    content_type: str
    body: bytes


@dataclass(frozen=True)
class CaptureRecord:
    """One captured invocation."""

    event_id: str
    inference_id: str | None
    inference_time: datetime | None
    input: Payload
    output: Payload | None


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``Z`` or an offset; none means UTC) as an aware datetime."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise UserError(f"{text!r} is not an ISO 8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _payload(part: object, name: str) -> Payload:
    if not isinstance(part, dict):
        raise UserError(f"captureData.{name} is not an object")
    data, encoding = part.get("data"), str(part.get("encoding", "")).upper()
    content_type = part.get("observedContentType")
    if not isinstance(data, str) or not isinstance(content_type, str):
        raise UserError(f"captureData.{name} needs text fields data and observedContentType")
    if encoding == "BASE64":
        try:
            body = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise UserError(f"captureData.{name}.data is not valid base64") from None
    elif encoding in ("CSV", "JSON"):
        body = data.encode("utf-8")
    else:
        raise UserError(f"captureData.{name}.encoding {encoding!r} is not BASE64, CSV or JSON")
    return Payload(content_type, body)


def parse_capture_line(line: str | bytes) -> CaptureRecord:
    """One capture line as a record; ``UserError`` naming what is wrong with it."""
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise UserError(f"not a JSON object: {str(exc).splitlines()[0][:80]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("captureData"), dict):
        raise UserError("no captureData object")
    data = doc["captureData"]
    if "endpointInput" not in data:
        raise UserError("captureData has no endpointInput")
    meta = doc.get("eventMetadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("eventId"), str):
        raise UserError("eventMetadata.eventId is missing")
    when = meta.get("inferenceTime")
    output = data.get("endpointOutput")
    return CaptureRecord(
        event_id=meta["eventId"],
        inference_id=meta.get("inferenceId") if isinstance(meta.get("inferenceId"), str) else None,
        inference_time=parse_time(when) if isinstance(when, str) else None,
        input=_payload(data["endpointInput"], "endpointInput"),
        output=None if output is None else _payload(output, "endpointOutput"),
    )


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UserError(f"{path}: broken gzip file ({exc})") from None
    return raw.decode("utf-8", errors="replace")


def capture_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` at any depth (hidden ones skipped), in name order."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def iter_lines(folder: Path) -> Iterator[tuple[str, str]]:
    """``(where, line)`` of every non-blank line of every file under ``folder``."""
    for path in capture_files(folder):
        try:
            text = _read_text(path)
        except (OSError, UserError) as exc:
            yield f"{path}", f"\0unreadable: {exc}"
            continue
        name = path.relative_to(folder)
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield f"{name}:{number}", line


def _labels_text(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith("["):
        values = json.loads(stripped)
        if not isinstance(values, list):
            raise UserError("groundTruthData.data is not a list")
        return [str(v) for v in values]
    return [v.strip() for v in stripped.replace("\n", ",").split(",") if v.strip()]


def parse_ground_truth_line(line: str, classes: list[str] | None = None) -> tuple[str, np.ndarray]:
    """``(eventId, labels)`` of one ground-truth line; labels as 0/1 numbers (class names,
    when the model has them, mapped to their index)."""
    try:
        doc = json.loads(line)
        truth, meta = doc["groundTruthData"], doc["eventMetadata"]
        event_id, data = meta["eventId"], truth["data"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise UserError(
            "not a ground-truth line (groundTruthData.data, eventMetadata.eventId)"
        ) from None
    if not isinstance(data, str) or not isinstance(event_id, str):
        raise UserError("groundTruthData.data and eventMetadata.eventId must be text")
    if str(truth.get("encoding", "CSV")).upper() == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise UserError("groundTruthData.data is not valid base64") from None
    try:
        texts = _labels_text(data)
    except ValueError:
        raise UserError("groundTruthData.data is not valid JSON") from None
    index = {name: float(i) for i, name in enumerate(classes or [])}
    labels = []
    for text in texts:
        if text in index:
            labels.append(index[text])
            continue
        try:
            labels.append(float(text))
        except ValueError:
            raise UserError(f"label {text!r} is not a number or a class name") from None
    if not labels:
        raise UserError("groundTruthData.data holds no label")
    return event_id, np.array(labels)


def _score(value: object) -> float:
    if isinstance(value, dict):
        for key in SCORE_KEYS:
            if key in value:
                return _score(value[key])
        raise UserError(f"a prediction object has none of {list(SCORE_KEYS)}")
    if isinstance(value, list) and len(value) == 1:
        return _score(value[0])
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UserError("a prediction is not a number")
    try:
        return float(value)
    except ValueError:
        raise UserError(f"prediction {value!r} is not a number") from None


def decode_scores(body: bytes, content_type: str | None) -> np.ndarray:
    """The score of each row of a prediction body: CSV (first cell of a line), JSON
    (``{"predictions": [...]}`` or a list) or JSON lines; numbers or objects holding
    ``probability`` (or ``score``, ``predicted_score``)."""
    text = body.decode("utf-8", errors="replace").strip()
    media = (content_type or "text/csv").split(";")[0].strip().lower()
    try:
        if "json" in media:
            if "jsonlines" in media or ("\n" in text and not text.startswith(("[", '{"pred'))):
                values = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                doc = json.loads(text)
                values = doc.get("predictions") if isinstance(doc, dict) else doc
                if not isinstance(values, list):
                    values = [doc]
            return np.array([_score(v) for v in values], dtype=np.float64)
    except (ValueError, RecursionError):
        raise UserError("the prediction body is not valid JSON") from None
    return np.array([_score(line.split(",")[0]) for line in text.splitlines()], dtype=np.float64)


@dataclass
class Observed:
    """A payload's feature matrix (categories as codes, ``UNKNOWN_CODE`` for an unknown
    one) and what did not fit the schema."""

    X: np.ndarray
    wrong_type: np.ndarray
    extra_columns: set[str] = field(default_factory=set)
    named_columns: set[str] | None = None  # names given in object rows or a header
    widths: set[int] = field(default_factory=set)


def _is_header(cells_: list[str], schema: Schema) -> bool:
    """A first CSV line of names: no cell is a number and one at least names a feature."""
    if not any(c.strip() in schema.position for c in cells_):
        return False
    for c in cells_:
        try:
            cells.number(c.strip())
            return False
        except ValueError:
            continue
    return True


def _rows(body: bytes, media: str, options: dict[str, str], schema: Schema) -> list | None:
    """The rows of a text body as lists or name-keyed dicts; ``None`` for binary formats."""
    if media == CSV:
        lines = rowlib.lines(rowlib.text(body))
        reader = pycsv.reader(lines, skipinitialspace=True)
        try:
            rows: list = list(reader)
        except pycsv.Error as exc:
            raise UserError(f"line {reader.line_num}: cannot read CSV: {exc}") from None
        head = options.get("header")
        if rows and (head == "present" or (head != "absent" and _is_header(rows[0], schema))):
            names = [c.strip() for c in rows[0]]
            return [dict(zip(names, row, strict=False)) for row in rows[1:]]
        return rows
    if media == JSON:
        try:
            doc = json.loads(rowlib.text(body))
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":
                raise UserError(f"line {exc.lineno}: invalid JSON: {exc.msg}") from None
            return _rows(body, JSONLINES, options, schema)
        except (ValueError, RecursionError):
            raise UserError("invalid JSON body") from None
        if isinstance(doc, dict):
            doc = doc.get("instances")
        if isinstance(doc, list) and doc and not any(isinstance(v, list | dict) for v in doc):
            doc = [doc]
        if not isinstance(doc, list):
            raise UserError('expected {"instances": [row, ...]}')
        return doc
    if media == JSONLINES:
        lines = rowlib.lines(rowlib.text(body))
        return [jsonlines.parse_line(line, i + 1) for i, line in enumerate(lines)]
    return None


class _Observer:
    """Rows to the model's matrix with the one cell rule, counting what does not fit."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.wrong_type = np.zeros(schema.count, dtype=np.int64)
        self.extra: set[str] = set()
        self.named: set[str] | None = None
        self.widths: set[int] = set()

    def positional(self, row: object, where: str) -> list:
        schema = self.schema
        if isinstance(row, dict):
            self.named = self.named if self.named is not None else set()
            values: list = [None] * schema.count
            for name, value in row.items():
                j = schema.position.get(name)
                if j is not None:
                    self.named.add(name)
                    values[j] = value
                elif name != schema.label_column and name not in (schema.columns or ()):
                    self.extra.add(str(name))
            return values
        if not isinstance(row, list):
            raise UserError(f"{where}: expected a list of values or an object keyed by name")
        picks = schema.table_picks
        if picks is not None and len(row) == len(schema.columns or ()):
            return [row[j] for j in picks]
        self.widths.add(len(row))
        if len(row) != schema.count:
            raise UserError(f"{where}: has {len(row)} values but the model expects {schema.count}")
        return row

    def value(self, value: object, j: int) -> float:
        codes = self.schema.codes.get(j)
        try:
            code = cells.cell(value, codes)
        except ValueError:
            self.wrong_type[j] += 1
            return math.nan
        if codes is not None and math.isnan(code) and not cells.is_missing(value):
            return UNKNOWN_CODE
        return code

    def matrix(self, rows: list) -> np.ndarray:
        X = np.empty((len(rows), self.schema.count), dtype=np.float32)
        for i, row in enumerate(rows):
            values = self.positional(row, f"row {i + 1}")
            X[i] = [self.value(v, j) for j, v in enumerate(values)]
        return X


def observe(body: bytes, content_type: str | None, schema: Schema) -> Observed:
    """Decode a captured request body against ``schema`` (``UserError`` when it cannot be
    read at all, e.g. rows of the wrong width)."""
    media, options = parse_content_type(content_type)
    none = np.zeros(schema.count, dtype=np.int64)
    if media == CSV and not schema.codes:
        try:  # the request decoder's fast path: plain numbers, nothing to count
            return Observed(decode(body, content_type, schema), none)
        except UserError:
            pass
    rows = _rows(body, media, options, schema)
    if rows is None:
        return Observed(decode(body, content_type, schema), none)
    if not rows:
        raise UserError("the body holds no rows")
    observer = _Observer(schema)
    try:
        X = observer.matrix(rows)
    except UserError as exc:
        bad = sorted(observer.widths - {schema.count})
        if bad:
            raise ColumnCountError(str(exc), bad, schema.count) from None
        raise
    if np.isinf(X).any():
        raise UserError("a value is infinite or too large for float32")
    return Observed(X, observer.wrong_type, observer.extra, observer.named, observer.widths)


class ColumnCountError(UserError):
    """Rows with more or fewer values than the schema has features."""

    def __init__(self, message: str, widths: list[int], expected: int) -> None:
        super().__init__(message)
        self.widths = widths
        self.expected = expected
