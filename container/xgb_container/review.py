"""After training: each channel's evaluation with its review data, and the HTML report.

The metrics come from the evaluation matrices (every host's rows). SHAP values, monotone
checks and the bias report need raw feature rows and side columns, which XGBoost's training
matrices do not keep: they read the channel again through ``formats.iter_chunks``, scoring
every row and keeping a bounded random sample of feature rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import xgboost as xgb

from . import bias, evaluation, formats, monotone, report
from .errors import UserError
from .hyperparameters import Hyperparameters
from .paths import Layout

SAMPLE_ROWS = 2000  # rows kept for SHAP values
MONOTONE_ROWS = 500  # rows of the sample each monotone check varies
CHUNK_ROWS = 1 << 16


@dataclass
class Rows:
    """One pass over a channel: every row's score, label and side values, and a sample."""

    scores: np.ndarray
    y: np.ndarray
    side: dict[str, np.ndarray] = field(default_factory=dict)
    sample: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))


def dense(X: np.ndarray | sp.csr_matrix) -> np.ndarray:
    """A float32 array; entries a sparse matrix leaves out are missing (NaN), as for XGBoost."""
    if not sp.issparse(X):
        return np.asarray(X, dtype=np.float32)
    coo = sp.coo_matrix(X)
    out = np.full(coo.shape, np.nan, dtype=np.float32)
    out[coo.row, coo.col] = coo.data
    return out


def keep_sample(
    kept: np.ndarray, kept_keys: np.ndarray, X: np.ndarray, keys: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """Bottom-k sampling: of the rows seen so far, those with the ``limit`` smallest keys."""
    rows = np.concatenate([kept, X]) if kept.size else X
    all_keys = np.concatenate([kept_keys, keys])
    if len(all_keys) <= limit:
        return rows, all_keys
    chosen = np.argpartition(all_keys, limit - 1)[:limit]
    return rows[chosen], all_keys[chosen]


def score(booster: xgb.Booster, X: np.ndarray | sp.csr_matrix, objective: str) -> np.ndarray:
    """The model's scores of raw rows (probabilities for binary objectives)."""
    values = booster.inplace_predict(X, validate_features=False)
    return 1.0 / (1.0 + np.exp(-values)) if objective == "binary:logitraw" else values


def contributions(booster: xgb.Booster, X: np.ndarray) -> np.ndarray:
    """SHAP values of ``X``: one column per feature, then the bias."""
    matrix = xgb.DMatrix(
        X,
        feature_names=booster.feature_names,
        feature_types=booster.feature_types,
        enable_categorical=True,
    )
    return booster.predict(matrix, pred_contribs=True)


def read_rows(
    layout: Layout, hp: Hyperparameters, schema: formats.Schema, channel: str, booster, objective
) -> Rows | None:
    """Score every row of ``channel`` and keep its side columns and a sample of its rows."""
    content_type = (layout.input_data_config().get(channel) or {}).get("ContentType")
    side = tuple(p.name for p in hp.protected_columns)
    rng = np.random.default_rng(0)
    parts: list[Rows] = []
    kept, keys = np.empty((0, len(schema.feature_names)), np.float32), np.empty(0)
    for chunk in formats.iter_chunks(
        layout.channel_dir(channel),
        content_type,
        label_column=hp.label_column,
        positive_label=hp.positive_label,
        csv_weights=hp.csv_weights,
        schema=schema,
        chunk_rows=CHUNK_ROWS,
        exclude_columns=hp.exclude_columns,
        side_columns=side,
    ):
        parts.append(Rows(score(booster, chunk.X, objective), chunk.y, chunk.columns))
        kept, keys = keep_sample(
            kept, keys, dense(chunk.X), rng.random(chunk.num_rows), SAMPLE_ROWS
        )
    if not parts:
        return None
    return Rows(
        np.concatenate([p.scores for p in parts]),
        np.concatenate([p.y for p in parts]),
        {n: np.concatenate([p.side[n] for p in parts]) for n in side},
        kept,
    )


def preflight(hp: Hyperparameters, params: dict[str, Any], train: formats.Dataset) -> None:
    """Checks before training: constrained and protected names, and the objective's fit."""
    names = train.schema.feature_names
    monotone.check_names(params.get("monotone_constraints"), names)
    for protected in hp.protected_columns:
        if protected.name not in names and protected.name not in hp.exclude_columns:
            raise UserError(
                f"protected column {protected.name!r} is not a column of the train channel "
                f"(features: {names}; excluded: {list(hp.exclude_columns)})"
            )
    objective = str(params.get("objective", "reg:squarederror"))
    num_class = int(params.get("num_class", 0) or 0)
    advice = evaluation.objective_advice(objective, num_class, train.y, train.schema.classes)
    if advice:
        print(f"Warning: {advice['message']}", flush=True)


def review_rows(
    rows: Rows,
    booster: xgb.Booster,
    hp: Hyperparameters,
    schema: formats.Schema,
    objective: str,
    threshold: float,
    check_monotone: bool,
) -> tuple[dict[str, Any], np.ndarray]:
    """The report keys that need raw rows; and the SHAP values of the sample."""
    shap = contributions(booster, rows.sample)
    out: dict[str, Any] = {
        "shap_rows": len(rows.sample),
        "shap_importance": evaluation.shap_importance(shap, schema.feature_names),
    }
    if evaluation.is_binary(objective) and hp.protected_columns:
        out["bias"] = {
            p.name: bias.bias_report(rows.y, rows.scores, threshold, rows.side[p.name], p.cuts)
            for p in hp.protected_columns
        }
    constraints = monotone.by_name(hp.params.get("monotone_constraints"), schema.feature_names)
    if check_monotone and constraints and not evaluation.is_multiclass(objective):
        out["monotone_checks"] = monotone.check(
            lambda X: score(booster, X, objective),
            rows.sample[:MONOTONE_ROWS],
            schema.feature_names,
            constraints,
            schema.feature_types,
        )
    return out, shap


def write_all(
    layout: Layout,
    hp: Hyperparameters,
    booster: xgb.Booster,
    matrices: dict[str, xgb.DMatrix],
    objective: str,
    threshold: float,
    schema: formats.Schema,
) -> None:
    """``evaluation-<channel>.json`` (and pictures) for validation and test, and report.html."""
    binary = evaluation.is_binary(objective)
    train_scores = (
        evaluation.probabilities(booster, matrices["train"], objective) if binary else None
    )
    num_class = int(hp.params.get("num_class", 0) or 0)
    advice = evaluation.objective_advice(
        objective, num_class, matrices["train"].get_label(), schema.classes
    )
    sections = []
    for channel in ("validation", "test"):
        if channel not in matrices:
            continue
        result, scores = evaluation.evaluate(
            booster, matrices[channel], objective, threshold, schema.classes, train_scores
        )
        if advice:
            result["objective_advice"] = advice
        rows = read_rows(layout, hp, schema, channel, booster, objective)
        shap, sample = None, None
        if rows is not None:
            extra, shap = review_rows(
                rows, booster, hp, schema, objective, threshold, check_monotone=not sections
            )
            result.update(extra)
            sample = rows.sample
        y = matrices[channel].get_label()
        evaluation.write(
            layout.output_data_dir, channel, result, y, scores, threshold, schema.classes
        )
        print(f"Evaluation of {channel}: {summary(result)}", flush=True)
        sections.append(report.Section(channel, result, y, scores, shap, sample))
    if sections:
        path = layout.output_data_dir / report.FILE_NAME
        report.write(path, sections, schema)
        print(f"Model review report: {path}", flush=True)


def summary(result: dict[str, Any]) -> str:
    """The headline numbers of one channel's evaluation, for the log."""
    keys = ("roc_auc", "pr_auc", "gini", "brier", "accuracy", "rmse")
    parts = [f"{k}={result[k]:.4f}" for k in keys if isinstance(result.get(k), float)]
    if result.get("ks"):
        parts.insert(
            2, f"ks={result['ks']['statistic']:.4f} (at score {result['ks']['score']:.4f})"
        )
    if "score_psi" in result:
        parts.append(f"score_psi={result['score_psi']['value']:.4f}")
    return ", ".join(parts)
