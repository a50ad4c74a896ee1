"""The feature schema that training learns and serving reads, and a channel's rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from ..metadata import ModelMetadata


@dataclass
class Schema:
    """Feature layout learnt from the train channel and imposed on every other channel and
    request.

    ``feature_types`` uses XGBoost's codes: ``"q"`` (numeric) or ``"c"`` (categorical);
    a category's code is its index in ``categories[name]``. ``input_format`` is how the
    train channel was read: ``csv`` (label first, no header), ``csv-header``, ``libsvm``,
    ``parquet`` or ``jsonlines``. ``classes[i]`` names the label value ``i``.
    ``columns`` is the trained table's column order (label and left-out columns included)
    where the table had one.
    """

    input_format: str
    feature_names: list[str]
    feature_types: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    label_column: str | None = None
    classes: list[str] | None = None
    columns: list[str] | None = None

    @classmethod
    def from_metadata(cls, meta: ModelMetadata) -> Schema:
        """The schema a trained model recorded in its ``metadata.json``."""
        columns = getattr(meta, "columns", None)
        return cls(
            meta.input_format,
            list(meta.feature_names),
            list(meta.feature_types),
            dict(meta.categories),
            meta.label_column,
            list(meta.classes) if meta.classes else None,
            list(columns) if isinstance(columns, list) else None,
        )

    @property
    def count(self) -> int:
        return len(self.feature_names)

    @cached_property
    def position(self) -> dict[str, int]:
        """Feature name -> column."""
        return {name: i for i, name in enumerate(self.feature_names)}

    @cached_property
    def codes(self) -> dict[int, dict[str, float]]:
        """Column of a categorical feature -> {category name: code}."""
        return {
            i: {value: float(code) for code, value in enumerate(self.categories.get(name, []))}
            for i, (name, kind) in enumerate(
                zip(self.feature_names, self.feature_types, strict=True)
            )
            if kind == "c"
        }

    @cached_property
    def table_picks(self) -> list[int] | None:
        """Where each feature was in the trained table's columns (``None`` without a
        table, or where the table had no other columns)."""
        columns = self.columns or []
        if len(columns) <= self.count or not all(n in columns for n in self.feature_names):
            return None
        return [columns.index(n) for n in self.feature_names]


@dataclass
class Dataset:
    """Features, labels and optional weights of one channel (or one chunk of it)."""

    X: np.ndarray | sp.csr_matrix
    y: np.ndarray
    schema: Schema
    weight: np.ndarray | None = None
    # Raw values of side columns kept out of (or beside) the features, e.g. protected
    # attributes for the bias report: name -> one value per row (text or number).
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return self.X.shape[0]
