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

XGBoost reads a ``DataIter`` several times (four passes for a ``QuantileDMatrix``). The
first pass parses the files and spills each chunk's arrays raw into the scratch folder;
later passes read them back instead of parsing again. Labels, weights and side columns are
kept from the first pass as plain arrays.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import scipy.sparse as sp
import xgboost as xgb

from . import formats, memory
from .cpus import available_cpus
from .errors import UserError
from .formats import Dataset, Schema
from .hyperparameters import Hyperparameters
from .sharding import Shard, empty, slice_rows

CHUNK_VALUES = 2_000_000  # values per chunk (8 MB of float32); XGB_CHUNK_VALUES overrides
# Fraction of the memory left that the estimated matrix may take before ``auto`` goes external.
FIT_FRACTION = 0.5
MB = 1 << 20


@dataclass(frozen=True)
class Source:
    """Where a channel's rows come from; ``shard`` takes part of a replicated channel."""

    name: str
    folder: Path
    content_type: str | None
    shard: Shard | None = None

    @property
    def files(self) -> list[Path]:
        return formats.channel_files(self.folder)


@dataclass
class Channel:
    """One channel as XGBoost's matrix plus the plain arrays kept beside it."""

    name: str
    matrix: xgb.DMatrix
    y: np.ndarray
    schema: Schema
    weight: np.ndarray | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)

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


def read_options(hp: Hyperparameters) -> dict[str, Any]:
    return {
        "label_column": hp.label_column,
        "positive_label": hp.positive_label,
        "csv_weights": hp.csv_weights,
        "exclude_columns": hp.exclude_columns,
    }


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


def chunk_values() -> int:
    """Values per chunk: ``XGB_CHUNK_VALUES`` (at least 1,000) or ``CHUNK_VALUES``."""
    text = os.environ.get("XGB_CHUNK_VALUES", "").strip()
    if not text:
        return CHUNK_VALUES
    if not text.isdigit() or int(text) < 1000:
        raise UserError(
            f"environment variable XGB_CHUNK_VALUES={text!r} must be an integer >= 1000"
        )
    return int(text)


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


class Spill:
    """Arrays written raw to one file and read back one chunk at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO | None = path.open("w+b")
        self.offset = 0

    def write(self, arrays: list[np.ndarray]) -> list[tuple[np.dtype, tuple, int]]:
        assert self.file is not None
        self.file.seek(self.offset)
        where = []
        for a in arrays:
            a = np.ascontiguousarray(a)
            self.file.write(a.tobytes())
            where.append((a.dtype, a.shape, self.offset))
            self.offset += a.nbytes
        return where

    def rewind(self) -> None:
        assert self.file is not None
        self.file.seek(0)
        self.file.truncate()
        self.offset = 0

    def read(self, where: list[tuple[np.dtype, tuple, int]]) -> list[np.ndarray]:
        assert self.file is not None
        self.file.flush()
        out = []
        for dtype, shape, offset in where:
            count = int(np.prod(shape))
            self.file.seek(offset)
            out.append(np.fromfile(self.file, dtype=dtype, count=count).reshape(shape))
        return out

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        self.path.unlink(missing_ok=True)


def _arrays(X: np.ndarray | sp.csr_matrix) -> list[np.ndarray]:
    if sp.issparse(X):
        csr = sp.csr_matrix(X)
        return [csr.data, csr.indices, csr.indptr, np.array(csr.shape, np.int64)]
    return [np.asarray(X, dtype=np.float32)]


def _matrix(arrays: list[np.ndarray]) -> np.ndarray | sp.csr_matrix:
    if len(arrays) == 1:
        return arrays[0]
    data, indices, indptr, shape = arrays
    return sp.csr_matrix((data, indices, indptr), shape=tuple(int(v) for v in shape))


Batch = tuple[np.ndarray | sp.csr_matrix, np.ndarray, np.ndarray | None]


class Chunks(xgb.DataIter):
    """A channel's chunks for XGBoost: parsed on the first pass, spilled, replayed after."""

    def __init__(
        self,
        source: Source,
        hp: Hyperparameters,
        schema: Schema,
        spill: Spill | None,
        cache_prefix: str | None = None,
    ) -> None:
        self.source, self.hp, self.schema, self.spill = source, hp, schema, spill
        self.chunk_rows = max(64, chunk_values() // max(1, len(schema.feature_names)))
        self.named = schema.input_format not in ("csv", "libsvm")
        self.parts: list[tuple[int, int, list]] = []  # rows start, stop, spilled arrays
        self.y = np.empty(0, np.float32)
        self.weight: np.ndarray | None = None
        self.columns: dict[str, np.ndarray] = {}
        self.read_once = False
        self._pass: Iterator[Batch] | None = None
        self._fed = 0
        super().__init__(cache_prefix=cache_prefix, release_data=True)

    @property
    def num_rows(self) -> int:
        return int(self.y.shape[0])

    def _parse(self) -> Iterator[Dataset]:
        width = len(self.schema.feature_names)
        for chunk in formats.iter_chunks(
            self.source.folder,
            self.source.content_type,
            **read_options(self.hp),
            schema=self.schema,
            chunk_rows=self.chunk_rows,
        ):
            if self.source.shard is not None:
                chunk = slice_rows(chunk, self.source.shard.index, self.source.shard.count)
                if chunk is None:
                    continue
            if chunk.X.shape[1] != width:
                raise UserError(
                    f"channel {self.source.name} has {chunk.X.shape[1]} features but the "
                    f"train channel has {width}"
                )
            yield chunk

    def _first(self) -> Iterator[Batch]:
        """Parse, keeping labels, weights and side columns, and spill the features."""
        self.parts, rows = [], 0
        ys: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        columns: list[dict[str, np.ndarray]] = []
        for chunk in self._parse():
            ys.append(np.asarray(chunk.y, np.float32))
            if chunk.weight is not None:
                weights.append(np.asarray(chunk.weight, np.float32))
            columns.append(chunk.columns)
            where = self.spill.write(_arrays(chunk.X)) if self.spill else []
            self.parts.append((rows, rows + chunk.num_rows, where))
            rows += chunk.num_rows
            yield chunk.X, ys[-1], weights[-1] if weights else None
        self.y = np.concatenate(ys) if ys else np.empty(0, np.float32)
        self.weight = np.concatenate(weights) if weights else None
        names = columns[0].keys() if columns else ()
        self.columns = {n: np.concatenate([c[n] for c in columns]) for n in names}
        self.read_once = True

    def _again(self) -> Iterator[Batch]:
        if self.spill is None:
            for chunk in self._parse():
                yield chunk.X, chunk.y, chunk.weight
            return
        for start, stop, where in self.parts:
            weight = None if self.weight is None else self.weight[start:stop]
            yield _matrix(self.spill.read(where)), self.y[start:stop], weight

    def reset(self) -> None:
        if not self.read_once and self.spill is not None:
            self.spill.rewind()
        self._pass = None
        self._fed = 0

    def next(self, input_data: Callable[..., None]) -> bool:
        if self._pass is None:
            self._pass = self._again() if self.read_once else self._first()
        try:
            X, y, weight = next(self._pass)
        except StopIteration:
            if self._fed:
                return False
            # XGBoost needs at least one batch: a host's empty share is an empty one.
            X, y, weight = empty(self.schema, len(self.schema.feature_names)).X, self.y, None
        except MemoryError:
            raise UserError(_no_room(self.source)) from None
        self._fed += 1
        input_data(
            data=X,
            label=y,
            weight=weight,
            feature_names=self.schema.feature_names if self.named else None,
            feature_types=self.schema.feature_types if self.named else None,
        )
        return True


def _no_room(source: Source) -> str:
    files = source.files
    largest = max(files, key=memory.file_size) if files else source.folder
    return (
        f"{largest}: channel {source.name} does not fit in memory; "
        "set external_memory=true or use an instance with more memory"
    )


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
) -> Channel:
    check_categorical(schema, hp)
    spill = Spill(plan.scratch / f"{source.name}.spill") if plan.spill else None
    external = plan.path == "external"
    cache = str(plan.scratch / f"{source.name}-cache") if external else None
    chunks = Chunks(source, hp, schema, spill, cache_prefix=cache)
    kind = xgb.ExtMemQuantileDMatrix if external else xgb.QuantileDMatrix
    nthread = int(hp.params.get("nthread") or hp.params.get("n_jobs") or available_cpus())
    try:
        matrix = kind(
            chunks,
            max_bin=int(hp.params.get("max_bin", 256)),
            ref=ref,
            enable_categorical=hp.enable_categorical,
            nthread=nthread,
        )
    except MemoryError:
        raise UserError(_no_room(source)) from None
    finally:
        if spill is not None:
            spill.close()
    return Channel(source.name, matrix, chunks.y, schema, chunks.weight, chunks.columns)


def build(
    plan: Plan, sources: list[Source], hp: Hyperparameters, schema: Schema
) -> dict[str, Channel]:
    """The matrices of ``sources`` (train first: the others are quantized by its bins)."""
    out: dict[str, Channel] = {}
    ref = None
    for source in sources:
        if plan.path == "whole":
            channel = _whole(source, hp, schema)
        else:
            channel = _streamed(source, hp, schema, plan, ref)
        out[source.name] = channel
        ref = ref or channel.matrix
    return out
