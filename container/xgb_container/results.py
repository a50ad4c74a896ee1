"""What the coordinator writes after training: the model and its metadata, each channel's
evaluation (gathered from every host), and the monitoring baseline."""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import xgboost as xgb

from . import baseline, evaluation, formats, review
from .boosting import Result
from .hyperparameters import Hyperparameters
from .matrices import Channel
from .metadata import ModelMetadata
from .outputs import remove_partials, write_atomic
from .paths import Layout
from .rollcall import Plan
from .session import Session

log = logging.getLogger(__name__)

Scored = tuple[np.ndarray, np.ndarray]  # labels and scores of one channel, every host's rows


def decision_threshold(hp: Hyperparameters, scored: dict[str, Scored]) -> float:
    """The threshold recorded for serving; ``f1_best`` is found on the validation channel."""
    if hp.decision_threshold != "f1_best":
        return float(hp.decision_threshold)
    return evaluation.f1_best_threshold(*scored["validation"])


def save_model(
    layout: Layout,
    booster: xgb.Booster,
    schema: formats.Schema,
    params: dict[str, Any],
    *,
    threshold: float = 0.5,
    best_iteration: int | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the model and its metadata atomically into the model folder."""
    remove_partials(layout.model_dir)
    meta = ModelMetadata(
        feature_names=schema.feature_names,
        feature_types=schema.feature_types,
        objective=str(params.get("objective", "reg:squarederror")),
        input_format=schema.input_format,
        xgboost_version=xgb.__version__,
        categories=schema.categories,
        label_column=schema.label_column,
        classes=schema.classes,
        columns=schema.columns,
        num_class=int(params.get("num_class", 0)),
        threshold=threshold,
        best_iteration=best_iteration,
        extra=extra or {},
    )
    raw = bytes(booster.save_raw("ubj"))
    write_atomic(layout.model_file, lambda tmp: tmp.write_bytes(raw))
    write_atomic(layout.metadata_file, meta.save)


def write_evaluations(
    layout: Layout,
    hp: Hyperparameters,
    booster: xgb.Booster,
    channels: dict[str, Channel],
    scored: dict[str, Scored],
    objective: str,
    threshold: float,
    schema: formats.Schema,
) -> None:
    """``output/data/evaluation-<channel>.json`` and pictures for validation and test. One
    host: the full review (``review.write_all``, report.html); several: the evaluation of
    every host's gathered labels and scores."""
    if not scored:
        matrices_ = {name: c.matrix for name, c in channels.items()}
        review.write_all(layout, hp, booster, matrices_, objective, threshold, schema)
        return
    for channel in ("validation", "test"):
        if channel not in scored:
            continue
        y, scores = scored[channel]
        report = evaluation.report(booster, y, scores, objective, threshold, schema.classes)
        evaluation.write(
            layout.output_data_dir, channel, report, y, scores, threshold, schema.classes
        )
        print(f"Evaluation of {channel}: {review.summary(report)}", flush=True)


def num_class(booster: xgb.Booster, objective: str) -> int:
    """Columns of the model's scores: the classes for ``multi:softprob``, else none."""
    if objective != "multi:softprob":
        return 0
    config = json.loads(booster.save_config())
    return int(config["learner"]["learner_model_param"]["num_class"])


def score(
    booster: xgb.Booster, channels: dict[str, Channel], objective: str, session: Session
) -> dict[str, Scored]:
    """Labels and scores of validation and test, gathered from every participant."""
    out = {}
    for name in ("validation", "test"):
        if name in channels:
            scores = evaluation.probabilities(booster, channels[name].matrix, objective)
            if channels[name].num_rows == 0:  # XGBoost answers (0, 0): one shape for all hosts
                width = num_class(booster, objective)
                scores = np.empty((0, width) if width else 0, np.float32)
            out[name] = (session.gather(channels[name].y), session.gather(scores))
            if session.distributed:
                log.info("%s: %d rows from %d host(s)", name, len(out[name][0]), session.world)
    return out


def finish(
    layout: Layout,
    hp: Hyperparameters,
    result: Result,
    booster: xgb.Booster,
    best_iteration: int | None,
    params: dict[str, Any],
    channels: dict[str, Channel],
    scored: dict[str, Scored],
    plan: Plan,
) -> None:
    """The coordinator's outputs: model, metadata, evaluation, baseline. ``channels`` is
    emptied once evaluated, so that the baseline's pass over the train files has the
    matrices' memory."""
    assert plan.schema is not None
    objective = str(params.get("objective", "reg:squarederror"))
    if result.stopped and not hp.save_model_on_termination:
        return
    threshold = 0.5
    if evaluation.is_binary(objective) and not result.stopped:
        threshold = decision_threshold(hp, scored)
    extra = {
        "num_boosted_rounds": result.booster.num_boosted_rounds(),
        "stopped_by_sigterm": result.stopped,
        "params": {k: v for k, v in params.items() if k != "nthread"},
    }
    save_model(
        layout,
        booster,
        plan.schema,
        params,
        threshold=threshold,
        best_iteration=best_iteration,
        extra=extra,
    )
    if result.stopped:
        print(f"Stopped by SIGTERM after {extra['num_boosted_rounds']} rounds", flush=True)
        return
    if not plan.distributed:
        scored = {}  # one host: the review predicts on the matrices itself
    write_evaluations(layout, hp, booster, channels, scored, objective, threshold, plan.schema)
    passes = channels["train"].passes
    profile = passes.profile if passes is not None else None  # else the baseline reads again
    channels.clear()  # the matrices are done with: their memory goes before the baseline's
    baseline.write(layout, hp, booster, plan.schema, threshold, objective, profile)
