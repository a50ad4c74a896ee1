"""JSON request bodies: ``{"instances": [row, ...]}``, a bare list of rows, or one row."""

from __future__ import annotations

import json

import numpy as np

from ..errors import UserError
from . import jsonlines
from . import rows as rowlib
from .schema import Schema


def decode(body: bytes, schema: Schema) -> np.ndarray:
    """``{"instances": [[...], ...]}``, ``{"instances": [{name: value}, ...]}`` or a bare list.

    A body of several JSON documents, one per line (batch transform splits files by line),
    is read as JSON lines.
    """
    try:
        doc = json.loads(rowlib.text(body))
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return jsonlines.decode(body, schema)
        raise UserError(f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise UserError("the JSON body is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise UserError(f"invalid JSON: {exc}") from None
    if isinstance(doc, dict):
        if "instances" not in doc:
            raise UserError('a JSON object body needs the key "instances"')
        doc = doc["instances"]
    if isinstance(doc, list) and doc and not any(isinstance(v, list | dict) for v in doc):
        doc = [doc]  # a single row given as a flat list of values
    return rowlib.rows_matrix(doc, schema, "instance")
