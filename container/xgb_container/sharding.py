"""Which rows each host trains on, and one schema for all hosts (no sockets here).

A channel with ``S3DistributionType=ShardedByS3Key`` already holds this host's rows. A
``FullyReplicated`` channel (SageMaker's default) holds every row on every host: each host
then takes its own contiguous part of every chunk it reads, so the parts are disjoint and
cover each row once without anyone counting the rows first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import UserError
from .formats import Dataset, Schema

REPLICATED = "FullyReplicated"


@dataclass(frozen=True)
class Shard:
    """The ``index``-th of ``count`` parts of a replicated channel's rows."""

    index: int
    count: int


def is_replicated(input_config: dict[str, dict[str, Any]], channel: str) -> bool:
    """Whether every host holds the whole channel (no S3DistributionType means replicated)."""
    return (input_config.get(channel) or {}).get("S3DistributionType", REPLICATED) == REPLICATED


def slice_rows(dataset: Dataset, index: int, count: int) -> Dataset | None:
    """The ``index``-th of ``count`` contiguous, disjoint parts of the rows; None if empty."""
    n = dataset.num_rows
    start, stop = n * index // count, n * (index + 1) // count
    if stop <= start:
        return None
    rows = slice(start, stop)
    weight = None if dataset.weight is None else dataset.weight[rows]
    columns = {name: values[rows] for name, values in dataset.columns.items()}
    return replace(dataset, X=dataset.X[rows], y=dataset.y[rows], weight=weight, columns=columns)


def empty_like(dataset: Dataset) -> Dataset:
    """No rows, the same columns: a channel this host lacks but others have."""
    return empty(dataset.schema, dataset.X.shape[1], sp.issparse(dataset.X), dataset.weight)


def empty(
    schema: Schema, width: int, sparse: bool = False, weight: np.ndarray | None = None
) -> Dataset:
    """A channel of ``width`` features and no rows."""
    X = sp.csr_matrix((0, width), dtype=np.float32) if sparse else np.empty((0, width), np.float32)
    w = None if weight is None else np.empty(0, np.float32)
    return Dataset(X, np.empty(0, np.float32), schema, w)


def merge_schemas(schemas: list[Schema]) -> Schema:
    """One schema for all hosts: categories and text classes are the union, sorted."""
    first = schemas[0]
    for other in schemas[1:]:
        if (other.feature_names, other.feature_types) != (first.feature_names, first.feature_types):
            raise UserError(
                "hosts read different columns from their train shards: "
                f"{first.feature_names} against {other.feature_names}"
            )
    categories = {
        name: sorted(set().union(*(s.categories.get(name, []) for s in schemas)))
        for name in first.categories
    }
    classes = first.classes
    if classes is not None and any(s.classes != classes for s in schemas):
        positives = {s.classes[-1] for s in schemas if s.classes and len(s.classes) == 2}
        if len(positives) == 1 and all(s.classes and len(s.classes) == 2 for s in schemas):
            # positive_label: codes stay 0/1, only the name of the negative class differs.
            positive = positives.pop()
            classes = [f"not {positive}", positive]
        else:
            classes = sorted(set().union(*(s.classes or [] for s in schemas)))
    return replace(first, categories=categories, classes=classes)
