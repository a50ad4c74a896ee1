"""The ``train`` program: channels in, model, metadata and evaluation out.

The job's course: the train schema, the roll call, the matrices (``matrices.py``), the
rounds (``boosting.py``), then the coordinator's outputs (``results.py``)."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

import xgboost as xgb

from . import chunks, formats, gpu, hyperparameters, matrices, memory, results, sharding
from .boosting import best_model, fit, training_params
from .chunks import Source
from .distributed import Cluster
from .errors import UserError
from .hyperparameters import Hyperparameters
from .matrices import Channel
from .outputs import write_failure
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


def train_schema(layout: Layout, hp: Hyperparameters, several: bool) -> formats.Schema | None:
    """The train channel's schema from a first pass; None when this host has no rows."""
    folder = layout.channel_dir("train")
    content_type = (layout.input_data_config().get("train") or {}).get("ContentType")
    schema = formats.infer_schema(folder, content_type, **chunks.read_options(hp))
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
    if how.path == "external":
        memory.give_back_freed_blocks()  # memory is short: freed blocks go back at once
    channels = matrices.build(how, sources, hp, plan.schema, profile=plan.is_coordinator)
    counts = session.counts(channels["train"].num_rows)
    rows = ", ".join(f"{h}={c}" for h, c in zip(plan.participants, counts, strict=True))
    log.info("train rows %s", rows)
    if not plan.distributed:
        # A channel whose files hold no rows is left out, as if it had no files.
        channels = {n: c for n, c in channels.items() if n == "train" or c.num_rows}
    if sum(counts) == 0:
        raise UserError(f"the train channel {layout.channel_dir('train')} has no rows")
    return channels


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
        del train_matrices  # ``channels`` alone holds the matrices: ``finish`` lets them go
        booster, best_iteration = best_model(result.booster)
        scored = {} if result.stopped else results.score(booster, channels, objective, session)
        if not plan.is_coordinator:
            return result.booster
        results.finish(layout, hp, result, booster, best_iteration, params, channels, scored, plan)
        return booster


def fail(layout: Layout, reason: str, details: str = "") -> None:
    """Record why the job failed (``output/failure``)."""
    write_failure(layout.failure_file, "Training", reason, details)


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
