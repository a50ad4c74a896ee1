"""The evaluation's pure functions on a small Taiwan model, against numbers computed here
independently (numpy loops, pandas, scipy, scikit-learn). Fast: the mutation tests run these."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from conftest import TAIWAN
from scipy import stats
from sklearn import metrics
from sklearn.calibration import calibration_curve
from xgb_container import bias, evaluation, formats, monotone, reasons, review
from xgb_container.errors import UserError

LABEL = "default payment next month"


@pytest.fixture(scope="module")
def taiwan():
    """A 30-round model on 6000 Taiwan rows, scored on 2000 others."""
    frame = pd.read_csv(TAIWAN).drop(columns=["ID"])
    train, held = frame.iloc[:6000], frame.iloc[6000:8000].reset_index(drop=True)
    names = [c for c in frame.columns if c != LABEL]
    params = {"objective": "binary:logistic", "max_depth": 3, "nthread": 1, "seed": 1}
    matrix = xgb.DMatrix(train[names], label=train[LABEL], feature_names=names)
    booster = xgb.train(params, matrix, 30)
    X = held[names].to_numpy(dtype=np.float32)
    held_matrix = xgb.DMatrix(X, label=held[LABEL], feature_names=names)
    y = held[LABEL].to_numpy(dtype=int)
    return booster, held, X, y, booster.predict(held_matrix), booster.predict(matrix), names


def test_ks_is_the_two_sample_statistic(taiwan):
    *_, y, scores, _, _ = taiwan[1:]
    ks = evaluation.ks_statistic(y, scores)
    assert ks["statistic"] == pytest.approx(
        stats.ks_2samp(scores[y == 1], scores[y == 0]).statistic
    )
    gap = (scores[y == 1] >= ks["score"]).mean() - (scores[y == 0] >= ks["score"]).mean()
    assert gap == pytest.approx(ks["statistic"])
    assert evaluation.ks_statistic(np.zeros(5), scores[:5]) is None


def test_gains_rows_riskiest_first(taiwan):
    _, _, _, y, scores, _, _ = taiwan
    gains = evaluation.gains_table(y, scores)
    order = np.argsort(-scores, kind="stable")
    pieces = np.array_split(order, 10)  # 2000 rows: ten equal deciles either way
    assert len(gains) == 10
    total = 0
    for row, piece in zip(gains, pieces, strict=True):
        total += y[piece].sum()
        assert row["count"] == len(piece) == 200
        assert row["positives"] == y[piece].sum()
        assert row["bad_rate"] == pytest.approx(y[piece].mean())
        assert row["lift"] == pytest.approx(y[piece].mean() / y.mean())
        assert row["cumulative_capture"] == pytest.approx(total / y.sum())
        assert (row["min_score"], row["max_score"]) == pytest.approx(
            (scores[piece].min(), scores[piece].max())
        )
    assert gains[0]["bad_rate"] > gains[-1]["bad_rate"]


def test_decile_bounds_split_rows_evenly():
    for n in (0, 1, 7, 10, 13, 99, 101):
        bounds = evaluation.decile_bounds(n)
        sizes = np.diff(bounds)
        assert bounds[0] == 0 and bounds[-1] == n and len(bounds) == 11
        assert sizes.min() >= 0 and sizes.max() - sizes.min() <= 1
        # row p (0 = riskiest) falls in decile floor(10 p / n)
        deciles = [p * 10 // n for p in range(n)]
        assert list(sizes) == [deciles.count(i) for i in range(10)]
    small = evaluation.gains_table(np.array([1, 0, 0]), np.array([0.9, 0.2, 0.1]))
    assert [r["count"] for r in small] == [1, 1, 1]
    assert small[0]["lift"] == pytest.approx(3.0)
    assert evaluation.gains_table(np.zeros(3), np.array([0.3, 0.2, 0.1]))[0]["lift"] is None


def test_calibration_and_brier_as_scikit_learn(taiwan):
    _, _, _, y, scores, _, _ = taiwan
    observed, predicted = calibration_curve(y, scores, n_bins=10, strategy="quantile")
    table = evaluation.calibration_table(y, scores)
    assert [r["observed_rate"] for r in table] == pytest.approx(list(observed))
    assert [r["mean_score"] for r in table] == pytest.approx(list(predicted))
    assert sum(r["count"] for r in table) == len(y)
    assert [r["bin"] for r in table] == list(range(1, len(table) + 1))
    report = evaluation.credit_report(y, scores, None)
    assert report["brier"] == pytest.approx(metrics.brier_score_loss(y, scores))
    assert report["gini"] == pytest.approx(2 * metrics.roc_auc_score(y, scores) - 1)
    assert "score_psi" not in report


def manual_psi(expected, actual):
    edges = np.unique(np.percentile(expected, np.arange(0, 101, 10)))[1:-1]
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    e = np.maximum(np.histogram(expected, bins)[0] / len(expected), 1e-4)
    a = np.maximum(np.histogram(actual, bins)[0] / len(actual), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def test_psi_of_scores(taiwan):
    _, _, _, _, scores, train_scores, _ = taiwan
    psi = evaluation.psi(train_scores, scores)
    assert psi["value"] == pytest.approx(manual_psi(train_scores, scores))
    assert sum(psi["expected_share"]) == pytest.approx(1) and len(psi["edges"]) == 9
    assert evaluation.psi(train_scores, train_scores)["value"] == pytest.approx(0, abs=1e-12)
    shifted = evaluation.psi(train_scores, np.clip(scores * 2.5, 0, 1))
    assert shifted["value"] == pytest.approx(manual_psi(train_scores, np.clip(scores * 2.5, 0, 1)))
    assert shifted["verdict"] == "major shift" and psi["verdict"] == "stable"
    middle = evaluation.psi(train_scores, np.clip(scores * 1.3, 0, 1))
    assert 0.1 <= middle["value"] < 0.25 and middle["verdict"] == "moderate shift"
    report = evaluation.credit_report(taiwan[3], scores, train_scores)
    assert report["score_psi"]["value"] == pytest.approx(psi["value"])


def test_shap_importance_mean_absolute(taiwan):
    booster, _, X, _, _, _, names = taiwan
    shap = review.contributions(booster, X)
    importance = evaluation.shap_importance(shap, names)
    mean = np.abs(booster.predict(xgb.DMatrix(X, feature_names=names), pred_contribs=True))
    mean = mean[:, :-1].mean(axis=0)
    assert list(importance) == [names[j] for j in np.argsort(-mean, kind="stable")]
    assert [importance[n] for n in names] == pytest.approx(list(mean), rel=1e-5)
    three = np.stack([shap, -2 * shap], axis=1)  # a multi-class shape: rows x classes x (f + 1)
    both = evaluation.shap_importance(three, names)
    assert both[names[0]] == pytest.approx(1.5 * importance[names[0]], rel=1e-5)


def test_objective_advice():
    labels = np.array([0, 1, 1, 0], dtype=np.float32)
    advice = evaluation.objective_advice("multi:softmax", 10, labels, ["good", "bad"])
    assert advice["classes_found"] == ["good", "bad"] and advice["num_class"] == 10
    assert "binary:logistic" in advice["message"] and "label has 2: good, bad" in advice["message"]
    assert evaluation.objective_advice("multi:softprob", 2, labels, None) is None
    assert evaluation.objective_advice("binary:logistic", 0, labels, None) is None
    three = evaluation.objective_advice("multi:softprob", 5, np.array([0, 1, 2]), None)
    assert three["classes_found"] == ["0", "1", "2"] and "Set num_class=3" in three["message"]
    assert "binary:logistic" not in three["message"]
    assert evaluation.objective_advice("multi:softprob", 3, np.array([0, 1, 2]), None) is None


def test_bias_groups_against_pandas(taiwan):
    _, held, _, y, scores, _, _ = taiwan
    threshold = 0.3
    for column, cuts in (("SEX", ()), ("AGE", (30.0, 45.0))):
        report = bias.bias_report(y, scores, threshold, held[column].to_numpy(), cuts)
        frame = pd.DataFrame({"y": y, "flag": scores >= threshold, "v": held[column]})
        if cuts:
            labels = ["< 30", "30 to < 45", ">= 45"]
            frame["g"] = pd.cut(frame.v, [-np.inf, 30, 45, np.inf], right=False, labels=labels)
        else:
            frame["g"] = frame.v.astype(str)
        groups = frame.groupby("g", observed=True)
        assert list(report["groups"]) == [str(g) for g in groups.groups]
        for name, part in groups:
            got = report["groups"][str(name)]
            assert got["count"] == len(part)
            assert got["positive_rate"] == pytest.approx(part.flag.mean())
            assert got["default_rate"] == pytest.approx(part.y.mean())
            assert got["tpr"] == pytest.approx(part.flag[part.y == 1].mean())
            assert got["fpr"] == pytest.approx(part.flag[part.y == 0].mean())
        approval = 1 - groups.flag.mean()
        good = 1 - groups.apply(lambda p: p.flag[p.y == 0].mean(), include_groups=False)
        assert report["disparate_impact"] == pytest.approx(approval.min() / approval.max())
        assert report["disparate_impact_groups"] == [str(approval.idxmin()), str(approval.idxmax())]
        assert report["statistical_parity_difference"] == pytest.approx(
            approval.min() - approval.max()
        )
        assert report["equal_opportunity_difference"] == pytest.approx(good.min() - good.max())
        assert report["rows"] == len(y) and report["threshold"] == threshold
        rule = "pass" if report["disparate_impact"] >= 0.8 else "fail"
        assert report["four_fifths_rule"] == rule


def test_bias_edge_cases():
    y = np.array([1, 0, 0, 1, 0])
    scores = np.array([0.9, 0.1, 0.6, 0.2, 0.1])
    values = np.array(["a", "a", "b", None, "b"], dtype=object)
    report = bias.bias_report(y, scores, 0.5, values)
    assert list(report["groups"]) == ["a", "b", "missing"]
    assert report["groups"]["missing"] == {
        "count": 1,
        "positive_rate": 0.0,
        "default_rate": 1.0,
        "tpr": 0.0,
        "fpr": None,
    }
    assert report["groups"]["b"]["tpr"] is None
    # approvals: a 1/2, b 1/2, missing 1: DI = 0.5 / 1
    assert report["disparate_impact"] == pytest.approx(0.5)
    assert report["four_fifths_rule"] == "fail"
    everyone_refused = bias.bias_report(y, np.ones(5), 0.5, values)
    assert (
        everyone_refused["disparate_impact"] is None
        and everyone_refused["four_fifths_rule"] is None
    )
    one = bias.bias_report(y, scores, 0.5, np.array(["x"] * 5))
    assert one["disparate_impact"] is None and one["statistical_parity_difference"] is None
    labels, order = bias.group_labels(
        np.array([24, 25, np.nan, 60, "n/a", 39.9], dtype=object), (25, 40, 60)
    )
    assert order == ["< 25", "25 to < 40", ">= 60", "missing"]
    assert list(labels) == ["< 25", "25 to < 40", "missing", ">= 60", "missing", "25 to < 40"]
    labels, order = bias.group_labels(np.array([2.0, 1.0, 2.0, np.nan, " x ", ""], dtype=object))
    assert order == ["1", "2", "x", "missing"] and labels[-1] == "missing"


def test_parse_protected_columns():
    parsed = bias.parse_columns("SEX, AGE:25,40,60 ,EDUCATION")
    assert parsed == (
        bias.Protected("SEX"),
        bias.Protected("AGE", (25.0, 40.0, 60.0)),
        bias.Protected("EDUCATION"),
    )
    assert bias.parse_columns("AGE:30") == (bias.Protected("AGE", (30.0,)),)
    assert bias.parse_columns("SEX,2") == (bias.Protected("SEX"), bias.Protected("2"))
    for bad, why in (
        ("AGE:", "numeric cut points"),
        ("AGE:x", "numeric cut points"),
        ("AGE:inf", "numeric cut points"),
        ("AGE:40,30", "increasing"),
        ("AGE:30,30", "increasing"),
        ("SEX,,AGE", "comma-separated"),
        (":3", "comma-separated"),
        ("SEX,SEX", "once"),
    ):
        with pytest.raises(ValueError, match=why):
            bias.parse_columns(bad)


def test_monotone_check_finds_what_a_row_by_row_loop_finds(taiwan):
    booster, _, X, _, _, _, names = taiwan
    sample = X[:200]
    predict = lambda rows: booster.inplace_predict(rows, validate_features=False)  # noqa: E731
    constraints = {"PAY_0": 1, "LIMIT_BAL": -1, "AGE": 1}
    results = monotone.check(predict, sample, names, constraints, ["q"] * len(names))
    assert [r["feature"] for r in results] == list(constraints)
    for result in results:
        column, direction = names.index(result["feature"]), result["direction"]
        grid = np.array(result["grid"], dtype=np.float32)
        assert grid[0] == sample[:, column].min() and grid[-1] == sample[:, column].max()
        against, worst, means = 0, 0.0, np.zeros(len(grid))
        for row in sample:
            varied = np.tile(row, (len(grid), 1))
            varied[:, column] = grid
            curve = predict(varied)
            means += curve / len(sample)
            steps = np.diff(curve) * direction
            against += bool((steps < 0).any())
            worst = max(worst, float(-steps.min()))
        assert result["rows"] == 200 and result["rows_against"] == against
        assert result["largest_step_against"] == pytest.approx(max(worst, 0.0))
        assert result["holds"] == (against == 0)
        assert result["mean_score"] == pytest.approx(list(means), rel=1e-5)
    # an unconstrained model is not monotone everywhere: the check can fail
    assert not all(r["holds"] for r in results)


def test_monotone_names_and_edge_cases():
    names = ["PAY_0", "LIMIT_BAL", "EDU"]
    with pytest.raises(UserError, match="'PAY0', which is not a feature; did you mean 'PAY_0'"):
        monotone.check_names({"PAY0": 1}, names)
    with pytest.raises(UserError, match=r"'zzz', which is not a feature \(features:"):
        monotone.check_names({"zzz": 1}, names)
    monotone.check_names({"PAY_0": 1}, names)
    monotone.check_names((1, 0, -1), names)
    assert monotone.by_name((1, 0, -1), names) == {"PAY_0": 1, "EDU": -1}
    assert monotone.by_name({"PAY_0": 0, "EDU": -1}, names) == {"EDU": -1}
    assert monotone.by_name(None, names) == {}
    assert monotone.by_name((2,), names) == {"PAY_0": 1}
    X = np.array([[1, 5, 0], [2, 5, 1], [3, 5, np.nan]], dtype=np.float32)
    predict = lambda rows: rows[:, 0] - rows[:, 1]  # noqa: E731
    out = monotone.check(predict, X, names, {"PAY_0": 1, "LIMIT_BAL": 1, "EDU": 1}, ["q", "q", "c"])
    assert out[0]["holds"] is True and out[0]["grid"] == [1.0, 2.0, 3.0]
    assert out[1]["holds"] is None and "not checked" in out[1]["reason"]
    assert out[2]["holds"] is None
    falling = monotone.check(predict, X, names, {"PAY_0": -1}, ["q"] * 3)[0]
    assert falling["holds"] is False and falling["rows_against"] == 3
    assert falling["largest_step_against"] == pytest.approx(1.0)
    assert list(monotone.grid(np.array([np.nan, np.nan]))) == []
    assert len(monotone.grid(np.arange(100, dtype=np.float32))) == monotone.GRID_POINTS


def test_bottom_k_sample_keeps_the_smallest_keys():
    rng = np.random.default_rng(5)
    X = np.arange(50, dtype=np.float32).reshape(25, 2)
    keys = rng.random(25)
    kept, kept_keys = np.empty((0, 2), np.float32), np.empty(0)
    for start in range(0, 25, 7):
        kept, kept_keys = review.keep_sample(
            kept, kept_keys, X[start : start + 7], keys[start : start + 7], 10
        )
    assert sorted(kept_keys) == sorted(np.sort(keys)[:10])
    assert sorted(kept[:, 0]) == sorted(X[np.argsort(keys)[:10], 0])
    few, _ = review.keep_sample(np.empty((0, 2)), np.empty(0), X[:3], keys[:3], 10)
    assert len(few) == 3


def test_dense_marks_absent_entries_missing():
    import scipy.sparse as sp

    matrix = sp.csr_matrix(
        (np.array([1.0, 0.0]), (np.array([0, 1]), np.array([1, 0]))), shape=(2, 3)
    )
    out = review.dense(matrix)
    assert out[0, 1] == 1 and out[1, 0] == 0 and np.isnan(out[0, 0]) and np.isnan(out[1, 2])
    assert review.dense(np.ones((2, 2))).dtype == np.float32


def test_reasons_match_booster_contributions(taiwan):
    booster, _, X, _, _, _, names = taiwan
    shap = booster.predict(xgb.DMatrix(X, feature_names=names), pred_contribs=True)
    schema = formats.Schema("csv-header", names, ["q"] * len(names))
    got = reasons.top_reasons(shap, X, schema, 3)
    for i in range(len(X)):
        positive = [j for j in np.argsort(-shap[i, :-1], kind="stable") if shap[i, j] > 0][:3]
        assert [r["feature"] for r in got[i]] == [names[j] for j in positive]
        assert [np.float32(r["contribution"]) for r in got[i]] == [shap[i, j] for j in positive]
        assert [r["value"] for r in got[i]] == [int(X[i, j]) for j in positive]
    column = reasons.as_column(got)
    assert column.dtype == object and column.shape == (len(X),) and column[5] == got[5]
    assert json.loads(json.dumps(got[0])) == got[0]


def test_summary_line():
    result = {
        "roc_auc": 0.8,
        "ks": {"statistic": 0.5, "score": 0.3},
        "gini": 0.6,
        "score_psi": {"value": 0.01},
        "accuracy": 0.9,
    }
    line = review.summary(result)
    assert line == (
        "roc_auc=0.8000, gini=0.6000, ks=0.5000 (at score 0.3000), accuracy=0.9000, "
        "score_psi=0.0100"
    )
