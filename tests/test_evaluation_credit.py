"""The credit evaluation of a German Credit job, checked against numbers computed here
independently (pandas, scipy, scikit-learn) from the model's own predictions and SHAP values."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from conftest import TEST_DIR, Job
from scipy import stats
from serve_harness import table_matrix
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

PROTECTED = "personal_status_and_sex"
AGE = "age_in_years"
CONSTRAINED = {"duration_in_month": 1, "credit_amount": 1}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The bundled job with a protected column left out of the features, age bands and
    two monotone constraints."""
    base = tmp_path_factory.mktemp("credit") / "ml"
    shutil.copytree(TEST_DIR, base)
    job = Job(base)
    hp = json.loads((base / "input/config/hyperparameters.json").read_text())
    hp.update(
        protected_columns=f"{PROTECTED},{AGE}:25,40,60",
        exclude_columns=PROTECTED,
        monotone_constraints=json.dumps(CONSTRAINED),
    )
    job.write_config("hyperparameters", hp)
    done = job.train()
    assert done.returncode == 0, done.stderr + job.failure
    return job, done


def load_booster(job: Job) -> xgb.Booster:
    return xgb.Booster(model_file=bytearray((job.model_dir / "xgboost-model").read_bytes()))


def channel_frame(job: Job, channel: str) -> pd.DataFrame:
    return pd.read_csv(next((job.base / "input" / "data" / channel).glob("*.csv")))


def model_scores(job: Job, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, xgb.DMatrix]:
    """Labels and the model's own scores of a raw table, encoded here from metadata.json."""
    meta = json.loads((job.model_dir / "metadata.json").read_text())
    matrix = table_matrix(meta, frame)
    booster = load_booster(job)
    y = (frame["creditability"] == "bad").to_numpy(dtype=int)
    return y, booster.predict(matrix), matrix


@pytest.fixture(scope="module")
def validation(run):
    job, _ = run
    frame = channel_frame(job, "validation")
    y, scores, matrix = model_scores(job, frame)
    return job.evaluation("validation"), frame, y, scores, matrix


def test_excluded_column_is_not_a_feature(run):
    job, _ = run
    meta = json.loads((job.model_dir / "metadata.json").read_text())
    assert PROTECTED not in meta["feature_names"] and AGE in meta["feature_names"]
    assert len(meta["feature_names"]) == 19


def test_ks_and_gini(validation):
    report, _, y, scores, _ = validation
    ks = stats.ks_2samp(scores[y == 1], scores[y == 0]).statistic
    assert report["ks"]["statistic"] == pytest.approx(ks, abs=1e-6)
    at = report["ks"]["score"]
    gap = (scores[y == 1] >= at).mean() - (scores[y == 0] >= at).mean()
    assert gap == pytest.approx(ks, abs=1e-6)
    u = stats.mannwhitneyu(scores[y == 1], scores[y == 0]).statistic
    auc = u / ((y == 1).sum() * (y == 0).sum())
    assert report["gini"] == pytest.approx(2 * auc - 1, abs=1e-6)


def test_gains_deciles(validation):
    report, _, y, scores, _ = validation
    rank = pd.Series(-scores).rank(method="first").to_numpy() - 1  # 0 = riskiest
    decile = np.floor(rank * 10 / len(y)).astype(int)
    gains = report["gains"]
    assert [g["decile"] for g in gains] == list(range(1, 11))
    captured = 0
    for g in gains:
        inside = decile == g["decile"] - 1
        captured += y[inside].sum()
        assert g["count"] == inside.sum() and g["positives"] == y[inside].sum()
        assert g["bad_rate"] == pytest.approx(y[inside].mean())
        assert g["lift"] == pytest.approx(y[inside].mean() / y.mean())
        assert g["cumulative_capture"] == pytest.approx(captured / y.sum())
        assert g["max_score"] == pytest.approx(scores[inside].max())
    assert gains[-1]["cumulative_capture"] == pytest.approx(1.0)


def test_brier_and_calibration(validation):
    report, _, y, scores, _ = validation
    assert report["brier"] == pytest.approx(brier_score_loss(y, scores), abs=1e-7)
    observed, predicted = calibration_curve(y, scores, n_bins=10, strategy="quantile")
    bins = report["calibration"]
    assert [b["observed_rate"] for b in bins] == pytest.approx(list(observed))
    assert [b["mean_score"] for b in bins] == pytest.approx(list(predicted), abs=1e-6)
    assert sum(b["count"] for b in bins) == len(y)


def test_score_psi_against_train(run, validation):
    job, _ = run
    report, _, _, scores, _ = validation
    _, train_scores, _ = model_scores(job, channel_frame(job, "train"))
    edges = np.unique(np.percentile(train_scores, np.arange(0, 101, 10)))[1:-1]
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    expected = np.histogram(train_scores, bins)[0] / len(train_scores)
    actual = np.histogram(scores, bins)[0] / len(scores)
    e, a = np.maximum(expected, 1e-4), np.maximum(actual, 1e-4)
    psi = report["score_psi"]
    assert psi["value"] == pytest.approx(np.sum((a - e) * np.log(a / e)), abs=1e-6)
    assert psi["actual_share"] == pytest.approx(list(actual))


def test_shap_importance_is_mean_absolute_shap(run, validation):
    report, _, _, _, matrix = validation
    shap = load_booster(run[0]).predict(matrix, pred_contribs=True)[:, :-1]
    mean = np.abs(shap).mean(axis=0)
    assert report["shap_rows"] == 150
    importance = report["shap_importance"]
    assert list(importance) == [matrix.feature_names[j] for j in np.argsort(-mean, kind="stable")]
    for j, name in enumerate(matrix.feature_names):
        assert importance[name] == pytest.approx(mean[j], rel=1e-5, abs=1e-7)


def bias_expected(frame, y, scores, groups, threshold=0.5):
    flagged = scores >= threshold
    out = {}
    for name, inside in groups.items():
        inside = inside.to_numpy() if hasattr(inside, "to_numpy") else inside
        out[name] = {
            "count": int(inside.sum()),
            "positive_rate": flagged[inside].mean(),
            "default_rate": y[inside].mean(),
            "tpr": flagged[inside & (y == 1)].mean(),
            "fpr": flagged[inside & (y == 0)].mean(),
        }
    return out


@pytest.mark.parametrize("column", [PROTECTED, AGE])
def test_bias_groups_and_disparate_impact(validation, column):
    report, frame, y, scores, _ = validation
    entry = report["bias"][column]
    if column == AGE:
        bands = pd.cut(frame[AGE], [-np.inf, 25, 40, 60, np.inf], right=False)
        names = ["< 25", "25 to < 40", "40 to < 60", ">= 60"]
        groups = {n: bands == b for n, b in zip(names, bands.cat.categories, strict=True)}
    else:
        groups = {v: frame[column] == v for v in sorted(frame[column].unique())}
    expected = bias_expected(frame, y, scores, groups)
    assert list(entry["groups"]) == list(expected)
    for name, want in expected.items():
        got = entry["groups"][name]
        assert got["count"] == want["count"]
        for key in ("positive_rate", "default_rate", "tpr", "fpr"):
            assert got[key] == pytest.approx(want[key]), (name, key)
    approval = {n: 1 - v["positive_rate"] for n, v in expected.items()}
    assert entry["disparate_impact"] == pytest.approx(
        min(approval.values()) / max(approval.values())
    )
    assert entry["statistical_parity_difference"] == pytest.approx(
        min(approval.values()) - max(approval.values())
    )
    good = {n: 1 - v["fpr"] for n, v in expected.items()}
    assert entry["equal_opportunity_difference"] == pytest.approx(
        min(good.values()) - max(good.values())
    )
    assert entry["four_fifths_rule"] == ("pass" if entry["disparate_impact"] >= 0.8 else "fail")


def test_monotone_checks_hold_and_are_measured(validation, run):
    report, frame, _, _, matrix = validation
    checks = {c["feature"]: c for c in report["monotone_checks"]}
    assert set(checks) == set(CONSTRAINED)
    booster = load_booster(run[0])
    X = matrix.get_data().toarray()
    X[~np.isfinite(X)] = np.nan
    for name, check in checks.items():
        assert check["holds"] is True and check["rows"] == 150 and check["rows_against"] == 0
        values = np.array(check["grid"], dtype=np.float32)
        assert values[0] == frame[name].min() and values[-1] == frame[name].max()
        column = matrix.feature_names.index(name)
        means = []
        for v in values:  # one value at a time, for every row
            varied = X.copy()
            varied[:, column] = v
            means.append(booster.inplace_predict(varied, validate_features=False).mean())
        assert check["mean_score"] == pytest.approx(means, rel=1e-5)
        assert np.all(np.diff(means) >= 0)


def test_log_prints_ks_gini_and_report_path(run, validation):
    job, done = run
    report = validation[0]
    line = next(x for x in done.stdout.splitlines() if x.startswith("Evaluation of validation"))
    assert f"ks={report['ks']['statistic']:.4f}" in line and f"gini={report['gini']:.4f}" in line
    assert f"Model review report: {job.base / 'output/data/report.html'}" in done.stdout
