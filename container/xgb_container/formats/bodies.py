"""A request (or captured) body of any content type as the model's feature matrix."""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from . import csv, json, jsonlines, libsvm, parquet
from .content import CSV, JSON, JSONLINES, LIBSVM, PARQUET, parse_content_type
from .schema import Schema

DECODERS = {
    JSON: json.decode,
    JSONLINES: jsonlines.decode,
    LIBSVM: libsvm.decode,
    PARQUET: parquet.decode,
}


def decode(body: bytes, content_type: str | None, schema: Schema) -> np.ndarray:
    """The float32 feature matrix of a body: one column per feature in the schema's order,
    NaN for a missing value, categories as their codes (unknown: NaN)."""
    media, options = parse_content_type(content_type)
    X = csv.decode(body, options, schema) if media == CSV else DECODERS[media](body, schema)
    if not len(X) and media != CSV:  # CSV: a header alone is no rows, and no error
        raise UserError("the body holds no rows")
    if np.isinf(X).any():
        row, column = np.argwhere(np.isinf(X))[0]
        raise UserError(
            f"row {row + 1}, column {column + 1} ({schema.feature_names[column]}): the value is "
            "infinite or too large for float32 (XGBoost refuses it, as in training)"
        )
    return X
