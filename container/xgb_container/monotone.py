"""Monotone constraints: names checked before training, directions verified on rows after.

A constraint of +1 means the score may only rise as the feature rises; -1 only fall.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import UserError

GRID_POINTS = 20


def by_name(constraints: Any, names: list[str]) -> dict[str, int]:
    """The non-zero constraints as ``{feature: +1 or -1}``, from a mapping or a positional list."""
    if not constraints:
        return {}
    if isinstance(constraints, dict):
        pairs = constraints.items()
    else:
        pairs = zip(names, constraints, strict=False)
    return {str(name): int(np.sign(int(d))) for name, d in pairs if int(d) != 0}


def check_names(constraints: Any, names: list[str]) -> None:
    """Refuse a constrained name that is not a feature, suggesting the closest feature."""
    if not isinstance(constraints, dict):
        return
    for name in constraints:
        if name not in names:
            close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f" (features: {names})"
            raise UserError(f"monotone_constraints names {name!r}, which is not a feature{hint}")


def grid(values: np.ndarray, points: int = GRID_POINTS) -> np.ndarray:
    """Up to ``points`` distinct observed values from the smallest to the largest (evenly
    spaced quantiles; NaN ignored)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return finite
    return np.unique(np.quantile(finite, np.linspace(0, 1, points), method="inverted_cdf"))


def curves(
    predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, column: int, values: np.ndarray
) -> np.ndarray:
    """The score of every row of ``X`` with feature ``column`` set to each of ``values``:
    one row per row of ``X``, one column per value."""
    repeated = np.repeat(X, len(values), axis=0)
    repeated[:, column] = np.tile(values, len(X))
    return np.asarray(predict(repeated)).reshape(len(X), len(values))


def verdict(scores: np.ndarray, direction: int) -> dict[str, Any]:
    """Whether every row's scores move only in ``direction`` along the grid."""
    steps = np.diff(scores, axis=1) * direction
    wrong = (steps < 0).any(axis=1)
    worst = float(-steps.min()) if steps.size and steps.min() < 0 else 0.0
    return {
        "rows": int(scores.shape[0]),
        "rows_against": int(wrong.sum()),
        "largest_step_against": worst,
        "holds": bool(not wrong.any()),
    }


def check(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    names: list[str],
    constraints: dict[str, int],
    kinds: list[str],
) -> list[dict[str, Any]]:
    """One entry per constrained feature: its grid, the mean score along it, the verdict."""
    results = []
    for name, direction in constraints.items():
        column = names.index(name)
        entry: dict[str, Any] = {"feature": name, "direction": direction}
        values = grid(X[:, column]) if kinds[column] == "q" else np.empty(0)
        if kinds[column] != "q" or values.size < 2 or len(X) == 0:
            entry.update(holds=None, reason="categorical or constant feature: not checked")
        else:
            scores = curves(predict, X, column, values)
            entry.update(verdict(scores, direction))
            entry["grid"] = [float(v) for v in values]
            entry["mean_score"] = [float(v) for v in scores.mean(axis=0)]
        results.append(entry)
    return results
