"""LibSVM (``label index:value ...``): indices are used as written, index ``i`` is feature
``i``, for training (blocks of lines) and serving (request bodies) alike."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..errors import UserError
from . import rows as rowlib
from .files import BLOCK_BYTES, blocks
from .schema import Schema


def _parse(block: bytes, n_features: int | None) -> tuple[sp.csr_matrix, np.ndarray]:
    from sklearn.datasets import load_svmlight_file

    X, y = load_svmlight_file(
        io.BytesIO(block), n_features=n_features, zero_based=True, dtype=np.float32
    )
    return X.tocsr(), y.astype(np.float32)


def chunks(
    path: Path, n_features: int | None, block_bytes: int = BLOCK_BYTES
) -> Iterator[tuple[int, sp.csr_matrix, np.ndarray]]:
    """A LibSVM file as (first line, features, labels) blocks; ``n_features`` (when known)
    is every block's width, else each block is as wide as its largest index."""
    for line, block in blocks(path, block_bytes):
        try:
            X, y = _parse(block, n_features)
        except ValueError as exc:
            raise UserError(f"{path}: cannot parse LibSVM near line {line}: {exc}") from None
        if X.shape[0]:
            yield line, X, y


def width(path: Path, block_bytes: int = BLOCK_BYTES) -> int:
    """One more than the largest feature index of a file (a first pass)."""
    return max((X.shape[1] for _, X, _ in chunks(path, None, block_bytes)), default=0)


def decode(body: bytes, schema: Schema) -> np.ndarray:
    """``[label] index:value ...`` per line; the label, if any, is ignored."""
    lines = rowlib.lines(rowlib.text(body))
    X = np.full((len(lines), schema.count), np.nan, dtype=np.float32)
    for i, line in enumerate(lines):
        tokens = line.split("#", 1)[0].split()
        if tokens and ":" not in tokens[0]:
            tokens = tokens[1:]  # the label, which serving ignores
        for n, token in enumerate(tokens):
            index, sep, value = token.partition(":")
            if index == "qid":
                continue
            where = f"line {i + 1}, entry {n + 1}"
            try:
                j, v = int(index), float(value)
            except ValueError:
                raise UserError(f"{where}: {token!r} is not index:value") from None
            if not sep or not 0 <= j < schema.count:
                raise UserError(
                    f"{where}: index {index} is outside 0..{schema.count - 1} "
                    "(indices are used as written, index i is feature i)"
                )
            X[i, j] = v
    return X
