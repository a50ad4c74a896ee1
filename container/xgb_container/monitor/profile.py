"""A dataset's profile, chunk by chunk, as Model Monitor's ``statistics.json`` features.

A profile holds per feature: present / missing counts, moments (numeric) or category counts
(categorical), and counts in fixed bins: the baseline's quantile bins (``psi_bins``, for drift)
and its equal-width buckets (``kll.buckets``, Model Monitor's view). The baseline fixes the
edges; the current data is counted into the same edges so that the two can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    psi_counts: np.ndarray | None = None
    bucket_counts: np.ndarray | None = None

    def add(self, values: np.ndarray) -> None:
        present = values[~np.isnan(values)]
        self.missing += int(values.size - present.size)
        self.moments.add(present)
        ordered = np.sort(present) if self.edges is not None or self.bounds is not None else None
        if self.edges is not None:
            counts = stats.sorted_bin_counts(ordered, self.edges)
            self.psi_counts = counts if self.psi_counts is None else self.psi_counts + counts
        if self.bounds is not None:
            counts = stats.bucket_counts(ordered, self.bounds)
            self.bucket_counts = (
                counts if self.bucket_counts is None else self.bucket_counts + counts
            )

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

    def statistics(self) -> list[dict[str, Any]]:
        return [f.statistics() for f in self.features]
