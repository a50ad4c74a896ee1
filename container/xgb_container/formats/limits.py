"""Row counts of request bodies, taken before any parsing so that a cap costs little."""

from __future__ import annotations

import io
import json

from ..errors import UserError
from .content import CSV, JSON, JSONLINES, LIBSVM, PARQUET, parse_content_type


def _lines(body: bytes) -> int:
    text = body.rstrip(b"\r\n\t ")
    return text.count(b"\n") + 1 if text else 0


def _json_rows(body: bytes) -> int | None:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None  # several documents (JSON lines), or invalid: decode names the problem
    if isinstance(doc, dict):
        doc = doc.get("instances")
    if not isinstance(doc, list):
        return None
    if not any(isinstance(v, list | dict) for v in doc):
        return 1  # a single row given as a flat list of values
    return len(doc)


def _parquet_rows(body: bytes) -> int | None:
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(io.BytesIO(body)).num_rows
    except Exception:  # noqa: BLE001 - not Parquet: decode names the problem
        return None


def rows_over(body: bytes, content_type: str | None, limit: int) -> int | None:
    """The number of rows (lines, for line formats) of ``body`` when it is over ``limit``;
    ``None`` when it is within ``limit`` or cannot be told before decoding (then the body is
    small or invalid, and ``decode`` bounds or refuses it)."""
    media, _ = parse_content_type(content_type)
    if media in (CSV, LIBSVM, JSONLINES):
        if len(body) <= limit:  # no more lines than bytes: within the limit, uncounted
            return None
        rows = _lines(body)
    elif media == JSON:
        # Every row is a list or an object: fewer brackets than the limit, no need to parse.
        if body.count(b"[") + body.count(b"{") <= limit:
            return None
        rows = _json_rows(body)
        if rows is None:
            rows = _lines(body)  # JSON lines sent as JSON (batch transform splits by line)
    elif media == PARQUET:
        rows = _parquet_rows(body)
    else:  # pragma: no cover - parse_content_type refuses other types
        raise UserError(f"content type {content_type!r} is not supported")
    return rows if rows is not None and rows > limit else None
