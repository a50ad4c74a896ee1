"""The one place that parses data: content types, the feature schema, training channels,
request bodies and response bodies.

The public names below are the interface that training, serving and monitoring use; the
implementation is moving here from ``data.py`` and ``codecs.py`` (issue #11).

- ``parse_content_type(value) -> (media, options)``: one alias table for every consumer;
  an unknown type raises ``UnsupportedType`` (a ``UserError``; HTTP 415 when serving).
- ``Schema``: the feature layout learnt from the train channel, stored in ``metadata.json``
  (``Schema.from_metadata``) and imposed on every other channel and request.
- ``load_channel(folder, content_type, ...) -> Dataset | None``: a whole channel.
- ``iter_chunks(folder, content_type, ..., schema=..., chunk_rows=...)``: the same rows as
  bounded ``Dataset`` chunks (streaming into ``QuantileDMatrix``).
- ``infer_schema(folder, content_type, ...) -> Schema | None``: the train channel's schema
  from a first pass (categories of header tables agreed before any matrix is built).
- ``decode(body, content_type, schema) -> float32 matrix``: a request (or captured) body.
- ``encode(out, fields, n, accept, explanations) -> bytes``: a response body.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..codecs import (
    ACCEPT_TYPES,
    ALIASES,
    CONTENT_TYPES,
    CSV,
    JSON,
    JSONLINES,
    LIBSVM,
    MISSING,
    PARQUET,
    Features,
    UnsupportedType,
    encode,
    explain,
    media_type,
)
from ..codecs import decode as _decode
from ..data import Dataset, Schema, channel_files, load_channel

__all__ = [
    "ACCEPT_TYPES",
    "ALIASES",
    "CONTENT_TYPES",
    "CSV",
    "JSON",
    "JSONLINES",
    "LIBSVM",
    "MISSING",
    "PARQUET",
    "Dataset",
    "Schema",
    "UnsupportedType",
    "channel_files",
    "decode",
    "encode",
    "explain",
    "infer_schema",
    "iter_chunks",
    "load_channel",
    "parse_content_type",
    "rows_over",
]


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """``text/csv; header=present`` as ``("text/csv", {"header": "present"})``; aliases
    resolved; ``UnsupportedType`` for a type no format reads."""
    media, options = media_type(value)
    if media not in CONTENT_TYPES:
        supported = ", ".join(CONTENT_TYPES)
        raise UnsupportedType(f"content type {value!r} is not supported; use one of {supported}")
    return media, options


def _features(schema: Schema) -> Features:
    cached = schema.__dict__.get("_features")
    if cached is None:
        cached = schema.__dict__["_features"] = Features(schema)  # type: ignore[arg-type]
    return cached


def decode(body: bytes, content_type: str | None, schema: Schema) -> np.ndarray:
    """The float32 feature matrix of a body: one column per feature in the schema's order,
    NaN for a missing value, categories as their codes (unknown: NaN)."""
    return _decode(body, content_type, _features(schema))


def iter_chunks(
    folder: Path,
    content_type: str | None,
    *,
    label_column: str | None = None,
    positive_label: str | None = None,
    csv_weights: bool = False,
    schema: Schema | None = None,
    chunk_rows: int = 1 << 16,
    exclude_columns: tuple[str, ...] = (),
    side_columns: tuple[str, ...] = (),
) -> Iterator[Dataset]:
    """The rows of a channel as ``Dataset`` chunks of at most ``chunk_rows`` rows."""
    dataset = load_channel(
        folder,
        content_type,
        label_column=label_column,
        positive_label=positive_label,
        csv_weights=csv_weights,
        schema=schema,
        exclude_columns=exclude_columns,
        side_columns=side_columns,
    )
    if dataset is None:
        return
    for start in range(0, dataset.num_rows, chunk_rows):
        stop = start + chunk_rows
        weight = None if dataset.weight is None else dataset.weight[start:stop]
        columns = {name: values[start:stop] for name, values in dataset.columns.items()}
        yield Dataset(dataset.X[start:stop], dataset.y[start:stop], dataset.schema, weight, columns)


def infer_schema(
    folder: Path,
    content_type: str | None,
    *,
    label_column: str | None = None,
    positive_label: str | None = None,
    csv_weights: bool = False,
    exclude_columns: tuple[str, ...] = (),
) -> Schema | None:
    """The schema of a channel's rows (``None`` when it has none), before any matrix."""
    dataset = load_channel(
        folder,
        content_type,
        label_column=label_column,
        positive_label=positive_label,
        csv_weights=csv_weights,
        exclude_columns=exclude_columns,
    )
    return None if dataset is None else dataset.schema


from .limits import rows_over  # noqa: E402 - built on the names above
