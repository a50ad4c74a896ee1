"""The bias report: outcomes of the model by group of a protected attribute.

The model's positive outcome is "scored at or above the decision threshold" (flagged as a
likely default); the favourable outcome for the applicant is the opposite, approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FOUR_FIFTHS = 0.8
MISSING = "missing"


@dataclass(frozen=True)
class Protected:
    """A protected column, with cut points when it is numeric (``AGE:25,40,60``)."""

    name: str
    cuts: tuple[float, ...] = ()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_columns(text: str) -> tuple[Protected, ...]:
    """``SEX,AGE:25,40,60`` as columns: numbers after ``NAME:`` are that column's cut points."""
    columns: list[tuple[str, list[float]]] = []
    for token in (t.strip() for t in text.split(",")):
        name, sep, first = token.partition(":")
        if not sep and columns and columns[-1][1] and _number(token) is not None:
            columns[-1][1].append(float(token))
            continue
        if not name.strip():
            raise ValueError("must be comma-separated column names, e.g. SEX,AGE:25,40,60")
        cut = _number(first) if sep else None
        if sep and (cut is None or not np.isfinite(cut)):
            raise ValueError(f"must give numeric cut points after {name.strip()}:")
        columns.append((name.strip(), [cut] if cut is not None else []))
    names = [n for n, _ in columns]
    if len(set(names)) < len(names):
        raise ValueError("must name each column once")
    for name, cuts in columns:
        if any(not np.isfinite(c) for c in cuts) or sorted(set(cuts)) != cuts:
            raise ValueError(f"must give increasing cut points for {name}")
    return tuple(Protected(n, tuple(c)) for n, c in columns)


def _interval(i: int, cuts: tuple[float, ...]) -> str:
    if i == 0:
        return f"< {cuts[0]:g}"
    if i == len(cuts):
        return f">= {cuts[-1]:g}"
    return f"{cuts[i - 1]:g} to < {cuts[i]:g}"


def group_labels(values: np.ndarray, cuts: tuple[float, ...] = ()) -> tuple[np.ndarray, list[str]]:
    """Each row's group name and the group names in order (intervals of ``cuts``, or the
    distinct values as text); a missing value is its own group."""
    if cuts:
        numbers = np.array([_cell_number(v) for v in values], dtype=float)
        ids = np.searchsorted(np.asarray(cuts), numbers, side="right")
        names = [_interval(i, cuts) for i in range(len(cuts) + 1)]
        every = np.array([*names, MISSING], dtype=object)
        labels = every[np.where(np.isnan(numbers), len(names), ids)]
        return labels, [n for n in [*names, MISSING] if (labels == n).any()]
    labels = np.array([_cell_text(v) for v in values], dtype=object)
    found = sorted(set(labels.tolist()) - {MISSING})
    return labels, found + ([MISSING] if (labels == MISSING).any() else [])


def _cell_number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return np.nan
    return number


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return MISSING
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or MISSING


def _rate(flags: np.ndarray) -> float | None:
    return float(flags.mean()) if flags.size else None


def bias_report(
    y: np.ndarray, scores: np.ndarray, threshold: float, values: np.ndarray, cuts=()
) -> dict[str, Any]:
    """Per group: counts, rates, TPR and FPR; disparate impact and the two differences."""
    labels, order = group_labels(values, tuple(cuts))
    flagged = scores >= threshold
    groups: dict[str, dict[str, Any]] = {}
    for name in order:
        inside = labels == name
        groups[name] = {
            "count": int(inside.sum()),
            "positive_rate": _rate(flagged[inside]),
            "default_rate": _rate(y[inside] == 1),
            "tpr": _rate(flagged[inside & (y == 1)]),
            "fpr": _rate(flagged[inside & (y == 0)]),
        }
    favourable = {g: 1 - v["positive_rate"] for g, v in groups.items()}
    approved_good = {g: 1 - v["fpr"] for g, v in groups.items() if v["fpr"] is not None}
    report: dict[str, Any] = {
        "threshold": float(threshold),
        "rows": int(len(y)),
        "groups": groups,
        **_spread("disparate_impact", favourable, ratio=True),
        **_spread("statistical_parity_difference", favourable),
        **_spread("equal_opportunity_difference", approved_good),
    }
    di = report["disparate_impact"]
    report["four_fifths_rule"] = None if di is None else ("pass" if di >= FOUR_FIFTHS else "fail")
    return report


def _spread(key: str, rates: dict[str, float], ratio: bool = False) -> dict[str, Any]:
    """The lowest rate over (or minus) the highest, with the two groups named."""
    if len(rates) < 2:
        return {key: None}
    low = min(rates, key=lambda g: rates[g])
    high = max(rates, key=lambda g: rates[g])
    if ratio:
        value = rates[low] / rates[high] if rates[high] > 0 else None
    else:
        value = rates[low] - rates[high]
    return {key: value, f"{key}_groups": [low, high]}
