"""A dataset's profile, chunk by chunk, as Model Monitor's ``statistics.json`` features.

A profile holds per feature: present / missing counts, moments (numeric) or category counts
(categorical), and counts in fixed bins: the baseline's quantile bins (``psi_bins``, for drift)
and its equal-width buckets (``kll.buckets``, Model Monitor's view). The baseline fixes the
edges; the current data is counted into the same edges so that the two can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..formats import Schema
from . import stats

UNKNOWN = "(outside the baseline's categories)"


@dataclass
class Numeric:
    """One numeric feature's running profile."""

    name: str
    edges: np.ndarray | None = None
    bounds: np.ndarray | None = None
    moments: stats.Moments = field(default_factory=stats.Moments)
    missing: int = 0
    wrong_type: int = 0  # values that were not numbers (counted, then left out)
    above: np.ndarray | None = None  # values at or above each of ``cuts``, over all chunks

    @cached_property
    def cuts(self) -> np.ndarray | None:
        """The drift edges, then the buckets' inner bounds: what ``count`` compares with
        (fixed at construction, so made once, not per chunk and column)."""
        parts = [p for p in (self.edges, self._inner) if p is not None]
        return np.concatenate(parts) if parts else None

    @property
    def _inner(self) -> np.ndarray | None:
        return None if self.bounds is None else self.bounds[1:-1]

    def add(self, values: np.ndarray) -> None:
        missing = np.isnan(values)
        count = int(np.count_nonzero(missing))
        present = values[~missing] if count else values
        self.missing += count
        self.moments.add(present)
        self.count(values)

    def count(self, values: np.ndarray) -> None:
        """Count a chunk's values into the fixed edges only (missing ones fall in none)."""
        cuts = self.cuts
        if cuts is None:
            return
        above = stats.at_or_above(values, cuts)
        self.above = above if self.above is None else self.above + above

    @property
    def psi_counts(self) -> np.ndarray | None:
        if self.edges is None or self.above is None:
            return None
        return stats.counts_from_above(self.present, self.above[: len(self.edges)])

    @property
    def bucket_counts(self) -> np.ndarray | None:
        if self._inner is None or self.above is None:
            return None
        start = 0 if self.edges is None else len(self.edges)
        return stats.counts_from_above(self.present, self.above[start:])

    @property
    def present(self) -> int:
        return self.moments.count

    @property
    def inferred_type(self) -> str:
        whole = self.moments.integral == self.moments.count
        return "Integral" if whole else "Fractional"

    def statistics(self) -> dict[str, Any]:
        m = self.moments
        numbers: dict[str, Any] = {
            "common": {"num_present": self.present, "num_missing": self.missing},
            "mean": m.mean,
            "sum": m.sum,
            "std_dev": m.std_dev,
            "min": m.minimum if m.count else None,
            "max": m.maximum if m.count else None,
        }
        distribution: dict[str, Any] = {}
        if self.bounds is not None and self.bucket_counts is not None:
            distribution["kll"] = {
                "buckets": [
                    {"lower_bound": float(lo), "upper_bound": float(hi), "count": int(c)}
                    for lo, hi, c in zip(
                        self.bounds[:-1], self.bounds[1:], self.bucket_counts, strict=True
                    )
                ]
            }
        if self.edges is not None and self.psi_counts is not None:
            distribution["psi_bins"] = {
                "edges": [float(e) for e in self.edges],
                "counts": [int(c) for c in self.psi_counts],
            }
        numbers["distribution"] = distribution
        out = {"name": self.name, "inferred_type": self.inferred_type}
        out["numerical_statistics"] = numbers
        if self.wrong_type:
            out["num_wrong_type"] = self.wrong_type
        return out


@dataclass
class Categorical:
    """One categorical feature's running profile (codes index ``categories``; -1 unknown)."""

    name: str
    categories: list[str]
    counts: np.ndarray = field(init=False)
    missing: int = 0
    unknown: int = 0

    def __post_init__(self) -> None:
        self.counts = np.zeros(len(self.categories), dtype=np.int64)

    def add(self, codes: np.ndarray) -> None:
        present = codes[~np.isnan(codes)]
        self.missing += int(codes.size - present.size)
        known = present[present >= 0].astype(np.int64)
        self.unknown += int(present.size - known.size)
        self.counts += np.bincount(known, minlength=len(self.categories))[: len(self.categories)]

    @property
    def present(self) -> int:
        return int(self.counts.sum()) + self.unknown

    def statistics(self) -> dict[str, Any]:
        buckets = [
            {"value": value, "count": int(count)}
            for value, count in zip(self.categories, self.counts, strict=True)
        ]
        if self.unknown:
            buckets.append({"value": UNKNOWN, "count": self.unknown})
        return {
            "name": self.name,
            "inferred_type": "String",
            "string_statistics": {
                "common": {"num_present": self.present, "num_missing": self.missing},
                "distinct_count": int((self.counts > 0).sum()) + (1 if self.unknown else 0),
                "distribution": {"categorical": {"buckets": buckets}},
            },
        }


Feature = Numeric | Categorical


class Profile:
    """Profiles of every feature of ``schema``; numeric edges from ``edges`` / ``bounds``
    (by feature name) when given."""

    def __init__(
        self,
        schema: Schema,
        edges: dict[str, np.ndarray] | None = None,
        bounds: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.rows = 0
        self.features: list[Feature] = []
        for name, kind in zip(schema.feature_names, schema.feature_types, strict=True):
            if kind == "c":
                self.features.append(Categorical(name, list(schema.categories.get(name, []))))
            else:
                e = edges.get(name) if edges else None
                b = bounds.get(name) if bounds else None
                self.features.append(Numeric(name, e, b))

    def add(self, X: np.ndarray) -> None:
        """Take in a chunk: one column per feature, NaN missing, categories as codes."""
        self.rows += len(X)
        for j, feature in enumerate(self.features):
            feature.add(np.asarray(X[:, j], dtype=np.float64))

    def take_totals(self, first: Profile) -> None:
        """Take the row count, moments, missing and category counts of a first pass over the
        same rows: a second pass then only ``count``s numeric values into the edges."""
        self.rows = first.rows
        for j, (mine, seen) in enumerate(zip(self.features, first.features, strict=True)):
            if isinstance(mine, Numeric) and isinstance(seen, Numeric):
                mine.moments, mine.missing, mine.wrong_type = (
                    seen.moments,
                    seen.missing,
                    seen.wrong_type,
                )
            else:
                self.features[j] = seen

    def count(self, X: np.ndarray) -> None:
        """Count a chunk's numeric values into the edges (after ``take_totals``)."""
        for j, feature in enumerate(self.features):
            if isinstance(feature, Numeric) and feature.cuts is not None:
                feature.count(np.ascontiguousarray(X[:, j]))

    def statistics(self) -> list[dict[str, Any]]:
        return [f.statistics() for f in self.features]
