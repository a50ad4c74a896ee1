"""Evaluating a trained model on a channel: the metrics of a credit model review, as JSON.

Every metric function is pure (arrays in, plain dicts out); ``write`` stores the report and
its two stand-alone pictures (``figures``). Scores are probabilities of the positive class
(the default, the "bad" outcome): higher is riskier.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn import metrics

from . import figures
from .outputs import write_text_atomic

DECILES = 10


def is_binary(objective: str) -> bool:
    return objective.startswith("binary:")


def is_multiclass(objective: str) -> bool:
    return objective.startswith("multi:")


def probabilities(booster: xgb.Booster, matrix: xgb.DMatrix, objective: str) -> np.ndarray:
    """Scores on the probability scale for binary objectives, raw predictions otherwise."""
    scores = booster.predict(matrix)
    if objective == "binary:logitraw":
        scores = 1.0 / (1.0 + np.exp(-scores))
    return scores


def f1_best_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the highest F1 (``score >= threshold`` is positive)."""
    if len(np.unique(y)) < 2:
        return 0.5
    precision, recall, thresholds = metrics.precision_recall_curve(y, scores)
    if thresholds.size == 0:
        return 0.5
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thresholds[int(np.argmax(f1))])


def at_threshold(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """Confusion matrix and the metrics that follow from it at one threshold."""
    predicted = (scores >= threshold).astype(int)
    tn, fp, fn, tp = metrics.confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    return {
        "threshold": float(threshold),
        "confusion_matrix": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        "accuracy": float(metrics.accuracy_score(y, predicted)),
        "precision": float(metrics.precision_score(y, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(y, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(y, predicted, zero_division=0)),
    }


def binary_report(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    both = len(np.unique(y)) == 2
    report: dict[str, Any] = {
        "positives": int((y == 1).sum()),
        "roc_auc": float(metrics.roc_auc_score(y, scores)) if both else None,
        "pr_auc": float(metrics.average_precision_score(y, scores)) if both else None,
        "at_threshold_0.5": at_threshold(y, scores, 0.5),
        "at_f1_best_threshold": at_threshold(y, scores, f1_best_threshold(y, scores)),
    }
    if threshold != 0.5:
        report["at_decision_threshold"] = at_threshold(y, scores, threshold)
    return report


def multiclass_report(y: np.ndarray, scores: np.ndarray, classes: list[str]) -> dict[str, Any]:
    predicted = scores.argmax(axis=1) if scores.ndim == 2 else scores.astype(int)
    labels = list(range(len(classes)))
    return {
        "confusion_matrix": metrics.confusion_matrix(y, predicted, labels=labels).tolist(),
        "accuracy": float(metrics.accuracy_score(y, predicted)),
        "precision_macro": float(
            metrics.precision_score(y, predicted, labels=labels, average="macro", zero_division=0)
        ),
        "recall_macro": float(
            metrics.recall_score(y, predicted, labels=labels, average="macro", zero_division=0)
        ),
        "f1_macro": float(
            metrics.f1_score(y, predicted, labels=labels, average="macro", zero_division=0)
        ),
    }


def regression_report(y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    if scores.ndim > 1:
        return {}
    return {
        "rmse": float(np.sqrt(metrics.mean_squared_error(y, scores))),
        "mae": float(metrics.mean_absolute_error(y, scores)),
        "r2": float(metrics.r2_score(y, scores)) if len(y) > 1 else None,
    }


def ks_statistic(y: np.ndarray, scores: np.ndarray) -> dict[str, float] | None:
    """The Kolmogorov-Smirnov statistic: the largest TPR - FPR, and the score where it occurs."""
    if len(np.unique(y)) < 2:
        return None
    fpr, tpr, thresholds = metrics.roc_curve(y, scores, drop_intermediate=False)
    best = int(np.argmax(tpr - fpr))
    return {"statistic": float(tpr[best] - fpr[best]), "score": float(thresholds[best])}


def decile_bounds(n: int, bins: int = DECILES) -> np.ndarray:
    """Start of each of ``bins`` near-equal slices of ``n`` ordered rows, then ``n``."""
    return -(-(np.arange(bins + 1) * n) // bins)


def gains_table(y: np.ndarray, scores: np.ndarray, bins: int = DECILES) -> list[dict[str, Any]]:
    """One row per score decile, riskiest first: counts, bad rate, share of positives, lift."""
    order = np.argsort(-scores, kind="stable")
    y_sorted, s_sorted = y[order], scores[order]
    total, rate = float(y.sum()), float(y.mean()) if len(y) else 0.0
    bounds = decile_bounds(len(y), bins)
    rows, captured = [], 0.0
    for i in range(bins):
        part, part_scores = y_sorted[bounds[i] : bounds[i + 1]], s_sorted[bounds[i] : bounds[i + 1]]
        if part.size == 0:
            continue
        positives = float(part.sum())
        captured += positives
        bad_rate = positives / part.size
        rows.append(
            {
                "decile": i + 1,
                "count": int(part.size),
                "positives": int(positives),
                "min_score": float(part_scores.min()),
                "max_score": float(part_scores.max()),
                "bad_rate": bad_rate,
                "cumulative_capture": captured / total if total else None,
                "lift": bad_rate / rate if rate else None,
            }
        )
    return rows


def calibration_table(
    y: np.ndarray, scores: np.ndarray, bins: int = DECILES
) -> list[dict[str, Any]]:
    """Mean score against the observed default rate in ``bins`` score-quantile bins."""
    edges = np.quantile(scores, np.linspace(0, 1, bins + 1))
    ids = np.searchsorted(edges[1:-1], scores)
    rows = []
    for i in range(bins):
        inside = ids == i
        if inside.any():
            rows.append(
                {
                    "bin": i + 1,
                    "count": int(inside.sum()),
                    "mean_score": float(scores[inside].mean()),
                    "observed_rate": float(y[inside].mean()),
                }
            )
    return rows


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = DECILES) -> dict[str, Any]:
    """Population stability index of ``actual`` against ``expected`` (train) scores.

    Bins are the deciles of ``expected``; a bin's share is floored at 1e-4 so that an empty
    bin counts as a large shift instead of dividing by zero.
    """
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))[1:-1]
    floor = 1e-4
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=edges.size + 1)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=edges.size + 1)
    e_share = np.maximum(e / max(len(expected), 1), floor)
    a_share = np.maximum(a / max(len(actual), 1), floor)
    value = float(np.sum((a_share - e_share) * np.log(a_share / e_share)))
    verdict = "stable" if value < 0.1 else "moderate shift" if value < 0.25 else "major shift"
    return {
        "value": value,
        "verdict": verdict,
        "edges": [float(x) for x in edges],
        "expected_share": [float(x) for x in e / max(len(expected), 1)],
        "actual_share": [float(x) for x in a / max(len(actual), 1)],
    }


def credit_report(
    y: np.ndarray, scores: np.ndarray, train_scores: np.ndarray | None
) -> dict[str, Any]:
    """KS, Gini, gains, Brier score, calibration and score stability of a binary model."""
    both = len(np.unique(y)) == 2
    report: dict[str, Any] = {
        "ks": ks_statistic(y, scores),
        "gini": 2 * float(metrics.roc_auc_score(y, scores)) - 1 if both else None,
        "gains": gains_table(y, scores),
        "brier": float(np.mean((scores - y) ** 2)),
        "calibration": calibration_table(y, scores),
    }
    if train_scores is not None and len(train_scores):
        report["score_psi"] = psi(train_scores, scores)
    return report


def shap_importance(contributions: np.ndarray, names: list[str]) -> dict[str, float]:
    """Mean absolute SHAP value per feature, largest first (bias column dropped; for a
    multi-class model, averaged over the classes too)."""
    values = np.abs(contributions[..., :-1])
    mean = values.reshape(-1, values.shape[-1]).mean(axis=0)
    order = np.argsort(-mean, kind="stable")
    return {names[j]: float(mean[j]) for j in order}


def objective_advice(
    objective: str, num_class: int, labels: np.ndarray, classes: list[str] | None
) -> dict[str, Any] | None:
    """Advice when a multi-class objective is given a label with fewer classes than it trains."""
    if not is_multiclass(objective):
        return None
    present = sorted({int(v) for v in np.unique(labels)})
    if num_class <= len(present):
        return None
    names = [classes[i] if classes and i < len(classes) else str(i) for i in present]
    text = (
        f"objective {objective} with num_class={num_class} trains {num_class} classes, but the "
        f"label has {len(present)}: {', '.join(names)}."
    )
    if len(present) == 2:
        text += (
            " Use objective=binary:logistic: it gives a probability of default per applicant, "
            "ROC AUC, KS, Gini, gains and calibration tables, a decision threshold and "
            "adverse-action reasons."
        )
    else:
        text += f" Set num_class={len(present)}."
    return {"message": text, "classes_found": names, "num_class": num_class}


def class_names(classes: list[str] | None, count: int) -> list[str]:
    return list(classes) if classes and len(classes) == count else [str(i) for i in range(count)]


def evaluate(
    booster: xgb.Booster,
    matrix: xgb.DMatrix,
    objective: str,
    threshold: float,
    classes: list[str] | None,
    train_scores: np.ndarray | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """The evaluation report of one channel and the scores it was computed from.

    ``train_scores`` (the model's scores of the train channel) gives the score PSI.
    """
    y = matrix.get_label()
    scores = probabilities(booster, matrix, objective)
    return report(booster, y, scores, objective, threshold, classes, train_scores), scores


def report(
    booster: xgb.Booster,
    y: np.ndarray,
    scores: np.ndarray,
    objective: str,
    threshold: float,
    classes: list[str] | None,
    train_scores: np.ndarray | None = None,
) -> dict[str, Any]:
    """The evaluation report of labels ``y`` and the model's ``scores`` (plain arrays, e.g.
    gathered from every host: no feature matrix needed)."""
    report: dict[str, Any] = {"rows": int(len(y)), "objective": objective}
    if is_binary(objective):
        report.update(binary_report(y.astype(int), scores, threshold))
        report.update(credit_report(y.astype(int), scores, train_scores))
    elif is_multiclass(objective):
        count = scores.shape[1] if scores.ndim == 2 else int(max(y.max(), scores.max())) + 1
        names = class_names(classes, count)
        report["classes"] = names
        report.update(multiclass_report(y.astype(int), scores, names))
    else:
        report.update(regression_report(y, scores))
    gain = booster.get_score(importance_type="gain")
    report["feature_importance_gain"] = dict(sorted(gain.items(), key=lambda kv: -kv[1]))
    return report


def write(
    folder: Path,
    channel: str,
    report: dict[str, Any],
    y: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    classes: list[str] | None,
) -> list[Path]:
    """``evaluation-<channel>.json`` plus its pictures; the paths written."""
    paths = [folder / f"evaluation-{channel}.json"]
    write_text_atomic(paths[0], json.dumps(report, indent=2) + "\n")
    objective = report["objective"]
    if is_binary(objective):
        if report["roc_auc"] is not None:
            paths.append(folder / f"roc-curve-{channel}.png")
            figures.save(figures.roc(y, scores, channel), paths[-1])
        key = "at_decision_threshold" if "at_decision_threshold" in report else "at_threshold_0.5"
        cm = report[key]["confusion_matrix"]
        counts = np.array([[cm["tn"], cm["fp"]], [cm["fn"], cm["tp"]]])
        title = f"{channel}, threshold {report[key]['threshold']:.3g}"
        paths.append(folder / f"confusion-matrix-{channel}.png")
        figures.save(figures.confusion(counts, class_names(classes, 2), title), paths[-1])
    elif is_multiclass(objective):
        counts = np.array(report["confusion_matrix"])
        paths.append(folder / f"confusion-matrix-{channel}.png")
        figures.save(figures.confusion(counts, report["classes"], channel), paths[-1])
    return paths
