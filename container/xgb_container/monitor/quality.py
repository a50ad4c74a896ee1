"""Model quality once labels arrive: ground truth joined to captured predictions by event id.

A drop in ROC AUC is flagged when it exceeds ``model_quality.auc_drop_threshold`` and is
also beyond chance: larger than 2.33 standard errors (one-sided 1 %) of the difference,
from Hanley and McNeil's formula for both the baseline's and the current AUC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import formats
from ..errors import UserError
from . import stats
from .collect import Current, safe_reason
from .config import Reference

Z_ONE_SIDED_1PCT = 2.33


def join(folder: Path, current: Current, classes: list[str] | None) -> dict[str, Any]:
    """Labels and scores of the events found in both; counts of what did not join."""
    labels, scores = [], []
    counts = {"lines": 0, "malformed": 0, "unmatched": 0, "row_count_mismatch": 0}
    examples: list[str] = []
    for where, line in formats.capture.iter_lines(folder):
        counts["lines"] += 1
        try:
            event, y = formats.capture.parse_ground_truth_line(line, classes)
        except UserError as exc:
            counts["malformed"] += 1
            if len(examples) < 10:
                examples.append(f"{where}: {safe_reason(str(exc))}")
            continue
        predicted = current.predictions.get(event)
        if predicted is None:
            counts["unmatched"] += 1
        elif predicted.size != y.size:
            counts["row_count_mismatch"] += 1
        else:
            labels.append(y)
            scores.append(predicted)
    y = np.concatenate(labels) if labels else np.empty(0)
    s = np.concatenate(scores) if scores else np.empty(0)
    return {"y": y, "scores": s, "counts": counts, "examples": examples}


def evaluate(folder: Path, current: Current, reference: Reference) -> tuple[dict, list[dict]]:
    """The model-quality section of the report and its violations."""
    joined = join(folder, current, reference.schema.classes)
    y, scores = joined["y"].astype(int), joined["scores"]
    report: dict[str, Any] = {
        "ground_truth": {**joined["counts"], "joined_rows": int(y.size)},
        "malformed_examples": joined["examples"],
        "threshold": reference.threshold,
    }
    if y.size == 0:
        report["note"] = "no ground truth joined a captured prediction (eventId / inferenceId)"
        return report, []
    auc = stats.roc_auc(y, scores)
    report.update(
        {
            "rows": int(y.size),
            "positives": int((y == 1).sum()),
            "roc_auc": auc,
            "ks": stats.ks_statistic(y, scores),
            "confusion_matrix": stats.confusion(y, scores, reference.threshold),
        }
    )
    base = (reference.score or {}).get("model_quality") or {}
    report["baseline"] = {k: base.get(k) for k in ("rows", "roc_auc", "ks", "confusion_matrix")}
    config = reference.settings.get("model_quality", {})
    minimum = int(config.get("min_labels", 200))
    if auc is None or base.get("roc_auc") is None:
        report["note"] = "AUC needs both classes in the labels and in the baseline"
        return report, []
    if y.size < minimum:
        report["note"] = f"{y.size} labelled rows: the drop is judged from {minimum}"
        return report, []
    drop = base["roc_auc"] - auc
    base_pos = int(
        base.get("confusion_matrix", {}).get("tp", 0)
        + base.get("confusion_matrix", {}).get("fn", 0)
    )
    base_neg = int(base.get("rows", 0)) - base_pos
    error = stats.auc_standard_error(auc, report["positives"], y.size - report["positives"])
    if base_pos > 0 and base_neg > 0:
        error = float(
            np.hypot(error, stats.auc_standard_error(base["roc_auc"], base_pos, base_neg))
        )
    limit = float(config.get("auc_drop_threshold", 0.05))
    report["roc_auc_drop"] = drop
    report["roc_auc_drop_standard_error"] = error
    if drop > limit and drop > Z_ONE_SIDED_1PCT * error:
        description = (
            f"ROC AUC {auc:.4f} is {drop:.4f} below the baseline's {base['roc_auc']:.4f} "
            f"(threshold {limit:g}, standard error {error:.4f}, {y.size} labelled rows)"
        )
        return report, [
            {
                "feature_name": "model_quality",
                "constraint_check_type": "model_quality_check",
                "description": description,
            }
        ]
    return report, []
