"""Training channels: every file of a channel folder as bounded chunks of rows in one
schema (learnt from the train channel by a first pass, or imposed on the others)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import UserError
from . import cells, jsonlines, libsvm, parquet
from . import csv as csvfmt
from .content import CSV, JSONLINES, LIBSVM, PARQUET, parse_content_type
from .files import channel_files
from .schema import Dataset, Schema
from .table import Columns, check_columns, start_schema, to_dataset

TRAINING_TYPES = (CSV, LIBSVM, PARQUET, JSONLINES)
TABLES = {"csv-header": csvfmt, "parquet": parquet, "jsonlines": jsonlines}


def input_format(content_type: str | None) -> str:
    """How a channel of ``content_type`` is read: csv, csv-header, libsvm, parquet or
    jsonlines (a JSON document is read whole, so JSON channels are refused)."""
    media, options = parse_content_type(content_type)
    if media not in TRAINING_TYPES:
        raise UserError(
            f"content type {content_type!r} is not supported for training channels; "
            f"use one of {', '.join(TRAINING_TYPES)}"
        )
    if media == CSV:
        return "csv-header" if options.get("header") == "present" else "csv"
    return {LIBSVM: "libsvm", PARQUET: "parquet", JSONLINES: "jsonlines"}[media]


def _nameless(count: int, fmt: str) -> Schema:
    return Schema(fmt, [f"f{i}" for i in range(count)], ["q"] * count)


# The first pass.


def _plain_schema(files: list[Path], csv_weights: bool) -> Schema | None:
    first_cols = 2 if csv_weights else 1
    for path in files:
        for _, X in csvfmt.plain_chunks(path):
            if X.shape[1] <= first_cols:
                raise UserError(
                    f"{path}: CSV rows need a label{' and a weight' if csv_weights else ''} "
                    f"followed by features; got {X.shape[1]} column(s)"
                )
            return _nameless(X.shape[1] - first_cols, "csv")
    return None


def _table_schema(files: list[Path], fmt: str, wanted: Columns) -> Schema | None:
    reader = TABLES[fmt]
    first = next((f for f in map(reader.first_rows, files) if f is not None), None)
    if first is None:
        return None
    builder = start_schema(first, fmt, wanted, str(files[0]))
    needed = builder.needed()
    if needed:
        for path in files:
            absent = [c for c in needed if c not in reader.header(path)]
            if absent:
                raise UserError(f"{path}: columns {absent} are missing (the first file has them)")
            for _, frame in reader.table_chunks(path, needed):
                builder.add(frame)
    return builder.schema()


def infer_schema(
    folder: Path,
    content_type: str | None,
    *,
    label_column: str | None = None,
    positive_label: str | None = None,
    csv_weights: bool = False,
    exclude_columns: tuple[str, ...] = (),
) -> Schema | None:
    """The schema of a channel's rows (``None`` when it has none), before any matrix: the
    first block for nameless CSV, every index for LibSVM, and for tables the column kinds
    of the first rows, then a pass over the categorical and label columns only."""
    fmt = input_format(content_type)
    files = channel_files(folder)
    if not files:
        return None
    if fmt == "csv":
        return _plain_schema(files, csv_weights)
    if fmt == "libsvm":
        count = max(libsvm.width(p) for p in files)
        return _nameless(count, "libsvm") if count else None
    wanted = Columns(label_column, positive_label, exclude_columns)
    return _table_schema(files, fmt, wanted)


# The rows.


def _plain(
    path: Path, schema: Schema, csv_weights: bool, where: str, workers: int
) -> Iterator[Dataset]:
    first_cols = 2 if csv_weights else 1
    for line, data in csvfmt.plain_chunks(path, workers):
        if data.shape[1] - first_cols != schema.count:
            raise UserError(
                f"channel {where} has {data.shape[1] - first_cols} features but the train "
                f"channel has {schema.count} ({path.name}, line {line})"
            )
        # Copies: a column is a view that would keep the whole block alive with the labels.
        y = data[:, 0].copy()
        if np.isnan(y).any():
            row = int(np.flatnonzero(np.isnan(y))[0])
            raise UserError(f"{path}: line {line + row} has no label (column 1)")
        weight = data[:, 1].copy() if csv_weights else None
        yield Dataset(np.ascontiguousarray(data[:, first_cols:]), y, schema, weight)


def _libsvm(path: Path, schema: Schema | None, where: str) -> Iterator[Dataset]:
    count = schema.count if schema else None
    for line, X, y in libsvm.chunks(path, count):
        if schema is not None and X.shape[1] != schema.count:
            raise UserError(
                f"channel {where} has {X.shape[1]} features but the train channel has "
                f"{schema.count} ({path.name}, near line {line})"
            )
        yield Dataset(X, y, schema or _nameless(X.shape[1], "libsvm"))


def _table(path: Path, fmt: str, schema: Schema, wanted: Columns) -> Iterator[Dataset]:
    reader = TABLES[fmt]
    label = check_columns(reader.header(path), schema, wanted, str(path))
    usecols = list(dict.fromkeys([*schema.feature_names, label, *wanted.side_columns]))
    kinds = zip(schema.feature_names, schema.feature_types, strict=True)
    numeric = [n for n, t in kinds if t == "q"]
    for first_row, frame in reader.table_chunks(path, usecols, numeric):
        yield to_dataset(frame, schema, wanted, label, str(path), first_row)


def _side_by_name(dataset: Dataset, wanted: Columns, where: str) -> Dataset:
    """Side columns of nameless formats: features named ``f3`` kept as their values."""
    names = dataset.schema.feature_names
    unknown = [c for c in wanted.side_columns if c not in names]
    if wanted.exclude_columns or unknown:
        raise UserError(
            f"{where}: exclude_columns and side columns need a header table or features "
            f"named {names[0]}..{names[-1]}; got {list(wanted.exclude_columns) or unknown}"
        )
    X = dataset.X
    picked = {}
    for c in wanted.side_columns:
        column = X[:, names.index(c)]
        picked[c] = np.asarray(column.toarray() if sp.issparse(column) else column).ravel()
    return replace(dataset, columns=picked)


def _side_values(dataset: Dataset) -> Dataset:
    """Side columns of tables: numbers where every value is one, else the text."""
    for name, values in dataset.columns.items():
        numeric, bad = cells.numbers(pd.Series(values))
        if bad is None:
            dataset.columns[name] = numeric
    return dataset


def _split(dataset: Dataset, chunk_rows: int) -> Iterator[Dataset]:
    if dataset.num_rows <= chunk_rows:
        yield dataset
        return
    for start in range(0, dataset.num_rows, chunk_rows):
        stop = start + chunk_rows
        yield Dataset(
            dataset.X[start:stop],
            dataset.y[start:stop],
            dataset.schema,
            None if dataset.weight is None else dataset.weight[start:stop],
            {name: values[start:stop] for name, values in dataset.columns.items()},
        )


def _datasets(
    folder: Path,
    fmt: str,
    files: list[Path],
    schema: Schema | None,
    wanted: Columns,
    csv_weights: bool,
    workers: int = 1,
) -> Iterator[Dataset]:
    for path in files:
        if fmt == "csv":
            parts = _plain(path, schema, csv_weights, folder.name, workers)
        elif fmt == "libsvm":
            parts = _libsvm(path, schema, folder.name)
        else:
            parts = (_side_values(d) for d in _table(path, fmt, schema, wanted))
        for part in parts:
            if fmt in ("csv", "libsvm") and (wanted.exclude_columns or wanted.side_columns):
                part = _side_by_name(part, wanted, str(folder))
            yield part


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
    workers: int = 1,
) -> Iterator[Dataset]:
    """The rows of a channel as ``Dataset`` chunks of at most ``chunk_rows`` rows, read a
    block at a time; without ``schema`` a first pass learns it (``infer_schema``).
    ``workers``: blocks of headerless CSV parsed at once (threads; each costs memory)."""
    fmt = input_format(content_type)
    files = channel_files(folder)
    if not files:
        return
    wanted = Columns(label_column, positive_label, exclude_columns, side_columns)
    if schema is None:
        schema = infer_schema(
            folder,
            content_type,
            label_column=label_column,
            positive_label=positive_label,
            csv_weights=csv_weights,
            exclude_columns=exclude_columns,
        )
        if schema is None:
            return
    for dataset in _datasets(folder, fmt, files, schema, wanted, csv_weights, workers):
        yield from _split(dataset, chunk_rows)


def _concat(parts: list[Dataset], schema: Schema) -> Dataset:
    if sp.issparse(parts[0].X):
        width = max(p.X.shape[1] for p in parts)
        X = sp.vstack([sp.csr_matrix(p.X, shape=(p.X.shape[0], width)) for p in parts]).tocsr()
    else:
        X = np.concatenate([p.X for p in parts])
    weights = [p.weight for p in parts if p.weight is not None]
    columns = {name: np.concatenate([p.columns[name] for p in parts]) for name in parts[0].columns}
    y = np.concatenate([p.y for p in parts])
    return Dataset(X, y, schema, np.concatenate(weights) if weights else None, columns)


def load_channel(
    folder: Path,
    content_type: str | None,
    *,
    label_column: str | None = None,
    positive_label: str | None = None,
    csv_weights: bool = False,
    schema: Schema | None = None,
    exclude_columns: tuple[str, ...] = (),
    side_columns: tuple[str, ...] = (),
) -> Dataset | None:
    """Every row of a channel in one ``Dataset``; ``None`` when the channel has no rows.

    ``schema`` (from the train channel) is imposed on validation and test channels so that
    categories and column order match. ``exclude_columns`` are left out of the features;
    ``side_columns`` are kept raw in ``Dataset.columns`` (for nameless formats a side
    column is a feature, ``f3``, kept as its value).
    """
    fmt = input_format(content_type)
    files = channel_files(folder)
    if not files:
        return None
    wanted = Columns(label_column, positive_label, exclude_columns, side_columns)
    if schema is None and fmt != "libsvm":  # LibSVM: as wide as its largest index
        schema = infer_schema(
            folder,
            content_type,
            label_column=label_column,
            positive_label=positive_label,
            csv_weights=csv_weights,
            exclude_columns=exclude_columns,
        )
        if schema is None:
            return None
    parts = list(_datasets(folder, fmt, files, schema, wanted, csv_weights))
    if not parts:
        return None
    if schema is None:
        width = max(p.X.shape[1] for p in parts)
        schema = _nameless(width, "libsvm")
    return _concat(parts, schema)
