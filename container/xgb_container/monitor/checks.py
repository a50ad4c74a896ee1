"""Model Monitor's checks of the current traffic against the baseline, and drift per feature.

A feature drifts when its population stability index (PSI) over the baseline's bins reaches
``comparison_threshold`` AND the chi-square test of the same counts rejects "same
distribution" at ``significance_level`` divided by the number of features compared
(Bonferroni). PSI alone is an effect size whose noise grows as rows shrink; the test alone
flags harmless differences once rows are many. Both together hold from a few hundred rows to
millions (docs/monitoring.md works the numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import stats
from .collect import Current
from .config import Reference
from .profile import Categorical, Numeric


@dataclass
class Drift:
    """How one feature's (or the score's) current distribution compares with the baseline."""

    name: str
    rows: int
    psi: float
    p_value: float
    ks_distance: float
    drifted: bool
    expected: list[int]
    actual: list[int]
    labels: list[str]
    judged: bool = True
    violations: list[str] = field(default_factory=list)


def _bin_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all"]
    shown = [f"{e:.4g}" for e in edges]
    return [
        f"< {shown[0]}",
        *[f"{a} to {b}" for a, b in zip(shown[:-1], shown[1:], strict=True)],
        f">= {shown[-1]}",
    ]


def compare(
    name: str, expected: np.ndarray, actual: np.ndarray, labels: list[str], config: dict, tests: int
) -> Drift:
    """The drift verdict of one pair of count vectors over the same bins."""
    rows = int(np.sum(actual))
    dist = config.get("distribution_constraints", {})
    threshold = float(dist.get("comparison_threshold", 0.2))
    alpha = float(dist.get("significance_level", 0.01)) / max(tests, 1)
    judged = rows >= int(dist.get("min_rows", 200)) and dist.get("perform_comparison") != "Disabled"
    value = stats.psi(expected, actual)
    p = stats.chi_square_p(expected, actual)
    return Drift(
        name,
        rows,
        value,
        p,
        stats.ks_distance(expected, actual),
        judged and value >= threshold and p < alpha,
        [int(c) for c in expected],
        [int(c) for c in actual],
        labels,
        judged,
    )


def feature_drifts(reference: Reference, current: Current, masked: frozenset[str]) -> list[Drift]:
    settings = reference.settings
    compared = [f for f in current.profile.features if f.name not in masked]
    drifts = []
    for feature in compared:
        base = reference.features[feature.name]
        if isinstance(feature, Categorical):
            buckets = base["string_statistics"]["distribution"]["categorical"]["buckets"]
            expected = np.array([b["count"] for b in buckets] + [0])
            actual = np.append(feature.counts, feature.unknown)
            labels = [b["value"] for b in buckets] + ["(unknown)"]
        else:
            dist = base["numerical_statistics"]["distribution"].get("psi_bins")
            if dist is None or feature.psi_counts is None:
                continue
            expected, actual = np.array(dist["counts"]), feature.psi_counts
            labels = _bin_labels(dist["edges"])
        drifts.append(compare(feature.name, expected, actual, labels, settings, len(compared)))
    return drifts


def score_drift(reference: Reference, current: Current) -> Drift | None:
    if not reference.score or not current.scores:
        return None
    bins = reference.score["psi_bins"]
    edges = np.array(bins["edges"], dtype=np.float64)
    actual = stats.bin_counts(current.all_scores(), edges)
    settings = dict(reference.settings)
    dist = dict(settings.get("distribution_constraints", {}))
    dist["comparison_threshold"] = settings.get("score_drift_threshold", 0.2)
    settings["distribution_constraints"] = dist
    expected = np.array(bins["counts"])
    return compare("model_score", expected, actual, _bin_labels(bins["edges"]), settings, 1)


def _violation(name: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": name, "constraint_check_type": check, "description": description}


def _type_check(feature: Numeric, limit: dict, threshold: float) -> dict[str, str] | None:
    observed = feature.present + feature.wrong_type
    if not observed:
        return None
    if limit.get("inferred_type") == "Integral":
        matching = feature.moments.integral
        kind = "whole numbers"
    else:
        matching = feature.present
        kind = "numbers"
    share = matching / observed
    if share >= threshold:
        return None
    return _violation(
        feature.name,
        "data_type_check",
        f"{share:.4f} of the values are {kind} ({limit.get('inferred_type')} in the baseline); "
        f"the threshold is {threshold:g}",
    )


def _completeness(feature, limit: dict, sigmas: float) -> dict[str, str] | None:
    total = feature.present + feature.missing
    if not total:
        return None
    expected = float(limit.get("completeness", 1.0))
    allowed = expected - sigmas * math.sqrt(max(expected * (1 - expected), 0.0) / total)
    observed = feature.present / total
    if observed >= allowed:
        return None
    return _violation(
        feature.name,
        "completeness_check",
        f"completeness {observed:.4f} is below the baseline's {expected:.4f} "
        f"(allowed down to {allowed:.4f} at {total} rows)",
    )


def _domain(feature: Categorical, threshold: float) -> dict[str, str] | None:
    if not feature.present:
        return None
    share = 1 - feature.unknown / feature.present
    if share >= threshold:
        return None
    return _violation(
        feature.name,
        "categorical_values_check",
        f"{feature.unknown} values ({1 - share:.2%}) are outside the baseline's domain; "
        f"the domain content threshold is {threshold:g}",
    )


def column_violations(reference: Reference, current: Current, masked: frozenset[str]):
    names = reference.schema.feature_names
    out = []
    if current.named_columns and not current.positional_records:
        for name in names:
            if name not in current.named_columns and name not in masked:
                out.append(_violation(name, "missing_column_check", "no captured row names it"))
    for name in sorted(current.extra_columns):
        out.append(
            _violation(name, "extra_column_check", "captured rows name a column the baseline lacks")
        )
    for width in sorted(current.bad_widths):
        if width < len(names):
            for name in names[width:]:
                out.append(
                    _violation(
                        name,
                        "missing_column_check",
                        f"rows with {width} values, the baseline has {len(names)} features",
                    )
                )
        else:
            out.append(
                _violation(
                    f"column {len(names) + 1}",
                    "extra_column_check",
                    f"rows with {width} values, the baseline has {len(names)} features",
                )
            )
    return out


def violations(reference: Reference, current: Current, drifts: list[Drift], masked) -> list[dict]:
    """Model Monitor's ``constraint_violations.json`` entries, column checks first."""
    settings = reference.settings
    if settings.get("evaluate_constraints", "Enabled") == "Disabled":
        return []
    out = column_violations(reference, current, masked)
    datatype = float(settings.get("datatype_check_threshold", 1.0))
    domain = float(settings.get("domain_content_threshold", 1.0))
    sigmas = float(settings.get("completeness_sigmas", 4.0))
    for feature in current.profile.features:
        if feature.name in masked:
            continue
        limit = reference.constraints.get(feature.name, {})
        found = [_completeness(feature, limit, sigmas)]
        if isinstance(feature, Numeric):
            found.append(_type_check(feature, limit, datatype))
        else:
            found.append(_domain(feature, domain))
        out.extend(v for v in found if v)
    for drift in drifts:
        if drift.drifted:
            out.append(
                _violation(
                    drift.name,
                    "baseline_drift_check" if drift.name != "model_score" else "score_drift_check",
                    f"PSI {drift.psi:.3f} over {drift.rows} rows (threshold "
                    f"{_threshold(settings, drift.name):g}); chi-square p = {drift.p_value:.2g}",
                )
            )
    return out


def _threshold(settings: dict[str, Any], name: str) -> float:
    if name == "model_score":
        return float(settings.get("score_drift_threshold", 0.2))
    return float(settings.get("distribution_constraints", {}).get("comparison_threshold", 0.2))
