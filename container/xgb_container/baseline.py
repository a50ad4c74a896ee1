"""The monitoring baseline written at training: ``model/baseline/statistics.json`` and
``model/baseline/constraints.json`` in Model Monitor's bring-your-own-container formats.

The train channel's profile takes two passes over its rows (``TwoPasses``): on one host
training's own streaming passes feed it; otherwise (the whole-matrix path, a host's share of
a replicated channel) the channel is read again through ``formats.iter_chunks``. The
model's score distribution and quality on the validation channel are added, so that score
drift and a drop in quality can be judged later. The files travel inside model.tar.gz;
serving never reads them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import xgboost as xgb

from . import formats
from .hyperparameters import Hyperparameters
from .monitor import stats
from .monitor.profile import Profile
from .outputs import write_text_atomic
from .paths import Layout

log = logging.getLogger(__name__)

SAMPLE_ROWS = 100_000  # rows kept (uniformly) to place the quantile edges, at most
SAMPLE_VALUES = 1_000_000  # and at most this many values (4 MB), so wide tables stay bounded
CHUNK_ROWS = 1 << 15
# Defaults of the checks; see docs/monitoring.md for why they hold at a few thousand rows.
MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "completeness_sigmas": 4.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.2,
        "comparison_method": "PSI",
        "significance_level": 0.01,
        "min_rows": 200,
    },
    "score_drift_threshold": 0.2,
    "model_quality": {"auc_drop_threshold": 0.05, "ks_drop_threshold": 0.1, "min_labels": 200},
}


def dense(X: np.ndarray | sp.csr_matrix) -> np.ndarray:
    """A chunk as a dense float matrix; entries a sparse matrix leaves out are missing."""
    if not sp.issparse(X):
        return np.asarray(X, dtype=np.float32)
    coo = X.tocoo()
    out = np.full(X.shape, np.nan, dtype=np.float32)
    out[coo.row, coo.col] = coo.data
    return out


def schema_record(schema: formats.Schema) -> dict[str, Any]:
    return {
        "input_format": schema.input_format,
        "feature_names": list(schema.feature_names),
        "feature_types": list(schema.feature_types),
        "categories": dict(schema.categories),
        "label_column": schema.label_column,
        "classes": schema.classes,
        "columns": schema.columns,
    }


class TwoPasses:
    """A channel's profile built from two passes over its chunks: the first finds each
    numeric feature's range and a bounded uniform sample (the quantile edges of its drift
    bins), the second counts every row into those fixed edges. Training's streaming passes
    feed it (``chunks.Chunks``), or ``profile_channel`` reads the channel twice."""

    def __init__(self, schema: formats.Schema, seed: int = 0) -> None:
        self.schema, self.seed = schema, seed
        self.restart()

    def restart(self) -> None:
        """Forget what was seen (a first pass begun again)."""
        schema = self.schema
        self.rng = np.random.default_rng(self.seed)
        width = len(schema.feature_names)
        self.keys, self.sample = np.empty(0), np.empty((0, width), dtype=np.float32)
        self.size = max(1000, min(SAMPLE_ROWS, SAMPLE_VALUES // max(1, width)))
        self.first = Profile(schema)
        self.second: Profile | None = None
        self.counting = False  # a second pass has begun: only one may count
        self.done = False

    def first_pass(self, X: np.ndarray | sp.csr_matrix) -> None:
        X = dense(X)
        self.first.add(X)
        self.keys, self.sample = stats.bottom_k(self.keys, self.sample, X, self.size, self.rng)

    def fix_edges(self) -> None:
        edges, bounds = {}, {}
        for j, feature in enumerate(self.first.features):
            if self.schema.feature_types[j] == "q" and feature.present:
                edges[feature.name] = stats.quantile_edges(self.sample[:, j].astype(np.float64))
                m = feature.moments
                bounds[feature.name] = stats.bucket_edges(m.minimum, m.maximum)
        self.second = Profile(self.schema, edges, bounds)
        self.second.take_totals(self.first)

    def second_pass(self, X: np.ndarray | sp.csr_matrix) -> None:
        assert self.second is not None
        self.second.count(dense(X))

    @property
    def profile(self) -> Profile | None:
        """The profile once both passes have seen every chunk; ``None`` before."""
        return self.second if self.done else None


def profile_channel(chunks, schema: formats.Schema, seed: int = 0) -> Profile:
    """The profile of every row ``chunks()`` yields, with edges fixed by a first pass."""
    passes = TwoPasses(schema, seed)
    for dataset in chunks():
        passes.first_pass(dataset.X)
    passes.fix_edges()
    for dataset in chunks():
        passes.second_pass(dataset.X)
    passes.done = True
    assert passes.profile is not None
    return passes.profile


def predict(booster: xgb.Booster, X: np.ndarray, objective: str) -> np.ndarray:
    scores = booster.inplace_predict(X, validate_features=False)
    if objective == "binary:logitraw":
        scores = 1.0 / (1.0 + np.exp(-scores))
    return np.asarray(scores, dtype=np.float64)


def score_baseline(
    chunks, booster: xgb.Booster, objective: str, threshold: float
) -> dict[str, Any] | None:
    """Score distribution (decile bins) and quality of the model on the validation rows."""
    if objective.startswith("multi:"):
        return None
    parts = [(predict(booster, dense(d.X), objective), d.y) for d in chunks()]
    if not parts:
        return None
    scores = np.concatenate([s for s, _ in parts])
    y = np.concatenate([y for _, y in parts])
    edges = stats.quantile_edges(scores)
    moments = stats.Moments()
    moments.add(scores)
    record: dict[str, Any] = {
        "source": "validation",
        "item_count": int(scores.size),
        "mean": moments.mean,
        "std_dev": moments.std_dev,
        "psi_bins": {
            "edges": [float(e) for e in edges],
            "counts": [int(c) for c in stats.bin_counts(scores, edges)],
        },
    }
    if objective.startswith("binary:"):
        labels = y.astype(int)
        record["model_quality"] = {
            "rows": int(labels.size),
            "roc_auc": stats.roc_auc(labels, scores),
            "ks": stats.ks_statistic(labels, scores),
            "threshold": threshold,
            "confusion_matrix": stats.confusion(labels, scores, threshold),
        }
    return record


def constraints(profile: Profile) -> dict[str, Any]:
    features = []
    for f in profile.statistics():
        name, kind = f["name"], f["inferred_type"]
        body = f.get("numerical_statistics") or f["string_statistics"]
        total = body["common"]["num_present"] + body["common"]["num_missing"]
        entry: dict[str, Any] = {
            "name": name,
            "inferred_type": kind,
            "completeness": body["common"]["num_present"] / total if total else 0.0,
        }
        if kind == "String":
            values = [b["value"] for b in body["distribution"]["categorical"]["buckets"]]
            entry["string_constraints"] = {"domains": values}
        else:
            low = body["min"]
            entry["num_constraints"] = {"is_non_negative": low is not None and low >= 0}
        features.append(entry)
    return {"version": 0.0, "features": features, "monitoring_config": MONITORING_CONFIG}


def training_evaluation(layout: Layout) -> dict[str, Any] | None:
    """What training's evaluation of the validation channel reported (kept beside ours)."""
    path = layout.output_data_dir / "evaluation-validation.json"
    if not path.exists():
        return None
    report = json.loads(path.read_text(encoding="utf-8"))
    keys = ("rows", "roc_auc", "pr_auc", "ks", "at_decision_threshold", "at_threshold_0.5")
    return {k: report[k] for k in keys if k in report}


def build(
    layout: Layout,
    hp: Hyperparameters,
    booster: xgb.Booster,
    schema: formats.Schema,
    threshold: float,
    objective: str,
    profile: Profile | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(statistics, constraints)`` of the train channel (``profile``, when training's
    passes built it), with the validation scores."""
    config = layout.input_data_config()

    def reader(channel: str):
        folder = layout.channel_dir(channel)
        content_type = (config.get(channel) or {}).get("ContentType")
        return lambda: formats.iter_chunks(
            folder,
            content_type,
            label_column=hp.label_column,
            positive_label=hp.positive_label,
            csv_weights=hp.csv_weights,
            schema=schema,
            chunk_rows=CHUNK_ROWS,
        )

    if profile is None:
        profile = profile_channel(reader("train"), schema)
    statistics: dict[str, Any] = {
        "version": 0.0,
        "dataset": {"item_count": profile.rows},
        "features": profile.statistics(),
        "schema": schema_record(schema),
        "model": {"objective": objective, "threshold": threshold},
    }
    if layout.channel_dir("validation").exists():
        score = score_baseline(reader("validation"), booster, objective, threshold)
        if score is not None:
            evaluation = training_evaluation(layout)
            if evaluation is not None:
                score["training_evaluation"] = evaluation
            statistics["score"] = score
    return statistics, constraints(profile)


def write(
    layout: Layout,
    hp: Hyperparameters,
    booster: xgb.Booster,
    schema: formats.Schema,
    threshold: float,
    objective: str,
    profile: Profile | None = None,
) -> Path | None:
    """Write the baseline beside the model; a failure is logged, never fatal to training."""
    folder = layout.model_dir / "baseline"
    try:
        statistics, constraint = build(layout, hp, booster, schema, threshold, objective, profile)
    except Exception as exc:  # noqa: BLE001 - the model is saved; say why there is no baseline
        log.warning("monitoring baseline not written: %s: %s", type(exc).__name__, exc)
        print(f"Monitoring baseline not written: {exc}", flush=True)
        return None
    write_text_atomic(folder / "statistics.json", json.dumps(statistics, indent=2) + "\n")
    write_text_atomic(folder / "constraints.json", json.dumps(constraint, indent=2) + "\n")
    how = ", profiled as the matrices streamed" if profile is not None else ""
    rows = statistics["dataset"]["item_count"]
    print(f"Monitoring baseline: {folder} ({rows} rows{how})", flush=True)
    return folder
