"""The ``train`` program: channels in, model, metadata and evaluation out."""

from __future__ import annotations

import logging
import sys
import traceback

import numpy as np
import xgboost as xgb

from . import data, hyperparameters
from .distributed import Cluster
from .errors import UserError
from .metadata import ModelMetadata
from .outputs import remove_partials, write_atomic, write_text_atomic
from .paths import Layout

log = logging.getLogger(__name__)

BINARY_OBJECTIVES = ("binary:logistic", "binary:logitraw", "binary:hinge")


def load_channels(
    layout: Layout, hp: hyperparameters.Hyperparameters, empty_train_ok: bool = False
) -> dict[str, data.Dataset]:
    """Read train (required unless ``empty_train_ok``), validation and test channels."""
    config = layout.input_data_config()
    channels: dict[str, data.Dataset] = {}
    schema = None
    for name in ("train", "validation", "test"):
        folder = layout.channel_dir(name)
        if name != "train" and not folder.exists():
            continue
        dataset = data.load_channel(
            folder,
            config.get(name, {}).get("ContentType"),
            label_column=hp.label_column,
            positive_label=hp.positive_label,
            csv_weights=hp.csv_weights,
            schema=schema,
        )
        if dataset is None:
            if name == "train" and not empty_train_ok:
                state = "is empty" if folder.exists() else "is missing"
                raise UserError(f"the train channel {folder} {state}: it needs at least one row")
            continue
        schema = dataset.schema
        channels[name] = dataset
    return channels


def check_labels(params: dict, y: np.ndarray) -> None:
    """Refuse labels that the objective cannot train on."""
    objective = params.get("objective", "reg:squarederror")
    if objective in BINARY_OBJECTIVES:
        bad = y[(y != 0) & (y != 1)]
        if bad.size:
            raise UserError(
                f"objective {objective} needs labels 0 or 1, found {bad[0]:g}; "
                "set positive_label for text labels or use a multi-class objective"
            )


def resolve_auto(params: dict, y: np.ndarray) -> None:
    """``scale_pos_weight=auto``: negatives / positives of the training labels."""
    if params.get("scale_pos_weight") == "auto":
        positives = float((y == 1).sum())
        if positives == 0:
            raise UserError("scale_pos_weight=auto needs at least one positive training label")
        params["scale_pos_weight"] = float((y == 0).sum()) / positives


def to_dmatrix(dataset: data.Dataset) -> xgb.DMatrix:
    schema = dataset.schema
    return xgb.DMatrix(
        dataset.X,
        label=dataset.y,
        weight=dataset.weight,
        feature_names=schema.feature_names,
        feature_types=schema.feature_types,
        enable_categorical=True,
    )


def train(layout: Layout) -> xgb.Booster | None:
    """Run one training job against ``layout``; None when this host had no rows to train on."""
    hp = hyperparameters.parse(layout.hyperparameters())
    cluster = Cluster.from_layout(layout)
    try:
        channels = load_channels(layout, hp, empty_train_ok=len(cluster.hosts) > 1)
        channels = cluster.join(channels, layout.input_data_config())
        if channels is None:
            return None
        with cluster.collective():
            return _train(layout, hp, cluster, channels)
    finally:
        cluster.close()


def _train(
    layout: Layout, hp: hyperparameters.Hyperparameters, cluster: Cluster, channels: dict
) -> xgb.Booster:
    params = dict(hp.params)
    check_labels(params, channels["train"].y)
    if params.get("scale_pos_weight") == "auto":
        resolve_auto(params, cluster.gather(channels["train"].y))
    matrices = {name: to_dmatrix(ds) for name, ds in channels.items()}
    evals = [(matrices[n], n) for n in ("train", "validation") if n in matrices]
    early = hp.early_stopping_rounds if "validation" in matrices else None
    try:
        booster = xgb.train(
            params,
            matrices["train"],
            num_boost_round=hp.num_round,
            evals=evals,
            early_stopping_rounds=early,
            verbose_eval=True,
        )
    except xgb.core.XGBoostError as exc:
        raise UserError(f"XGBoost refused the job: {str(exc).splitlines()[0]}") from None
    if early and booster.best_iteration is not None:
        booster = booster[: booster.best_iteration + 1]
    # Evaluation sees every host's rows: gathered here, used by the coordinator.
    evaluated = {
        n: cluster.gather_dataset(channels[n]) for n in ("validation", "test") if n in channels
    }
    if cluster.is_coordinator:
        for name, dataset in evaluated.items():
            log.info(
                "%s: %d rows from %d host(s) for evaluation", name, dataset.num_rows, cluster.world
            )
        save_model(layout, booster, channels["train"].schema, params)
    return booster


def save_model(layout: Layout, booster: xgb.Booster, schema: data.Schema, params: dict) -> None:
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
        num_class=int(params.get("num_class", 0)),
    )
    raw = bytes(booster.save_raw("ubj"))
    write_atomic(layout.model_file, lambda tmp: tmp.write_bytes(raw))
    write_atomic(layout.metadata_file, meta.save)


def fail(layout: Layout, reason: str, details: str = "") -> None:
    """Record why the job failed: the reason first, one line, then any details."""
    layout.output_dir.mkdir(parents=True, exist_ok=True)
    text = reason.replace("\n", " ") + ("\n\n" + details if details else "") + "\n"
    write_text_atomic(layout.failure_file, text)
    print(f"Training failed: {reason}", file=sys.stderr, flush=True)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    layout = Layout.from_env()
    try:
        train(layout)
    except UserError as exc:
        fail(layout, str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - every failure must reach output/failure
        fail(layout, f"internal error: {type(exc).__name__}: {exc}", traceback.format_exc())
        return 2
    return 0
