"""The ``train`` program: channels in, model, metadata and evaluation out."""

from __future__ import annotations

import logging
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from . import baseline, checkpoints, evaluation, formats, hyperparameters, review
from .callbacks import EarlyStop, RoundPrinter, resumed_state
from .cpus import available_cpus
from .distributed import Cluster
from .errors import UserError
from .hyperparameters import Hyperparameters
from .metadata import ModelMetadata
from .outputs import remove_partials, write_atomic, write_text_atomic
from .paths import Layout
from .termination import Terminated, Termination

log = logging.getLogger(__name__)

CHANNELS = ("train", "validation", "test")
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
    """Read train (required unless ``empty_train_ok``), validation and test channels.

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
    hp: Hyperparameters, channels: dict[str, formats.Dataset], cluster: Cluster | None = None
) -> dict[str, Any]:
    """XGBoost's parameters for this job, checked against the training labels."""
    params = dict(hp.params)
    y = channels["train"].y
    check_labels(params, y)
    review.preflight(hp, params, channels["train"])
    if cluster is not None and params.get("scale_pos_weight") == "auto":
        y = cluster.gather(y)  # the labels of every host
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


def to_dmatrix(dataset: formats.Dataset, hp: Hyperparameters) -> xgb.DMatrix:
    """The channel as XGBoost's matrix, named and typed when the data has named columns.

    Nameless formats (plain CSV, LibSVM) get XGBoost's default names ``f0, f1...``: the
    same names, without the per-round cost of checking them in Python.
    """
    schema = dataset.schema
    if not hp.enable_categorical and "c" in schema.feature_types:
        text = schema.feature_names[schema.feature_types.index("c")]
        raise UserError(f"column {text!r} holds text: it needs enable_categorical=true")
    named = schema.input_format not in ("csv", "libsvm")
    return xgb.DMatrix(
        dataset.X,
        label=dataset.y,
        weight=dataset.weight,
        feature_names=schema.feature_names if named else None,
        feature_types=schema.feature_types if named else None,
        enable_categorical=hp.enable_categorical,
        nthread=-1,
    )


def fit(
    params: dict[str, Any],
    hp: Hyperparameters,
    matrices: dict[str, xgb.DMatrix],
    checkpoint_dir: Path | None = None,
    termination: Termination | None = None,
    cluster: Cluster | None = None,
) -> Result:
    """Boost ``hp.num_round`` rounds, resuming from the newest valid checkpoint.

    With several hosts only the coordinator is given ``checkpoint_dir``; the checkpoint
    it resumes from is shared with the others, and SIGTERM stops all in the same round.
    """
    start = checkpoints.load_newest(checkpoint_dir) if checkpoint_dir else None
    if cluster is not None:
        start = cluster.share_booster(start)
    done = start.num_boosted_rounds() if start else 0
    early = hp.early_stopping_rounds if "validation" in matrices else None
    remaining = max(0, hp.num_round - done)
    state = resumed_state(start) if start and early else None
    if state and done - 1 - state[1] >= early:
        remaining = 0  # the checkpoint was written in the round early stopping ended
    callbacks: list[xgb.callback.TrainingCallback] = [RoundPrinter()]
    if checkpoint_dir:
        callbacks.append(checkpoints.Checkpointer(checkpoint_dir, hp.checkpoint_frequency))
    if early:
        callbacks.append(EarlyStop(rounds=early, data_name="validation"))
    if termination:
        callbacks.append(cluster.agreed_stop(termination) if cluster else termination)
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
        path = checkpoints.path_for(checkpoint_dir, booster.num_boosted_rounds())
        if not path.exists():
            checkpoints.save(checkpoint_dir, booster)
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


def decision_threshold(
    hp: Hyperparameters, booster: xgb.Booster, matrices: dict[str, xgb.DMatrix], objective: str
) -> float:
    """The threshold recorded for serving; ``f1_best`` is found on the validation channel."""
    if hp.decision_threshold != "f1_best":
        return float(hp.decision_threshold)
    matrix = matrices["validation"]
    scores = evaluation.probabilities(booster, matrix, objective)
    return evaluation.f1_best_threshold(matrix.get_label(), scores)


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
    matrices: dict[str, xgb.DMatrix],
    objective: str,
    threshold: float,
    schema: formats.Schema,
) -> None:
    """``output/data/evaluation-<channel>.json`` and pictures for validation and test, and
    the model review report ``output/data/report.html``."""
    review.write_all(layout, hp, booster, matrices, objective, threshold, schema)


def train(layout: Layout, termination: Termination | None = None) -> xgb.Booster | None:
    """Run one training job against ``layout``; the booster as saved.

    None when this host is one of several and has no training rows: it leaves the job.
    """
    hp = hyperparameters.parse(layout.hyperparameters())
    cluster = Cluster.from_layout(layout)
    try:
        channels = load_channels(layout, hp, empty_train_ok=len(cluster.hosts) > 1)
        joined = cluster.join(
            channels,
            layout.input_data_config(),
            reload=lambda schema: load_channels(layout, hp, True, schema),
        )
        if joined is None:
            return None
        return _train(layout, hp, joined, termination, cluster)
    finally:
        cluster.close()


def _train(
    layout: Layout,
    hp: Hyperparameters,
    channels: dict[str, formats.Dataset],
    termination: Termination | None,
    cluster: Cluster,
) -> xgb.Booster:
    with cluster.collective():
        params = training_params(hp, channels, cluster)
        matrices = {name: to_dmatrix(ds, hp) for name, ds in channels.items()}
        if termination:
            termination.defer = True
        checkpoint_dir = layout.checkpoint_dir() if cluster.is_coordinator else None
        result = fit(params, hp, matrices, checkpoint_dir, termination, cluster)
        # Evaluation covers every host's rows: gathered here, used by the coordinator.
        evaluated = [n for n in ("validation", "test") if n in channels and cluster.distributed]
        gathered = {n: cluster.gather_dataset(channels[n]) for n in evaluated}
    if not cluster.is_coordinator:
        return result.booster
    for name, dataset in gathered.items():
        log.info("%s: %d rows from %d host(s)", name, dataset.num_rows, cluster.world)
        matrices[name] = to_dmatrix(dataset, hp)
    booster, best_iteration = best_model(result.booster)
    objective = str(params.get("objective", "reg:squarederror"))
    if result.stopped and not hp.save_model_on_termination:
        return booster
    threshold = 0.5
    if evaluation.is_binary(objective):
        threshold = decision_threshold(hp, booster, matrices, objective)
    extra = {
        "num_boosted_rounds": result.booster.num_boosted_rounds(),
        "stopped_by_sigterm": result.stopped,
        "params": {k: v for k, v in params.items() if k != "nthread"},
    }
    schema = channels["train"].schema
    save_model(
        layout,
        booster,
        schema,
        params,
        threshold=threshold,
        best_iteration=best_iteration,
        extra=extra,
    )
    if result.stopped:
        print(f"Stopped by SIGTERM after {extra['num_boosted_rounds']} rounds", flush=True)
        return booster
    write_evaluations(layout, hp, booster, matrices, objective, threshold, schema)
    baseline.write(layout, hp, booster, schema, threshold, objective)  # model/baseline/
    return booster


def fail(layout: Layout, reason: str, details: str = "") -> None:
    """Record why the job failed: the reason first, one line, then any details."""
    layout.output_dir.mkdir(parents=True, exist_ok=True)
    text = reason.replace("\n", " ") + ("\n\n" + details if details else "") + "\n"
    write_text_atomic(layout.failure_file, text)
    print(f"Training failed: {reason}", file=sys.stderr, flush=True)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    layout = Layout.from_env()
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
