"""Pure statistics of the monitor: streaming moments, fixed-edge histograms, drift measures.

Nothing here reads files or knows about Model Monitor's formats; every function takes and
returns plain numbers and numpy arrays, so that it can be tested (and mutation-tested) alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

DRIFT_BINS = 10  # quantile bins of a numeric feature's baseline (deciles)
BUCKETS = 10  # equal-width buckets between the baseline's min and max (Model Monitor's KLL view)
SMOOTHING = 0.5  # pseudo-count per bin, so that an empty bin keeps PSI finite


@dataclass
class Moments:
    """Count, mean, spread and range of a stream of values, merged chunk by chunk (Chan's
    parallel update, stable where the mean is large next to the spread)."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    integral: int = 0  # how many values are whole numbers

    def add(self, values: np.ndarray) -> None:
        """Take in the present (non-NaN) ``values`` of one chunk."""
        n = int(values.size)
        if n == 0:
            return
        values = np.asarray(values, dtype=np.float64)
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.count * n / total
        self.mean += delta * n / total
        self.count = total
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))
        self.integral += int(np.count_nonzero(values == np.round(values)))

    @property
    def sum(self) -> float:
        return self.mean * self.count

    @property
    def std_dev(self) -> float:
        """Population standard deviation (as Model Monitor reports it)."""
        return math.sqrt(self.m2 / self.count) if self.count else 0.0


def quantile_edges(sample: np.ndarray, bins: int = DRIFT_BINS) -> np.ndarray:
    """Interior bin edges that split ``sample`` into about ``bins`` equally full bins.

    A value ``v`` falls in bin ``searchsorted(edges, v, side="right")``: bin 0 holds what is
    below the first edge. A feature with at most ``2 * bins`` distinct values gets one bin
    per value (edges halfway between neighbours), so that discrete codes are not merged.
    """
    sample = sample[~np.isnan(sample)]
    if sample.size == 0:
        return np.empty(0)
    distinct = np.unique(sample)
    if distinct.size <= 2 * bins:
        return (distinct[:-1] + distinct[1:]) / 2
    inner = np.quantile(sample, np.arange(1, bins) / bins)
    return np.unique(inner)


def bucket_edges(low: float, high: float, buckets: int = BUCKETS) -> np.ndarray:
    """``buckets + 1`` equal-width bounds from ``low`` to ``high`` (one bucket if equal)."""
    if not high > low:
        return np.array([low, high])
    return np.linspace(low, high, buckets + 1)


def at_or_above(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """How many ``values`` are at or above each edge (a missing value is above none): one
    vectorized comparison per edge, several times faster than sorting for a few edges."""
    return np.array(
        [np.count_nonzero(values >= edge) for edge in np.asarray(edges, dtype=np.float64)],
        dtype=np.int64,
    )


def counts_from_above(present: int, above: np.ndarray) -> np.ndarray:
    """Bin counts from the number of present values and how many are at or above each edge."""
    return -np.diff(np.concatenate(([present], above, [0]))).astype(np.int64)


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """How many of the present ``values`` fall in each of the ``len(edges) + 1`` bins (a value
    equal to an edge goes above it; ``edges`` ascending)."""
    present = int(values.size - np.count_nonzero(np.isnan(values)))
    return counts_from_above(present, at_or_above(values, edges))


def bucket_counts(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Counts of present values in the equal-width buckets ``bounds``; values outside go to
    the end buckets."""
    return bin_counts(values, bounds[1:-1])


def shares(counts: np.ndarray) -> np.ndarray:
    """Smoothed proportions: ``(count + SMOOTHING) / (total + SMOOTHING * bins)``."""
    counts = np.asarray(counts, dtype=np.float64)
    return (counts + SMOOTHING) / (counts.sum() + SMOOTHING * counts.size)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of ``actual`` against ``expected`` (counts, same bins)."""
    e = shares(expected)
    a = shares(actual)
    return float(((a - e) * np.log(a / e)).sum())


def chi_square_p(expected: np.ndarray, actual: np.ndarray) -> float:
    """p-value of the chi-square test that both count vectors come from one distribution.

    Bins empty in both are left out; with fewer than two bins left there is nothing to
    tell apart and the answer is 1.
    """
    table = np.vstack([expected, actual]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    return float(sps.chi2_contingency(table, correction=False).pvalue)


def ks_distance(expected: np.ndarray, actual: np.ndarray) -> float:
    """Largest gap between the two cumulative distributions over the bins (0 to 1)."""
    e = np.cumsum(expected) / max(np.sum(expected), 1)
    a = np.cumsum(actual) / max(np.sum(actual), 1)
    return float(np.abs(a - e).max()) if len(e) else 0.0


def bottom_k(keys: np.ndarray, rows: np.ndarray, new_rows: np.ndarray, k: int, rng) -> tuple:
    """A uniform sample of at most ``k`` rows of a stream: each row gets a random key and
    the ``k`` smallest keys are kept (merged chunk by chunk, bounded memory)."""
    new_keys = rng.random(len(new_rows))
    if len(keys) >= k:  # full: only rows with a key below the largest kept one can enter
        entering = new_keys < keys.max()
        new_keys, new_rows = new_keys[entering], new_rows[entering]
    keys = np.concatenate([keys, new_keys])
    rows = np.concatenate([rows, new_rows]) if len(rows) else new_rows
    if len(keys) > k:
        keep = np.argpartition(keys, k - 1)[:k]
        keys, rows = keys[keep], rows[keep]
    return keys, rows


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half); ``None`` without both classes."""
    positives = int((y == 1).sum())
    negatives = int(y.size - positives)
    if positives == 0 or negatives == 0:
        return None
    ranks = sps.rankdata(scores)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def ks_statistic(y: np.ndarray, scores: np.ndarray) -> float | None:
    """Kolmogorov-Smirnov separation of the score distributions of the two classes."""
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        return None
    return float(sps.ks_2samp(scores[y == 1], scores[y == 0]).statistic)


def confusion(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts at ``score >= threshold`` is positive."""
    predicted = scores >= threshold
    actual = y == 1
    return {
        "tn": int((~predicted & ~actual).sum()),
        "fp": int((predicted & ~actual).sum()),
        "fn": int((~predicted & actual).sum()),
        "tp": int((predicted & actual).sum()),
    }


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley and McNeil's standard error of an ROC AUC from ``positives`` and ``negatives``."""
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    ) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))
