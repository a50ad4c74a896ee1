"""Reading SageMaker channels into arrays that XGBoost trains on and serving reads alike."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import UserError
from .metadata import ModelMetadata

CSV = "text/csv"
LIBSVM = "text/libsvm"
PARQUET = "application/x-parquet"
FORMATS = {CSV: "csv", LIBSVM: "libsvm", PARQUET: "parquet"}


@dataclass
class Schema:
    """Feature layout learnt from the train channel and imposed on the others."""

    input_format: str
    feature_names: list[str]
    feature_types: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    label_column: str | None = None
    classes: list[str] | None = None

    @classmethod
    def from_metadata(cls, meta: ModelMetadata) -> Schema:
        """The schema a trained model recorded in its ``metadata.json``."""
        return cls(
            meta.input_format,
            list(meta.feature_names),
            list(meta.feature_types),
            dict(meta.categories),
            meta.label_column,
            list(meta.classes) if meta.classes else None,
        )


@dataclass
class Dataset:
    """Features, labels and optional weights of one channel."""

    X: np.ndarray | sp.csr_matrix
    y: np.ndarray
    schema: Schema
    weight: np.ndarray | None = None
    # Raw values of side columns kept out of (or beside) the features, e.g. protected
    # attributes for the bias report: name -> one value per row (text or number).
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return self.X.shape[0]


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """Split ``text/csv; header=present`` into the media type and its parameters."""
    media, *params = (value or CSV).split(";")
    options = {}
    for param in params:
        key, _, val = param.partition("=")
        options[key.strip().lower()] = val.strip().strip('"').lower()
    media = media.strip().lower()
    if media in ("csv", "text/x-csv"):
        media = CSV
    if media in ("libsvm", "text/x-libsvm"):
        media = LIBSVM
    if media in ("parquet", "application/parquet"):
        media = PARQUET
    if media not in FORMATS:
        supported = ", ".join(FORMATS)
        raise UserError(f"content type {value!r} is not supported; use one of {supported}")
    return media, options


def channel_files(folder: Path) -> list[Path]:
    """Data files of a channel, sub-folders included, in a stable order; hidden files skipped."""
    if not folder.is_dir():
        return []
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(files)


def read_bytes(path: Path) -> bytes:
    """File contents, gunzipped when the file is gzip-compressed (by its magic bytes)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UserError(f"{path}: broken gzip file ({exc})") from None
    return raw


def _bad_cell(frame: pd.DataFrame) -> tuple[int, int, str] | None:
    """First (row, column, text) of a string frame that is not a number."""
    for col in frame.columns:
        values = frame[col]
        bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            return row, int(col), str(values.iloc[row])
    return None


def read_plain_csv(path: Path) -> np.ndarray:
    """A headerless numeric CSV file as a float32 matrix (empty cells become NaN)."""
    raw = read_bytes(path)
    try:
        return pd.read_csv(
            io.BytesIO(raw), header=None, dtype=np.float32, skip_blank_lines=False
        ).to_numpy()
    except pd.errors.EmptyDataError:
        return np.empty((0, 0), dtype=np.float32)
    except pd.errors.ParserError as exc:
        raise UserError(f"{path}: cannot parse CSV: {str(exc).splitlines()[-1]}") from None
    except ValueError:
        frame = pd.read_csv(io.BytesIO(raw), header=None, dtype=str, skip_blank_lines=False)
        found = _bad_cell(frame)
        if found is None:
            raise
        row, col, text = found
        raise UserError(
            f"{path}: line {row + 1}, column {col + 1}: {text!r} is not a number"
        ) from None


def read_table(path: Path, input_format: str) -> pd.DataFrame:
    """A file with named columns (header CSV or Parquet) as a data frame."""
    try:
        if input_format == "parquet":
            return pd.read_parquet(io.BytesIO(read_bytes(path)))
        return pd.read_csv(io.BytesIO(read_bytes(path)), skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        message = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: cannot parse {input_format}: {message}") from None


def read_libsvm(path: Path, n_features: int | None) -> tuple[sp.csr_matrix, np.ndarray]:
    """A LibSVM file with indices used exactly as written (index ``i`` is column ``i``)."""
    from sklearn.datasets import load_svmlight_file

    try:
        X, y = load_svmlight_file(
            io.BytesIO(read_bytes(path)),
            n_features=n_features,
            zero_based=True,
            dtype=np.float32,
        )
    except ValueError as exc:
        raise UserError(f"{path}: cannot parse LibSVM: {exc}") from None
    return X.tocsr(), y.astype(np.float32)


def encode_categorical(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Codes of ``values`` in ``categories`` as float32; unknown or missing values are NaN."""
    codes = pd.Index(categories).get_indexer(values.astype("string").str.strip())
    out = codes.astype(np.float32)
    out[codes < 0] = np.nan
    return out


def _encode_labels(
    values: pd.Series, positive_label: str | None, classes: list[str] | None, where: str
) -> tuple[np.ndarray, list[str] | None]:
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise UserError(f"{where}: row {row + 1} has no label")
    if positive_label is not None:
        text = values.astype("string").str.strip()
        positive = text.str.lower() == positive_label.lower()
        others = sorted(set(text[~positive]))
        negative = others[0] if len(others) == 1 else f"not {positive_label}"
        return positive.to_numpy(dtype=np.float32), classes or [negative, positive_label]
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.float32), None
    text = values.astype("string").str.strip()
    classes = classes or sorted(set(text))
    codes = pd.Index(classes).get_indexer(text)
    if (codes < 0).any():
        bad = text[codes < 0].iloc[0]
        raise UserError(f"{where}: label {bad!r} is not one of the training labels {classes}")
    return codes.astype(np.float32), classes


def table_to_dataset(
    frame: pd.DataFrame,
    input_format: str,
    label_column: str | None,
    positive_label: str | None,
    schema: Schema | None,
    where: str,
    exclude_columns: tuple[str, ...] = (),
    side_columns: tuple[str, ...] = (),
) -> Dataset:
    """Split a named table into label and features; text columns become categorical.

    ``exclude_columns`` are left out of the features; ``side_columns`` (features or
    excluded columns) are kept raw in ``Dataset.columns``.
    """
    frame.columns = [str(c).strip() for c in frame.columns]
    label_column = label_column or (schema.label_column if schema else None)
    if not label_column:
        raise UserError(
            f"{where}: a table with a header needs the hyperparameter label_column "
            f"(one of {list(frame.columns)})"
        )
    if label_column not in frame.columns:
        raise UserError(
            f"{where}: label_column {label_column!r} is not a column (have {list(frame.columns)})"
        )
    y, classes = _encode_labels(
        frame[label_column], positive_label, schema.classes if schema else None, where
    )
    absent = [c for c in (*exclude_columns, *side_columns) if c not in frame.columns]
    if absent:
        raise UserError(
            f"{where}: columns {absent} are not in the table (have {list(frame.columns)})"
        )
    side = {c: frame[c].to_numpy() for c in side_columns}
    features = frame.drop(columns=[label_column, *exclude_columns])
    if schema is None:
        names = list(features.columns)
        types = [
            "q"
            if pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c])
            else "c"
            for c in names
        ]
        categories = {
            n: sorted(set(features[n].dropna().astype("string").str.strip()))
            for n, t in zip(names, types, strict=True)
            if t == "c"
        }
        schema = Schema(input_format, names, types, categories, label_column, classes)
    missing = [n for n in schema.feature_names if n not in features.columns]
    extra = [n for n in features.columns if n not in schema.feature_names]
    if missing or extra:
        raise UserError(
            f"{where}: columns differ from the train channel (missing {missing}, unexpected {extra})"
        )
    X = np.empty((len(features), len(schema.feature_names)), dtype=np.float32)
    for i, (name, kind) in enumerate(zip(schema.feature_names, schema.feature_types, strict=True)):
        column = features[name]
        if kind == "c":
            X[:, i] = encode_categorical(column, schema.categories[name])
        else:
            numeric = pd.to_numeric(column, errors="coerce")
            bad = numeric.isna() & column.notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise UserError(
                    f"{where}: row {row + 1}, column {name!r}: {column.iloc[row]!r} is not a number"
                )
            X[:, i] = numeric.to_numpy(dtype=np.float32)
    return Dataset(X, y, schema, columns=side)


def _plain_csv_dataset(
    matrices: list[tuple[Path, np.ndarray]], csv_weights: bool, schema: Schema | None
) -> Dataset:
    first_cols = 2 if csv_weights else 1
    widths = {m.shape[1] for _, m in matrices}
    if len(widths) > 1:
        detail = ", ".join(f"{p.name}: {m.shape[1]}" for p, m in matrices)
        raise UserError(f"CSV files of one channel have different column counts ({detail})")
    data = np.concatenate([m for _, m in matrices])
    if data.shape[1] <= first_cols:
        raise UserError(
            f"CSV rows need a label{' and a weight' if csv_weights else ''} "
            f"followed by features; got {data.shape[1]} column(s)"
        )
    y = data[:, 0]
    if np.isnan(y).any():
        raise UserError(f"row {int(np.flatnonzero(np.isnan(y))[0]) + 1} has no label (column 1)")
    weight = data[:, 1] if csv_weights else None
    X = np.ascontiguousarray(data[:, first_cols:])
    if schema is None:
        n = X.shape[1]
        schema = Schema("csv", [f"f{i}" for i in range(n)], ["q"] * n)
    return Dataset(X, y, schema, weight)


def load_channel(
    folder: Path,
    content_type: str | None,
    *,
    label_column: str | None = None,
    positive_label: str | None = None,
    csv_weights: bool = False,
    schema: Schema | None = None,
    exclude_columns: tuple[str, ...] = (),
    side_columns: tuple[str, ...] = (),
) -> Dataset | None:
    """Read every file of a channel; ``None`` when the channel has no files.

    ``exclude_columns`` and ``side_columns`` name columns of header tables (see
    ``table_to_dataset``); for nameless formats a side column is a feature (``f3``), kept
    as its numeric value.

    ``schema`` (from the train channel) is imposed on validation and test channels so
    that categories and column order match.
    """
    media, options = parse_content_type(content_type)
    files = channel_files(folder)
    if not files:
        return None
    input_format = FORMATS[media]
    if media == CSV and options.get("header") == "present":
        input_format = "csv-header"
    if input_format == "csv":
        matrices = [(p, read_plain_csv(p)) for p in files]
        matrices = [(p, m) for p, m in matrices if m.size]
        if not matrices:
            return None
        dataset = _plain_csv_dataset(matrices, csv_weights, schema)
    elif input_format == "libsvm":
        n_features = schema.feature_names and len(schema.feature_names) if schema else None
        parts = [read_libsvm(p, n_features) for p in files]
        width = max(x.shape[1] for x, _ in parts)
        X = sp.vstack([sp.csr_matrix(x, shape=(x.shape[0], width)) for x, _ in parts]).tocsr()
        y = np.concatenate([y for _, y in parts])
        if X.shape[0] == 0:
            return None
        schema = schema or Schema("libsvm", [f"f{i}" for i in range(width)], ["q"] * width)
        dataset = Dataset(X, y, schema)
    else:
        frame = pd.concat([read_table(p, input_format) for p in files], ignore_index=True)
        if frame.empty:
            return None
        dataset = table_to_dataset(
            frame,
            input_format,
            label_column,
            positive_label,
            schema,
            str(folder),
            exclude_columns,
            side_columns,
        )
    if input_format in ("csv", "libsvm") and (exclude_columns or side_columns):
        names = dataset.schema.feature_names
        unknown = [c for c in (*exclude_columns, *side_columns) if c not in names]
        if exclude_columns or unknown:
            raise UserError(
                f"{folder}: exclude_columns and side columns need a header table or features "
                f"named {names[0]}..{names[-1]}; got {list(exclude_columns) or unknown}"
            )
        dense = dataset.X.toarray() if sp.issparse(dataset.X) else dataset.X
        dataset.columns = {c: np.asarray(dense[:, names.index(c)]).ravel() for c in side_columns}
    if schema is not None and dataset.X.shape[1] != len(schema.feature_names):
        raise UserError(
            f"channel {folder.name} has {dataset.X.shape[1]} features but the train channel "
            f"has {len(schema.feature_names)}"
        )
    return dataset
