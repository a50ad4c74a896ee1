"""The training matrices: channels read in bounded chunks straight into XGBoost.

Three paths; the log names the one taken and why:

- ``quantile``: ``tree_method=hist`` (XGBoost 3's default). ``formats.iter_chunks`` feeds a
  ``QuantileDMatrix`` through a ``DataIter``; validation and test use the train matrix as
  ``ref``. Memory holds the quantized matrix (about a byte a value) and one chunk.
- ``external``: the same chunks into ``ExtMemQuantileDMatrix``, whose pages live in the
  scratch folder. Chosen by ``external_memory=true``, or by ``auto`` (the default) when the
  channels' estimated size does not fit the memory this container has left.
- ``whole``: the whole channel as a ``DMatrix``, as before, for what needs one
  (``tree_method`` exact or approx, ``booster=gblinear``, a custom ``updater``).

The chunks themselves, and their spill file, are ``chunks.py``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from . import formats, memory
from .baseline import TwoPasses
from .chunks import Chunks, Source, Spill, no_room, read_options
from .cpus import available_cpus
from .errors import UserError
from .formats import Dataset, Schema
from .hyperparameters import Hyperparameters
from .sharding import empty, slice_rows

# Fraction of the memory left that the estimated matrix may take before ``auto`` goes external.
FIT_FRACTION = 0.5
MB = 1 << 20


@dataclass
class Channel:
    """One channel as XGBoost's matrix plus the plain arrays kept beside it."""

    name: str
    matrix: xgb.DMatrix
    y: np.ndarray
    schema: Schema
    weight: np.ndarray | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    passes: TwoPasses | None = None  # the monitoring baseline's profile, built while streaming

    @property
    def num_rows(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class Plan:
    """Which path builds the matrices, why, and where its files go."""

    path: str
    reason: str
    scratch: Path
    spill: bool = True

    def describe(self) -> str:
        again = self.path != "whole" and not self.spill
        note = "; no room to spill chunks: the files are parsed on every pass" if again else ""
        return f"{self.path} ({self.reason}{note})"


def needs_whole(params: dict[str, Any]) -> str | None:
    """Why these parameters need a whole ``DMatrix``; ``None`` when hist can stream."""
    method = str(params.get("tree_method", "hist"))
    if method not in ("hist", "auto"):
        return f"tree_method={method}"
    if str(params.get("booster", "gbtree")) == "gblinear":
        return "booster=gblinear"
    for name in ("updater", "process_type"):
        if name in params:
            return f"{name}={params[name]}"
    return None


@contextmanager
def scratch_folder(base: Path) -> Iterator[Path]:
    """A fresh folder under ``base`` (the instance's volume), removed afterwards."""
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="xgb-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Room:
    """Bytes of memory this process has left (None: unlimited) and free in the scratch."""

    memory: int | None
    disk: int

    @classmethod
    def measure(cls, scratch: Path) -> Room:
        return cls(memory.available(), shutil.disk_usage(scratch).free)


def choose(
    hp: Hyperparameters, sources: list[Source], scratch: Path, room: Room | None = None
) -> Plan:
    """The path for these hyperparameters and channels (see the module docstring)."""
    whole = needs_whole(hp.params)
    if whole:
        if hp.external_memory == "true":
            raise UserError(f"external_memory=true needs tree_method=hist; {whole} needs all rows")
        return Plan("whole", f"{whole} needs the whole matrix", scratch, spill=False)
    files = [p for s in sources for p in s.files]
    need = memory.estimated_need(files)
    text = sum(memory.file_size(p) for p in files)
    room = room or Room.measure(scratch)
    external, reason = hp.external_memory == "true", "external_memory=true"
    left = room.memory
    if hp.external_memory == "auto" and left is not None and need > left * FIT_FRACTION:
        external = True
        reason = f"auto: about {need // MB} MB of data, {left // MB} MB of memory left"
    if not external:
        return Plan("quantile", "tree_method=hist streams", scratch, spill=room.disk > 2 * text)
    if room.disk < need:
        largest = max(files, key=memory.file_size)
        memory_left = "unknown" if left is None else f"{left // MB} MB"
        raise UserError(
            f"{largest}: the channels need about {need // MB} MB, more than the memory left "
            f"({memory_left}) and the {room.disk // MB} MB free in {scratch} for external memory"
        )
    return Plan("external", reason, scratch, spill=room.disk > need + 2 * text)


def check_categorical(schema: Schema, hp: Hyperparameters) -> None:
    if not hp.enable_categorical and "c" in schema.feature_types:
        text = schema.feature_names[schema.feature_types.index("c")]
        raise UserError(f"column {text!r} holds text: it needs enable_categorical=true")


def to_dmatrix(dataset: Dataset, hp: Hyperparameters) -> xgb.DMatrix:
    """A whole channel as XGBoost's matrix, named and typed when the data has named columns.

    Nameless formats (plain CSV, LibSVM) get XGBoost's default names ``f0, f1...``: the
    same names, without the per-round cost of checking them in Python.
    """
    schema = dataset.schema
    check_categorical(schema, hp)
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


def _whole(source: Source, hp: Hyperparameters, schema: Schema) -> Channel:
    dataset = formats.load_channel(
        source.folder, source.content_type, **read_options(hp), schema=schema
    )
    if dataset is not None and source.shard is not None:
        dataset = slice_rows(dataset, source.shard.index, source.shard.count)
    if dataset is None:
        width = len(schema.feature_names)
        dataset = empty(schema, width, sparse=schema.input_format == "libsvm")
    matrix = to_dmatrix(dataset, hp)
    return Channel(source.name, matrix, dataset.y, schema, dataset.weight, dataset.columns)


def _streamed(
    source: Source,
    hp: Hyperparameters,
    schema: Schema,
    plan: Plan,
    ref: xgb.DMatrix | None,
    passes: TwoPasses | None = None,
) -> Channel:
    check_categorical(schema, hp)
    spill = Spill(plan.scratch / f"{source.name}.spill") if plan.spill else None
    external = plan.path == "external"
    cache = str(plan.scratch / f"{source.name}-cache") if external else None
    nthread = int(hp.params.get("nthread") or hp.params.get("n_jobs") or available_cpus())
    # In memory, the first pass parses on every thread; external memory is short of memory.
    workers = 1 if external else nthread
    chunks = Chunks(source, hp, schema, spill, cache, passes, workers)
    kind = xgb.ExtMemQuantileDMatrix if external else xgb.QuantileDMatrix
    try:
        matrix = kind(
            chunks,
            max_bin=int(hp.params.get("max_bin", 256)),
            ref=ref,
            enable_categorical=hp.enable_categorical,
            nthread=nthread,
        )
    except MemoryError:
        raise UserError(no_room(source)) from None
    finally:
        if spill is not None:
            spill.close()
    return Channel(source.name, matrix, chunks.y, schema, chunks.weight, chunks.columns, passes)


def build(
    plan: Plan, sources: list[Source], hp: Hyperparameters, schema: Schema, profile: bool = False
) -> dict[str, Channel]:
    """The matrices of ``sources`` (train first: the others are quantized by its bins).

    ``profile``: the in-memory streaming passes over the train channel also build the
    monitoring baseline's profile (``Channel.passes``), where they see every row of its
    files. Not on the external path: memory is short there, and the baseline reads the
    channel again once the matrices are gone."""
    out: dict[str, Channel] = {}
    ref = None
    for source in sources:
        if plan.path == "whole":
            channel = _whole(source, hp, schema)
        else:
            every_row = source.name == "train" and source.shard is None
            passes = (
                TwoPasses(schema) if profile and every_row and plan.path == "quantile" else None
            )
            channel = _streamed(source, hp, schema, plan, ref, passes)
        out[source.name] = channel
        ref = ref or channel.matrix
    return out
