"""Masking sensitive columns of a request body before it is captured: values hashed
(SHA-256, salted, 16 hex digits) or dropped, in CSV, JSON and JSON lines bodies."""

from __future__ import annotations

import csv as pycsv
import hashlib
import io
import json

from ..errors import UserError
from .schema import Schema


def _masked_cell(value: object, mode: str, salt: str) -> object:
    if value is None or value == "":
        return value
    if mode == "drop":
        return None
    digest = hashlib.sha256((salt + str(value)).encode("utf-8")).hexdigest()[:16]
    return f"sha256:{digest}"


def _mask_csv(text: str, positions: dict[str, int], names: set[str], mode: str, salt: str) -> str:
    rows = list(pycsv.reader(io.StringIO(text)))
    if not rows:
        return text
    header = [c.strip() for c in rows[0]]
    start = 0
    if names & set(header):
        positions = {n: header.index(n) for n in names if n in header}
        start = 1
    targets = sorted(positions.values())
    for row in rows[start:]:
        for j in targets:
            if j < len(row):
                cell = _masked_cell(row[j], mode, salt)
                row[j] = "" if cell is None else str(cell)
    out = io.StringIO()
    pycsv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _mask_row(row: object, positions: dict[str, int], mode: str, salt: str) -> object:
    if isinstance(row, dict):
        masked = {}
        for key, value in row.items():
            if key not in positions:
                masked[key] = value
            elif mode != "drop":
                masked[key] = _masked_cell(value, mode, salt)
        return masked
    if isinstance(row, list):
        row = list(row)
        for j in positions.values():
            if j < len(row):
                row[j] = _masked_cell(row[j], mode, salt)
    return row


def mask(
    body: bytes, content_type: str | None, schema: Schema, columns, mode: str, salt: str = ""
) -> bytes:
    """``body`` with the values of ``columns`` hashed (``mode="hash"``) or dropped; a body
    that cannot be masked raises ``UserError`` (it must then not be written at all)."""
    names = set(columns)
    positions = {n: i for i, n in enumerate(schema.feature_names) if n in names}
    media = (content_type or "text/csv").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if media in ("text/csv", "csv"):
            return _mask_csv(text, positions, names, mode, salt).encode("utf-8")
        if media in ("application/jsonlines", "application/x-jsonlines", "application/jsonl"):
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            return "".join(
                json.dumps(_mask_row(r, positions, mode, salt)) + "\n" for r in lines
            ).encode()
        if media == "application/json":
            doc = json.loads(text)
            rows = doc.get("instances") if isinstance(doc, dict) else doc
            if (
                isinstance(rows, list)
                and rows
                and not any(isinstance(v, list | dict) for v in rows)
            ):
                rows = [rows]
            if not isinstance(rows, list):
                raise UserError("no rows to mask")
            return json.dumps(
                {"instances": [_mask_row(r, positions, mode, salt) for r in rows]}
            ).encode()
    except (UnicodeDecodeError, ValueError, pycsv.Error, RecursionError):
        raise UserError("the body cannot be read to mask its sensitive columns") from None
    raise UserError(f"masking is not supported for {media} bodies")
