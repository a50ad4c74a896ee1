"""Parquet: tables whose columns are named like the features, read in row batches for
training and whole for a request body."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from . import rows as rowlib
from .files import seekable
from .schema import Schema


def _fail(path: Path | str, exc: Exception) -> UserError:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return UserError(f"{path}: cannot parse parquet: {message}")


def table_chunks(
    path: Path, usecols: list[str] | None, batch_rows: int = 1 << 16
) -> Iterator[tuple[int, pd.DataFrame]]:
    """A Parquet file as (first row, frame) batches of at most ``batch_rows`` rows."""
    import pyarrow.parquet as pq

    row = 1
    with seekable(path) as source:
        try:
            reader = pq.ParquetFile(source)
            batches = reader.iter_batches(batch_size=batch_rows, columns=usecols)
            for batch in batches:
                frame = batch.to_pandas()
                frame.columns = [str(c).strip() for c in frame.columns]
                if len(frame):
                    yield row, frame
                    row += len(frame)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for bad bytes
            raise _fail(path, exc) from None


def header(path: Path) -> list[str]:
    """The column names of a Parquet file (from its footer)."""
    import pyarrow.parquet as pq

    with seekable(path) as source:
        try:
            return [str(c).strip() for c in pq.ParquetFile(source).schema_arrow.names]
        except Exception as exc:  # noqa: BLE001
            raise _fail(path, exc) from None


def first_rows(path: Path) -> pd.DataFrame:
    """The first batch of a Parquet file, every column (to learn column kinds)."""
    for _, frame in table_chunks(path, None):
        return frame
    raise UserError(f"{path}: the file is empty")


def decode(body: bytes, schema: Schema) -> np.ndarray:
    """A Parquet table whose columns are named like the model's features."""
    try:
        frame = pd.read_parquet(io.BytesIO(body))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for bad bytes
        raise UserError(f"cannot read the Parquet body: {exc}".splitlines()[0]) from None
    frame = frame.astype(object).where(frame.notna(), None)
    records = frame.to_dict("records")
    positional = [rowlib.positional(r, schema, "row") for r in records]
    return rowlib.matrix(positional, schema, "row")
