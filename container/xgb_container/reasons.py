"""Adverse-action reasons: per row, the features that pushed the score up the most.

A reason is ``{"feature", "value", "contribution"}``: the feature's name, the applicant's
value as sent (the category's text for a categorical feature, null when missing or
unknown) and its SHAP value in log-odds, exactly as ``Booster.predict(pred_contribs=True)``
gives it. Only positive contributions are reasons, largest first.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import formats
from .errors import UserError

ATTRIBUTE = "reasons"  # reasons=K in X-Amzn-SageMaker-Custom-Attributes
ENVIRONMENT = "SAGEMAKER_REASONS"  # the endpoint's (or transform job's) default K


def requested(attribute: str | None, default: str | None = None) -> int:
    """How many reasons a request asks for: its ``reasons=K`` attribute, else the default
    from ``SAGEMAKER_REASONS``, else none."""
    source, text = ("custom attribute reasons", attribute)
    if attribute is None:
        text = os.environ.get(ENVIRONMENT) if default is None else default
        source = ENVIRONMENT
    if text is None or not text.strip():
        return 0
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise UserError(f"{source}={text!r} must be a whole number of reasons (0 for none)")
    return count


def display_value(value: float, column: int, schema: formats.Schema) -> Any:
    """A decoded cell as the applicant sent it: category text, a number, or None."""
    if value != value:
        return None
    name = schema.feature_names[column]
    if schema.feature_types[column] == "c":
        categories = schema.categories.get(name, [])
        code = int(value)
        return categories[code] if 0 <= code < len(categories) else None
    number = float(str(np.float32(value)))  # the shortest text that reads back as this float32
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def top_reasons(
    contributions: np.ndarray, X: np.ndarray, schema: formats.Schema, count: int
) -> list[list[dict[str, Any]]]:
    """Per row, up to ``count`` reasons: the largest positive contributions, in that order
    (ties in feature order). ``contributions`` has one column per feature, then the bias."""
    values = np.asarray(contributions)[:, : len(schema.feature_names)]
    order = np.argsort(-values, axis=1, kind="stable")[:, :count]
    rows = []
    for i, columns in enumerate(order.tolist()):
        row = []
        for j in columns:
            contribution = float(values[i, j])
            if not contribution > 0:
                break
            row.append(
                {
                    "feature": schema.feature_names[j],
                    "value": display_value(float(X[i, j]), j, schema),
                    "contribution": float(f"{contribution:.9g}"),
                }
            )
        rows.append(row)
    return rows


def as_column(reasons: list[list[dict[str, Any]]]) -> np.ndarray:
    """The reasons as one output field: an object array with one list per row."""
    column = np.empty(len(reasons), dtype=object)
    for i, row in enumerate(reasons):
        column[i] = row
    return column


def attach(
    model: Any,
    schema: formats.Schema,
    X: np.ndarray,
    out: dict[str, np.ndarray],
    fields: tuple[str, ...],
    count: int,
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """``out`` and ``fields`` with a ``reasons`` field (for a multi-class model, the reasons
    for the class each row is assigned)."""
    predicted = out["probabilities"].argmax(axis=1) if model.kind == "multiclass" else None
    reasons = top_reasons(model.contributions(X, predicted), X, schema, count)
    return {**out, ATTRIBUTE: as_column(reasons)}, (*fields, ATTRIBUTE)
