"""A channel's rows as chunks for XGBoost's ``DataIter``: parsed on the first pass, the
features spilled raw to the scratch folder, replayed from there on the later passes.

XGBoost reads a ``DataIter`` several times (four passes for a ``QuantileDMatrix``, three
for ``ExtMemQuantileDMatrix``). Labels, weights and side columns are kept from the first
pass as plain arrays; a chunk holds about ``CHUNK_VALUES`` values.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import scipy.sparse as sp
import xgboost as xgb

from . import formats, memory
from .errors import UserError
from .formats import Dataset, Schema
from .hyperparameters import Hyperparameters
from .sharding import Shard, empty, slice_rows

if TYPE_CHECKING:
    from .baseline import TwoPasses

CHUNK_VALUES = 2_000_000  # values per chunk (8 MB of float32); XGB_CHUNK_VALUES overrides


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


def read_options(hp: Hyperparameters) -> dict[str, Any]:
    return {
        "label_column": hp.label_column,
        "positive_label": hp.positive_label,
        "csv_weights": hp.csv_weights,
        "exclude_columns": hp.exclude_columns,
    }


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
        profile: TwoPasses | None = None,
        workers: int = 1,
    ) -> None:
        self.source, self.hp, self.schema, self.spill = source, hp, schema, spill
        self.workers = workers  # blocks parsed at once on the first pass
        self.profile = profile  # the baseline's profile, fed by the first two passes
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
            workers=self.workers,
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
        if self.profile is not None:
            self.profile.restart()
        ys: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        columns: list[dict[str, np.ndarray]] = []
        for chunk in self._parse():
            ys.append(np.asarray(chunk.y, np.float32))
            if chunk.weight is not None:
                weights.append(np.asarray(chunk.weight, np.float32))
            columns.append(chunk.columns)
            where = self.spill.write(_arrays(chunk.X)) if self.spill else []
            if self.profile is not None:
                self.profile.first_pass(chunk.X)
            self.parts.append((rows, rows + chunk.num_rows, where))
            rows += chunk.num_rows
            yield chunk.X, ys[-1], weights[-1] if weights else None
        self.y = np.concatenate(ys) if ys else np.empty(0, np.float32)
        self.weight = np.concatenate(weights) if weights else None
        names = columns[0].keys() if columns else ()
        self.columns = {n: np.concatenate([c[n] for c in columns]) for n in names}
        self.read_once = True
        if self.profile is not None:
            self.profile.fix_edges()

    def _again(self) -> Iterator[Batch]:
        profile = self.profile
        if profile is not None and profile.counting:
            # counted already (or a pass broke off: then the profile stays unfinished)
            profile = None
        elif profile is not None:
            profile.counting = True
        if self.spill is None:
            batches = ((c.X, c.y, c.weight) for c in self._parse())
        else:
            batches = (
                (
                    _matrix(self.spill.read(where)),
                    self.y[start:stop],
                    None if self.weight is None else self.weight[start:stop],
                )
                for start, stop, where in self.parts
            )
        for batch in batches:
            if profile is not None:
                profile.second_pass(batch[0])
            yield batch
        if profile is not None:
            profile.done = True  # the second pass saw every chunk

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
            raise UserError(no_room(self.source)) from None
        self._fed += 1
        input_data(
            data=X,
            label=y,
            weight=weight,
            feature_names=self.schema.feature_names if self.named else None,
            feature_types=self.schema.feature_types if self.named else None,
        )
        return True


def no_room(source: Source) -> str:
    files = source.files
    largest = max(files, key=memory.file_size) if files else source.folder
    return (
        f"{largest}: channel {source.name} does not fit in memory; "
        "set external_memory=true or use an instance with more memory"
    )
