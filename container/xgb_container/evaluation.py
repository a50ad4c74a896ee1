"""Evaluating a trained model on a channel: metrics as JSON, ROC curve and confusion matrix as PNG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from matplotlib.figure import Figure
from sklearn import metrics

from .outputs import write_atomic, write_text_atomic


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


def class_names(classes: list[str] | None, count: int) -> list[str]:
    return list(classes) if classes and len(classes) == count else [str(i) for i in range(count)]


def evaluate(
    booster: xgb.Booster,
    matrix: xgb.DMatrix,
    objective: str,
    threshold: float,
    classes: list[str] | None,
) -> tuple[dict[str, Any], np.ndarray]:
    """The evaluation report of one channel and the scores it was computed from."""
    y = matrix.get_label()
    scores = probabilities(booster, matrix, objective)
    return report(booster, y, scores, objective, threshold, classes), scores


def report(
    booster: xgb.Booster,
    y: np.ndarray,
    scores: np.ndarray,
    objective: str,
    threshold: float,
    classes: list[str] | None,
) -> dict[str, Any]:
    """The evaluation report of labels ``y`` and the model's ``scores`` (plain arrays, e.g.
    gathered from every host: no feature matrix needed)."""
    report: dict[str, Any] = {"rows": int(len(y)), "objective": objective}
    if is_binary(objective):
        report.update(binary_report(y.astype(int), scores, threshold))
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


def roc_figure(y: np.ndarray, scores: np.ndarray, channel: str) -> Figure:
    fpr, tpr, _ = metrics.roc_curve(y, scores)
    auc = metrics.auc(fpr, tpr)
    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"model (AUC = {auc:.3f})", linewidth=2)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        title=f"ROC curve: {channel}",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def confusion_figure(matrix: np.ndarray, names: list[str], title: str) -> Figure:
    fig = Figure(figsize=(5, 4.5), dpi=100)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ticks = range(len(names))
    ax.set_xticks(ticks, names)
    ax.set_yticks(ticks, names)
    ax.set(xlabel="predicted", ylabel="actual", title=title)
    limit = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        color = "white" if count > limit else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=12)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: Path) -> None:
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png"))


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
            save_figure(roc_figure(y, scores, channel), paths[-1])
        key = "at_decision_threshold" if "at_decision_threshold" in report else "at_threshold_0.5"
        cm = report[key]["confusion_matrix"]
        counts = np.array([[cm["tn"], cm["fp"]], [cm["fn"], cm["tp"]]])
        title = f"{channel}, threshold {report[key]['threshold']:.3g}"
        paths.append(folder / f"confusion-matrix-{channel}.png")
        save_figure(confusion_figure(counts, class_names(classes, 2), title), paths[-1])
    elif is_multiclass(objective):
        counts = np.array(report["confusion_matrix"])
        paths.append(folder / f"confusion-matrix-{channel}.png")
        save_figure(confusion_figure(counts, report["classes"], channel), paths[-1])
    return paths
