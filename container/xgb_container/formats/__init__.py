"""The one place that parses data: content types, the feature schema, training channels,
request bodies and response bodies.

- ``parse_content_type(value) -> (media, options)``: one alias table for every consumer;
  an unknown type raises ``UnsupportedType`` (a ``UserError``; HTTP 415 when serving).
- ``Schema``: the feature layout learnt from the train channel, stored in ``metadata.json``
  (``Schema.from_metadata``) and imposed on every other channel and request.
- ``load_channel(folder, content_type, ...) -> Dataset | None``: a whole channel.
- ``iter_chunks(folder, content_type, ..., schema=..., chunk_rows=...)``: the same rows as
  bounded ``Dataset`` chunks, read a block at a time (streaming into ``QuantileDMatrix``).
- ``infer_schema(folder, content_type, ...) -> Schema | None``: the train channel's schema
  from a first pass (categories of header tables agreed before any matrix is built).
- ``decode(body, content_type, schema) -> float32 matrix``: a request (or captured) body.
- ``encode(out, fields, n, accept, explanations) -> bytes``: a response body.

One module per format (``csv``, ``libsvm``, ``parquet``, ``json``, ``jsonlines``), built on
the cell rule (``cells``), the schema (``schema``, ``table``) and the files (``files``).
"""

from __future__ import annotations

from . import capture, masking  # SageMaker capture files, ground truth, masking (monitoring)
from .bodies import decode
from .cells import MISSING
from .channel import infer_schema, iter_chunks, load_channel
from .content import (
    ACCEPT_TYPES,
    ALIASES,
    CONTENT_TYPES,
    CSV,
    JSON,
    JSONLINES,
    LIBSVM,
    PARQUET,
    UnsupportedType,
    media_type,
    parse_content_type,
)
from .files import channel_files
from .limits import rows_over
from .response import encode, explain
from .schema import Dataset, Schema

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
    "media_type",
    "rows_over",
    "capture",
    "masking",
]
