"""The ``train`` program: channels in, model, metadata and evaluation out."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from . import (
    baseline,
    checkpoints,
    evaluation,
    formats,
    gpu,
    hyperparameters,
    matrices,
    memory,
    review,
    sharding,
)
from .callbacks import EarlyStop, RoundPrinter, resumed_state
from .cpus import available_cpus
from .distributed import Cluster
from .errors import UserError
from .hyperparameters import Hyperparameters
from .matrices import Channel, Source
from .metadata import ModelMetadata
from .outputs import remove_partials, write_atomic, write_failure
from .paths import Layout
from .rollcall import Plan
from .session import Session
from .termination import Terminated, Termination

log = logging.getLogger(__name__)

CHANNELS = ("train", "validation", "test")
SCRATCH = "scratch"  # under SAGEMAKER_BASE_DIR: spilled chunks and external-memory pages
# A stop (StopTrainingJob, spot interruption, `docker stop`) that saved the model is a clean
# end: SageMaker reports such a job as Stopped whatever the code, and `docker stop` users expect 0.
EXIT_TERMINATED = 0


@dataclass
class Result:
    """What ``fit`` produced: the booster and whether SIGTERM cut training short."""

    booster: xgb.Booster
    stopped: bool = False


def load_channels(
    layout: Layout,
    hp: Hyperparameters,
    empty_train_ok: bool = False,
    schema: formats.Schema | None = None,
) -> dict[str, formats.Dataset]:
    """Read train (required unless ``empty_train_ok``), validation and test channels whole.

    ``schema`` (agreed by several hosts) is imposed on every channel, train included.
    """
    config = layout.input_data_config()
    channels: dict[str, formats.Dataset] = {}
    for name in CHANNELS:
        folder = layout.channel_dir(name)
        if name != "train" and not folder.exists():
            continue
        dataset = formats.load_channel(
            folder,
            (config.get(name) or {}).get("ContentType"),
            label_column=hp.label_column,
            positive_label=hp.positive_label,
            csv_weights=hp.csv_weights,
            schema=schema,
            exclude_columns=hp.exclude_columns,
        )
        if dataset is None:
            if name == "train" and not empty_train_ok:
                state = "is empty" if folder.exists() else "is missing"
                raise UserError(f"the train channel {folder} {state}: it needs at least one row")
            continue
        schema = dataset.schema
        channels[name] = dataset
    return channels


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
        params["nthread"] = available_cpus()
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


Scored = tuple[np.ndarray, np.ndarray]  # labels and scores of one channel, every host's rows


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


def train_schema(layout: Layout, hp: Hyperparameters, several: bool) -> formats.Schema | None:
    """The train channel's schema from a first pass; None when this host has no rows."""
    folder = layout.channel_dir("train")
    content_type = (layout.input_data_config().get("train") or {}).get("ContentType")
    schema = formats.infer_schema(folder, content_type, **matrices.read_options(hp))
    if schema is None and not several:
        state = "is empty" if folder.exists() else "is missing"
        raise UserError(f"the train channel {folder} {state}: it needs at least one row")
    return schema


def channel_sources(layout: Layout, plan: Plan) -> list[Source]:
    """Train, then the other channels the plan builds, each with this host's share."""
    config = layout.input_data_config()
    out = []
    for name in ["train", *plan.channels]:
        shard = None
        if plan.distributed and sharding.is_replicated(config, name):
            shard = sharding.Shard(plan.rank, plan.world)
        content_type = (config.get(name) or {}).get("ContentType")
        out.append(Source(name, layout.channel_dir(name), content_type, shard))
    return out


def train(layout: Layout, termination: Termination | None = None) -> xgb.Booster | None:
    """Run one training job against ``layout``; the booster as saved.

    None when this host is one of several and has no training rows: it leaves the job.
    """
    hp = hyperparameters.parse(layout.hyperparameters())
    cluster = Cluster.from_layout(layout)
    gpu.check(hp.params, cluster.hosts)
    try:
        schema = train_schema(layout, hp, cluster.several)
        others = [n for n in CHANNELS[1:] if formats.channel_files(layout.channel_dir(n))]
        plan = cluster.join(schema, others if schema is not None else [])
        if plan.leaves:
            return None
        return _train(layout, hp, termination, cluster)
    finally:
        cluster.close()


def build_matrices(
    layout: Layout, hp: Hyperparameters, plan: Plan, session: Session, scratch: Path
) -> dict[str, Channel]:
    """This host's share of every channel as XGBoost matrices; the log says which path."""
    assert plan.schema is not None
    sources = channel_sources(layout, plan)
    how = matrices.choose(hp, sources, scratch)
    print(f"Training matrices: {how.describe()}", flush=True)
    channels = matrices.build(how, sources, hp, plan.schema)
    counts = session.counts(channels["train"].num_rows)
    rows = ", ".join(f"{h}={c}" for h, c in zip(plan.participants, counts, strict=True))
    log.info("train rows %s", rows)
    if not plan.distributed:
        # A channel whose files hold no rows is left out, as if it had no files.
        channels = {n: c for n, c in channels.items() if n == "train" or c.num_rows}
    if sum(counts) == 0:
        raise UserError(f"the train channel {layout.channel_dir('train')} has no rows")
    return channels


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


def _train(
    layout: Layout,
    hp: Hyperparameters,
    termination: Termination | None,
    cluster: Cluster,
) -> xgb.Booster:
    plan = cluster.plan
    assert plan is not None and plan.schema is not None
    objective = str(hp.params.get("objective", "reg:squarederror"))
    scratch_base = Path(layout.base) / SCRATCH
    with cluster.collective() as session, matrices.scratch_folder(scratch_base) as scratch:
        channels = build_matrices(layout, hp, plan, session, scratch)
        params = training_params(hp, channels, session)
        if termination:
            termination.defer = True
        checkpoint_dir = layout.checkpoint_dir() if plan.is_coordinator else None
        train_matrices = {name: c.matrix for name, c in channels.items()}
        result = fit(params, hp, train_matrices, checkpoint_dir, termination, session, plan.schema)
        booster, best_iteration = best_model(result.booster)
        scored = {} if result.stopped else score(booster, channels, objective, session)
        if not plan.is_coordinator:
            return result.booster
        _finish(layout, hp, result, booster, best_iteration, params, channels, scored, plan)
        return booster


def _finish(
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
    """The coordinator's outputs: model, metadata, evaluation, baseline."""
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
    baseline.write(layout, hp, booster, plan.schema, threshold, objective)  # model/baseline/


def fail(layout: Layout, reason: str, details: str = "") -> None:
    """Record why the job failed (``output/failure``)."""
    write_failure(layout.failure_file, "Training", reason, details)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    layout = Layout.from_env()
    memory.give_back_freed_blocks()
    termination = Termination()
    try:
        if "sagemaker_program" in layout.hyperparameters():
            from . import script_mode

            return script_mode.run(layout)
        termination.install()
        train(layout, termination)
    except Terminated:
        print("Stopped by SIGTERM before training started", file=sys.stderr, flush=True)
        return EXIT_TERMINATED
    except UserError as exc:
        fail(layout, str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - every failure must reach output/failure
        fail(layout, f"internal error: {type(exc).__name__}: {exc}", traceback.format_exc())
        return 2
    return 0
