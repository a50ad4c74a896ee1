"""Boosting: XGBoost's parameters checked against the training labels, and the rounds
themselves, resumed from checkpoints, with early stopping and SIGTERM."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from . import checkpoints, evaluation, formats, hyperparameters, review
from .callbacks import EarlyStop, RoundPrinter, resumed_state
from .cpus import training_threads
from .errors import UserError
from .hyperparameters import Hyperparameters
from .matrices import Channel
from .session import Session
from .termination import Termination


@dataclass
class Result:
    """What ``fit`` produced: the booster and whether SIGTERM cut training short."""

    booster: xgb.Booster
    stopped: bool = False


def check_labels(params: dict[str, Any], y: np.ndarray) -> None:
    """Refuse labels that the objective cannot train on."""
    objective = str(params.get("objective", "reg:squarederror"))
    if evaluation.is_binary(objective):
        bad = y[(y != 0) & (y != 1)]
        if bad.size:
            raise UserError(
                f"objective {objective} needs labels 0 or 1, found {bad[0]:g}; "
                "set positive_label for text labels or use a multi-class objective"
            )
    if evaluation.is_multiclass(objective):
        num_class = int(params.get("num_class", 0))
        bad = y[(y != np.round(y)) | (y < 0) | (y >= num_class)]
        if bad.size:
            raise UserError(
                f"objective {objective} with num_class={num_class} needs labels "
                f"0 to {num_class - 1}, found {bad[0]:g}"
            )


def resolve_auto(params: dict[str, Any], y: np.ndarray) -> None:
    """``scale_pos_weight=auto``: negatives / positives of the training labels."""
    if params.get("scale_pos_weight") == "auto":
        positives = float((y == 1).sum())
        if positives == 0:
            raise UserError("scale_pos_weight=auto needs at least one positive training label")
        params["scale_pos_weight"] = float((y == 0).sum()) / positives
        print(f"scale_pos_weight=auto: {params['scale_pos_weight']:.6g}", flush=True)


def training_params(
    hp: Hyperparameters, channels: dict[str, Channel], session: Session | None = None
) -> dict[str, Any]:
    """XGBoost's parameters for this job, checked against the training labels."""
    params = dict(hp.params)
    y = channels["train"].y
    check_labels(params, y)
    review.preflight(hp, params, channels["train"])  # type: ignore[arg-type]
    if session is not None and params.get("scale_pos_weight") == "auto":
        y = session.gather(y)  # the labels of every host
    resolve_auto(params, y)
    if "nthread" not in params and "n_jobs" not in params:
        params["nthread"] = training_threads()
    print(f"Training with nthread={params.get('nthread', params.get('n_jobs'))}", flush=True)
    objective = str(params.get("objective", "reg:squarederror"))
    if hp.decision_threshold == "f1_best" and not (
        evaluation.is_binary(objective) and "validation" in channels
    ):
        raise UserError(
            "decision_threshold=f1_best needs a binary objective and a validation channel"
        )
    return params


def fit(
    params: dict[str, Any],
    hp: Hyperparameters,
    matrices: dict[str, xgb.DMatrix],
    checkpoint_dir: Path | None = None,
    termination: Termination | None = None,
    session: Session | None = None,
    schema: formats.Schema | None = None,
) -> Result:
    """Boost ``hp.num_round`` rounds, resuming from the newest checkpoint of this training.

    With several hosts only the coordinator is given ``checkpoint_dir``; the checkpoint
    it resumes from is shared with the others, and SIGTERM stops all in the same round.
    """
    ident = checkpoints.identity(params, hp, matrices, schema) if checkpoint_dir else None
    start = checkpoints.load_newest(checkpoint_dir, ident) if checkpoint_dir else None
    if session is not None:
        start = session.share_booster(start)
    done = start.num_boosted_rounds() if start else 0
    early = hp.early_stopping_rounds if "validation" in matrices else None
    remaining = max(0, hp.num_round - done)
    state = resumed_state(start) if start and early else None
    if state and done - 1 - state[1] >= early:
        remaining = 0  # the checkpoint was written in the round early stopping ended
    callbacks: list[xgb.callback.TrainingCallback] = [RoundPrinter()]
    if checkpoint_dir:
        callbacks.append(checkpoints.Checkpointer(checkpoint_dir, hp.checkpoint_frequency, ident))
    if early:
        callbacks.append(EarlyStop(rounds=early, data_name="validation"))
    if termination:
        callbacks.append(session.agreed_stop(termination) if session else termination)
    evals = [(matrices[n], n) for n in ("train", "validation") if n in matrices]
    try:
        booster = xgb.train(
            params,
            matrices["train"],
            num_boost_round=remaining,
            evals=evals,
            callbacks=callbacks,
            verbose_eval=False,
            xgb_model=start,
        )
    except (xgb.core.XGBoostError, ValueError) as exc:
        reason = hyperparameters.xgboost_reason(exc)
        raise UserError(f"XGBoost refused the job: {reason}") from None
    stopped = bool(termination and termination.requested)
    if checkpoint_dir and (stopped or booster.num_boosted_rounds() > done):
        checkpoints.ensure(checkpoint_dir, booster, ident)
    return Result(booster, stopped)


def best_model(booster: xgb.Booster) -> tuple[xgb.Booster, int | None]:
    """The booster cut to its best iteration when early stopping recorded one."""
    best = booster.attr("best_iteration")
    if best is None:
        return booster, None
    best_iteration = int(best)
    if best_iteration + 1 < booster.num_boosted_rounds():
        booster = booster[: best_iteration + 1]
    return booster, best_iteration
