"""The monitor's pure statistics against direct numpy / scipy / scikit-learn computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from sklearn import metrics
from xgb_container.monitor import stats


def test_moments_merged_by_chunks_equal_the_whole():
    rng = np.random.default_rng(1)
    values = rng.normal(1e6, 3.0, size=10_001)  # large mean, small spread
    moments = stats.Moments()
    for chunk in np.array_split(values, 7):
        moments.add(chunk)
    moments.add(np.empty(0))
    assert moments.count == values.size
    assert moments.mean == pytest.approx(values.mean(), rel=1e-12)
    assert moments.std_dev == pytest.approx(values.std(), rel=1e-9)
    assert moments.sum == pytest.approx(values.sum(), rel=1e-12)
    assert moments.minimum == values.min()
    assert moments.maximum == values.max()
    assert moments.integral == 0


def test_moments_count_whole_numbers_and_empty_stream():
    moments = stats.Moments()
    assert moments.std_dev == 0.0
    moments.add(np.array([1.0, 2.5, -3.0, 4.0]))
    assert moments.integral == 3
    assert moments.minimum == -3.0
    assert moments.maximum == 4.0
    moments.add(np.array([7.0]))
    assert moments.integral == 4
    assert moments.count == 5
    assert moments.std_dev == pytest.approx(np.std([1.0, 2.5, -3.0, 4.0, 7.0]))


def test_quantile_edges_of_a_continuous_sample_are_its_deciles():
    rng = np.random.default_rng(2)
    sample = rng.exponential(size=50_000)
    edges = stats.quantile_edges(np.append(sample, np.nan))
    assert edges == pytest.approx(np.quantile(sample, np.arange(1, 10) / 10))
    counts = stats.bin_counts(sample, edges)
    assert counts.sum() == sample.size
    assert np.all(np.abs(counts - sample.size / 10) <= 2)


def test_quantile_edges_of_discrete_values_give_one_bin_per_value():
    sample = np.array([-2, -1, -1, 0, 0, 0, 0, 2, 8], dtype=float)
    edges = stats.quantile_edges(sample)
    assert edges.tolist() == [-1.5, -0.5, 1.0, 5.0]
    assert stats.bin_counts(sample, edges).tolist() == [1, 2, 4, 1, 1]
    # 20 distinct values is still discrete; 21 is quantile bins
    assert len(stats.quantile_edges(np.arange(20.0))) == 19
    assert len(stats.quantile_edges(np.arange(21.0))) == 9
    assert stats.quantile_edges(np.array([np.nan])).size == 0
    assert stats.quantile_edges(np.array([3.0, 3.0])).size == 0


def test_bin_counts_put_edges_in_the_upper_bin_and_skip_missing():
    edges = np.array([1.0, 2.0])
    counts = stats.bin_counts(np.array([0.5, 1.0, 1.5, 2.0, 9.0, np.nan]), edges)
    assert counts.tolist() == [1, 2, 2]
    assert counts.dtype == np.int64
    assert stats.bin_counts(np.empty(0), edges).tolist() == [0, 0, 0]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.floats(-5, 5, width=32), st.just(float("nan"))), max_size=60),
    st.lists(st.floats(-5, 5), min_size=0, max_size=12),
    st.sampled_from([np.float32, np.float64]),
)
def test_bin_counts_count_each_value_by_the_edges_at_or_below_it(values, edges, dtype):
    """Against the definition: a value's bin is the number of edges at or below it (edges
    repeated, values on edges, float32 values against float64 edges)."""
    edges = np.sort(np.array(edges, dtype=np.float64))
    values = np.array(values, dtype=dtype)
    expected = np.zeros(len(edges) + 1, dtype=np.int64)
    for v in values[~np.isnan(values)]:
        expected[int(np.sum(edges <= v))] += 1
    assert stats.bin_counts(values, edges).tolist() == expected.tolist()


def test_bucket_edges_and_counts():
    bounds = stats.bucket_edges(0.0, 10.0)
    assert bounds.tolist() == pytest.approx(np.linspace(0, 10, 11).tolist())
    assert stats.bucket_edges(2.0, 10.0, buckets=4).tolist() == [2.0, 4.0, 6.0, 8.0, 10.0]
    assert stats.bucket_edges(5.0, 5.0).tolist() == [5.0, 5.0]
    counts = stats.bucket_counts(np.array([-1.0, 0.0, 0.5, 9.99, 10.0, 11.0]), bounds)
    assert counts.tolist() == [3, 0, 0, 0, 0, 0, 0, 0, 0, 3]
    assert stats.bucket_counts(np.array([5.0]), stats.bucket_edges(5.0, 5.0)).tolist() == [1]


def test_shares_are_smoothed_proportions():
    assert stats.shares(np.array([0, 2])).tolist() == pytest.approx([0.5 / 3, 2.5 / 3])
    assert stats.shares(np.array([3, 1, 0])).sum() == pytest.approx(1.0)


def test_psi_matches_its_definition():
    expected = np.array([100, 200, 300, 400])
    actual = np.array([150, 150, 350, 350])
    e = (expected + 0.5) / (expected.sum() + 2.0)
    a = (actual + 0.5) / (actual.sum() + 2.0)
    assert stats.psi(expected, actual) == pytest.approx(float(((a - e) * np.log(a / e)).sum()))
    assert stats.psi(expected, expected) == pytest.approx(0.0, abs=1e-15)
    assert stats.psi(expected, actual * 10) > 0.0
    # an empty bin keeps it finite
    assert math.isfinite(stats.psi(np.array([10, 0]), np.array([0, 10])))


def test_chi_square_p_matches_scipy_and_edge_cases():
    expected = np.array([120, 80, 0, 50])
    actual = np.array([30, 25, 0, 5])
    table = np.array([[120, 80, 50], [30, 25, 5]])
    want = sps.chi2_contingency(table, correction=False).pvalue
    assert stats.chi_square_p(expected, actual) == pytest.approx(want)
    assert stats.chi_square_p(np.array([5, 0]), np.array([7, 0])) == 1.0
    assert stats.chi_square_p(np.array([5, 5]), np.array([0, 0])) == 1.0
    assert stats.chi_square_p(np.array([500, 500]), np.array([900, 100])) < 1e-10


def test_ks_distance_is_the_largest_cdf_gap():
    assert stats.ks_distance(np.array([1, 1, 2]), np.array([2, 1, 1])) == pytest.approx(0.25)
    assert stats.ks_distance(np.array([5, 5]), np.array([5, 5])) == 0.0
    assert stats.ks_distance(np.array([]), np.array([])) == 0.0


def test_bottom_k_keeps_a_bounded_uniform_sample():
    rng = np.random.default_rng(3)
    keys, rows = np.empty(0), np.empty((0, 1))
    for start in range(0, 10_000, 1_000):
        chunk = np.arange(start, start + 1_000, dtype=float).reshape(-1, 1)
        keys, rows = stats.bottom_k(keys, rows, chunk, 2_000, rng)
        assert len(rows) == min(start + 1_000, 2_000)
    assert len(keys) == 2_000
    assert len(np.unique(rows)) == 2_000
    # uniform: each tenth of the stream is about a tenth of the sample
    per_chunk = np.bincount((rows[:, 0] // 1_000).astype(int), minlength=10)
    assert per_chunk.min() > 120
    small_keys, small = stats.bottom_k(np.empty(0), np.empty((0, 1)), np.ones((3, 1)), 5, rng)
    assert len(small) == 3 and len(small_keys) == 3


def test_quality_measures_match_scikit_learn():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, size=500)
    scores = np.round(rng.random(500) * 0.6 + y * 0.3, 2)  # ties included
    assert stats.roc_auc(y, scores) == pytest.approx(metrics.roc_auc_score(y, scores))
    fpr, tpr, _ = metrics.roc_curve(y, scores)
    assert stats.ks_statistic(y, scores) == pytest.approx(float(np.max(tpr - fpr)))
    tn, fp, fn, tp = metrics.confusion_matrix(y, scores >= 0.4).ravel()
    assert stats.confusion(y, scores, 0.4) == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    one_class = np.zeros(5)
    assert stats.roc_auc(one_class, scores[:5]) is None
    assert stats.roc_auc(one_class + 1, scores[:5]) is None
    assert stats.ks_statistic(one_class, scores[:5]) is None
    assert stats.ks_statistic(one_class + 1, scores[:5]) is None
    assert stats.confusion(np.array([1, 0]), np.array([0.5, 0.5]), 0.5) == {
        "tn": 0,
        "fp": 1,
        "fn": 0,
        "tp": 1,
    }


def test_auc_standard_error_follows_hanley_mcneil():
    auc, pos, neg = 0.8, 200, 800
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (pos - 1) * (q1 - auc**2) + (neg - 1) * (q2 - auc**2)) / (pos * neg)
    assert stats.auc_standard_error(auc, pos, neg) == pytest.approx(math.sqrt(var))
    assert stats.auc_standard_error(0.8, 2000, 8000) < stats.auc_standard_error(0.8, 200, 800)


def test_roc_auc_with_an_odd_number_of_positives():
    y = np.array([1, 0, 1, 0, 1, 0, 0])
    scores = np.array([0.8, 0.3, 0.4, 0.5, 0.9, 0.1, 0.4])
    assert stats.roc_auc(y, scores) == pytest.approx(metrics.roc_auc_score(y, scores))


def test_ks_distance_of_an_empty_sample_is_its_whole_gap():
    assert stats.ks_distance(np.array([1, 3]), np.array([0, 0])) == 1.0


def test_ks_distance_of_single_counts_and_of_nothing():
    """One count on each side is a whole distribution; no counts at all are no distance."""
    assert stats.ks_distance(np.array([1, 0]), np.array([0, 1])) == 1.0
    assert stats.ks_distance(np.array([0, 1]), np.array([1, 0])) == 1.0
    assert stats.ks_distance(np.array([0, 1]), np.array([0, 3])) == 0.0
    assert stats.ks_distance(np.array([0, 0]), np.array([0, 0])) == 0.0
