"""Named tables (header CSV, Parquet, JSON lines): learning a schema from their columns and
turning a chunk of rows into features, labels and side columns with it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import UserError
from . import cells
from .files import did_you_mean
from .schema import Dataset, Schema


@dataclass
class Columns:
    """What a channel asks of a named table: its label, left-out and side columns."""

    label_column: str | None = None
    positive_label: str | None = None
    exclude_columns: tuple[str, ...] = ()
    side_columns: tuple[str, ...] = ()

    def label(self, header: list[str], schema: Schema | None, where: str) -> str:
        """The label column, checked against the table's ``header``."""
        label = self.label_column or (schema.label_column if schema else None)
        if not label:
            raise UserError(
                f"{where}: a table with a header needs the hyperparameter label_column "
                f"(one of {header})"
            )
        if label not in header:
            raise UserError(
                f"{where}: label_column {label!r} is not a column{did_you_mean(label, header)} "
                f"(have {header})"
            )
        absent = [c for c in (*self.exclude_columns, *self.side_columns) if c not in header]
        if absent:
            hint = did_you_mean(absent[0], header)
            raise UserError(f"{where}: columns {absent} are not in the table{hint} (have {header})")
        return label

    def features(self, header: list[str], label: str) -> list[str]:
        return [c for c in header if c != label and c not in self.exclude_columns]


def kind(values: pd.Series) -> str:
    """``q`` for a column of numbers (or booleans, or nothing), ``c`` for text."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return "q"
    return "q" if cells.numbers(values)[1] is None else "c"


@dataclass
class SchemaBuilder:
    """A first pass over a table: feature kinds from the first rows, then the categories
    and text classes of every row."""

    input_format: str
    names: list[str]
    types: list[str]
    label: str
    label_kind: str
    columns: list[str]
    positive_label: str | None = None
    found: dict[str, set[str]] = field(default_factory=dict)
    labels: set[str] = field(default_factory=set)

    def needed(self) -> list[str]:
        """The columns the pass reads: categorical features and a text label."""
        wanted = [n for n, t in zip(self.names, self.types, strict=True) if t == "c"]
        if self.label_kind == "c" or self.positive_label is not None:
            wanted.append(self.label)
        return wanted

    def add(self, frame: pd.DataFrame) -> None:
        for name, kind_ in zip(self.names, self.types, strict=True):
            if kind_ == "c":
                self.found.setdefault(name, set()).update(cells.categories(frame[name]))
        if self.label in frame.columns:
            self.labels.update(cells.categories(frame[self.label]))

    def schema(self) -> Schema:
        classes = None
        if self.positive_label is not None:
            positive = self.positive_label.lower()
            others = sorted(v for v in self.labels if v.lower() != positive)
            negative = others[0] if len(others) == 1 else f"not {self.positive_label}"
            classes = [negative, self.positive_label]
        elif self.label_kind == "c":
            classes = sorted(self.labels)
        categories = {
            n: sorted(self.found.get(n, set()))
            for n, t in zip(self.names, self.types, strict=True)
            if t == "c"
        }
        return Schema(
            self.input_format, self.names, self.types, categories, self.label, classes, self.columns
        )


def start_schema(
    frame: pd.DataFrame, input_format: str, wanted: Columns, where: str
) -> SchemaBuilder:
    """Feature kinds from a table's first rows (``frame``, all columns)."""
    header = [str(c) for c in frame.columns]
    label = wanted.label(header, None, where)
    names = wanted.features(header, label)
    types = [kind(frame[n]) for n in names]
    return SchemaBuilder(
        input_format, names, types, label, kind(frame[label]), header, wanted.positive_label
    )


def labels(
    values: pd.Series, schema: Schema, positive_label: str | None, where: str, first_row: int
) -> np.ndarray:
    """A label column as float32: numbers, the positive label as 1, or class codes."""
    text = cells.texts(values)
    if text.isna().any():
        row = int(np.flatnonzero(text.isna().to_numpy())[0])
        raise UserError(f"{where}: row {first_row + row} has no label")
    if positive_label is not None:
        return (text.str.lower() == positive_label.lower()).to_numpy(dtype=np.float32)
    if schema.classes is not None:
        codes = pd.Index(schema.classes).get_indexer(text)
        if (codes < 0).any():
            bad = text[codes < 0].iloc[0]
            raise UserError(
                f"{where}: label {bad!r} is not one of the training labels {schema.classes}"
            )
        return codes.astype(np.float32)
    numeric, bad = cells.numbers(values)
    if bad is not None:
        raise UserError(f"{where}: row {first_row + bad}: label {text.iloc[bad]!r} is not a number")
    return numeric


def features(frame: pd.DataFrame, schema: Schema, where: str, first_row: int) -> np.ndarray:
    """The schema's features of a chunk as a float32 matrix (categories as codes)."""
    X = np.empty((len(frame), schema.count), dtype=np.float32)
    for i, (name, kind_) in enumerate(zip(schema.feature_names, schema.feature_types, strict=True)):
        column = frame[name]
        if kind_ == "c":
            X[:, i] = cells.codes(column, schema.categories.get(name, []))
            continue
        X[:, i], bad = cells.numbers(column)
        if bad is not None:
            raise UserError(
                f"{where}: row {first_row + bad}, column {name!r}: "
                f"{column.iloc[bad]!r} is not a number"
            )
    return X


def check_columns(header: list[str], schema: Schema, wanted: Columns, where: str) -> str:
    """The label column of a table, whose features must be the schema's."""
    label = wanted.label(header, schema, where)
    present = wanted.features(header, label)
    missing = [n for n in schema.feature_names if n not in present]
    extra = [n for n in present if n not in schema.position]
    if missing or extra:
        raise UserError(
            f"{where}: columns differ from the train channel (missing {missing}, unexpected {extra})"
        )
    return label


def to_dataset(
    frame: pd.DataFrame, schema: Schema, wanted: Columns, label: str, where: str, first_row: int
) -> Dataset:
    """One chunk of a named table as a ``Dataset`` in ``schema``."""
    y = labels(frame[label], schema, wanted.positive_label, where, first_row)
    X = features(frame, schema, where, first_row)
    side = {c: frame[c].to_numpy() for c in wanted.side_columns}
    return Dataset(X, y, schema, columns=side)
