"""The model at serving time: load and check it, then turn feature rows into predictions."""

from __future__ import annotations

import ctypes
import json
import math
import threading
from pathlib import Path

import numpy as np
import xgboost as xgb

from .errors import UserError
from .metadata import ModelMetadata
from .modelfiles import read_model_folder
from .paths import METADATA_FILE, MODEL_FILE, Layout

BINARY = ("binary:logistic", "binary:logitraw", "binary:hinge")
MULTICLASS = ("multi:softprob", "multi:softmax")

# What a row can return, by kind of model; the first entry is the default.
OUTPUTS = {
    "binary": (
        "probability",
        "predicted_label",
        "probabilities",
        "labels",
        "raw_score",
        "predicted_score",
    ),
    "multiclass": ("probabilities", "predicted_label", "probability", "labels", "raw_scores"),
    "regression": ("predicted_score", "raw_score"),
}


class DensePredictor:
    """``Booster.inplace_predict`` on a C-contiguous float32 matrix, without its per-call
    work (input type dispatch, argument JSON, feature validation): the arguments are built
    once, since the model's metadata already fixes the input layout. Falls back to
    ``inplace_predict`` if XGBoost's C entry point is not where this version expects it.

    Each thread passes XGBoost a proxy DMatrix of its own, made once: without one, XGBoost
    makes a new proxy per call, and with it a context that reads the cgroup CPU quota
    files (three ``stat`` and two ``open``/``read``/``close`` per prediction: about 12 us
    of a 1-row prediction's 28 here, some 45 us with the cold caches of a served request)."""

    def __init__(self, booster: xgb.Booster, iteration_range: tuple[int, int]) -> None:
        self.booster = booster
        self.iteration_range = iteration_range
        core = xgb.core
        self.lib = getattr(getattr(core, "_LIB", None), "XGBoosterPredictFromDense", None)
        self.check = getattr(core, "_check_call", None)
        self.proxy_class = getattr(core, "_ProxyDMatrix", None)
        self.local = threading.local()
        self.args = {
            kind: json.dumps(
                {
                    "type": 1 if kind == "margin" else 0,
                    "training": False,
                    "iteration_begin": iteration_range[0],
                    "iteration_end": iteration_range[1],
                    "missing": float("nan"),
                    "strict_shape": False,
                    "cache_id": 0,
                }
            ).encode()
            for kind in ("value", "margin")
        }

    def __call__(self, X: np.ndarray, kind: str = "value") -> np.ndarray:
        if self.lib is None or self.check is None:
            return self.booster.inplace_predict(
                X, predict_type=kind, iteration_range=self.iteration_range, validate_features=False
            )
        X = np.ascontiguousarray(X, dtype=np.float32)
        interface = (
            f'{{"data":[{X.ctypes.data},false],"shape":[{X.shape[0]},{X.shape[1]}],'
            '"strides":null,"typestr":"<f4","version":3}'
        ).encode()
        shape = ctypes.POINTER(ctypes.c_uint64)()
        dims = ctypes.c_uint64()
        preds = ctypes.POINTER(ctypes.c_float)()
        self.check(
            self.lib(
                self.booster.handle,
                interface,
                self.args[kind],
                self.proxy(),
                ctypes.byref(shape),
                ctypes.byref(dims),
                ctypes.byref(preds),
            )
        )
        out_shape = tuple(int(shape[i]) for i in range(dims.value))
        size = math.prod(out_shape)
        # The buffer belongs to the Booster and is reused by its next call: copy it out.
        return np.ctypeslib.as_array(preds, (size,)).reshape(out_shape).copy()

    def proxy(self) -> ctypes.c_void_p | None:
        """This thread's proxy DMatrix handle (``None``: XGBoost makes one per call)."""
        made = getattr(self.local, "proxy", None)
        if made is None and self.proxy_class is not None:
            made = self.local.proxy = self.proxy_class()
        return made.handle if made is not None else None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_pickle(raw: bytes) -> bool:
    """Python pickles (and joblib files) start with the PROTO opcode, 0x80, then 2 to 5."""
    return len(raw) > 1 and raw[0] == 0x80 and 2 <= raw[1] <= 5


def read_booster(raw: bytes, path: Path) -> xgb.Booster:
    """An XGBoost model in XGBoost's own format (UBJSON or JSON); never a pickle."""
    if not raw:
        raise UserError(f"model file {path} is empty")
    if _is_pickle(raw):
        raise UserError(
            f"model file {path} is a Python pickle, which this container refuses to load "
            "(unpickling runs code); save it with booster.save_model('xgboost-model.ubj') "
            "and rename it to xgboost-model"
        )
    booster = xgb.Booster(params={"nthread": 1})
    try:
        booster.load_model(bytearray(raw))
    except xgb.core.XGBoostError as exc:
        raise UserError(f"model file {path} is not an XGBoost model: {_first_line(exc)}") from None
    return booster


def metadata_from_booster(booster: xgb.Booster) -> ModelMetadata:
    """Metadata for a model trained elsewhere (no metadata.json): read from the model itself."""
    learner = json.loads(booster.save_config())["learner"]
    n = booster.num_features()
    return ModelMetadata(
        feature_names=list(booster.feature_names or [f"f{i}" for i in range(n)]),
        feature_types=list(booster.feature_types or ["q"] * n),
        objective=learner["objective"]["name"],
        input_format="csv",
        xgboost_version=xgb.__version__,
        num_class=int(learner["learner_model_param"].get("num_class", 0)),
    )


def check_metadata(meta: ModelMetadata, booster: xgb.Booster, where: Path) -> None:
    """Refuse metadata that does not describe ``booster``."""
    n = booster.num_features()
    if meta.num_features != n:
        raise UserError(f"{where}: lists {meta.num_features} features but the model has {n}")
    if len(meta.feature_types) != n or set(meta.feature_types) - {"q", "c"}:
        raise UserError(f"{where}: feature_types must hold one 'q' or 'c' per feature")
    missing = [
        name
        for name, kind in zip(meta.feature_names, meta.feature_types, strict=True)
        if kind == "c" and name not in meta.categories
    ]
    if missing:
        raise UserError(f"{where}: categorical features {missing} have no categories")


class Model:
    """A Booster with its metadata, predicting with one thread."""

    def __init__(self, booster: xgb.Booster, meta: ModelMetadata, digest: str = "") -> None:
        self.booster = booster
        self.meta = meta
        self.digest = digest  # the content identity of the files it was read from
        learner = json.loads(booster.save_config())["learner"]
        self.objective = learner["objective"]["name"]
        if self.objective in BINARY:
            self.kind = "binary"
        elif self.objective in MULTICLASS:
            self.kind = "multiclass"
        else:
            self.kind = "regression"
        self.num_class = int(learner["learner_model_param"].get("num_class", 0) or 0)
        count = 2 if self.kind == "binary" else self.num_class
        self.classes: list = list(meta.classes) if meta.classes else list(range(count))
        self.labels = np.array(self.classes, dtype=object)
        rounds = booster.num_boosted_rounds()
        best = meta.best_iteration
        self.iteration_range = (0, best + 1) if best is not None and best + 1 < rounds else (0, 0)
        self.dense = DensePredictor(booster, self.iteration_range)

    @classmethod
    def load(cls, model_dir: Path) -> Model:
        """Load and check ``model_dir``; every problem is a ``UserError`` naming it."""
        configured = model_dir == Layout.from_env().model_dir
        files = read_model_folder(model_dir, list_contents=configured)
        booster = read_booster(files.model, model_dir / MODEL_FILE)
        if files.metadata is not None:
            meta_file = model_dir / METADATA_FILE
            meta = ModelMetadata.parse(files.metadata, meta_file)
            check_metadata(meta, booster, meta_file)
        else:
            meta = metadata_from_booster(booster)
        booster.set_param({"nthread": 1})
        return cls(booster, meta, files.digest)

    def _values(self, X: np.ndarray, kind: str = "value") -> np.ndarray:
        return self.dense(X, kind)

    def predict(self, X: np.ndarray, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The requested output ``fields`` for each row of ``X`` (float32, one column per feature).

        Per-row outputs are arrays of ``len(X)`` (or ``len(X) x classes``); ``labels`` is the
        list of class names, the same for every row.
        """
        value = self._values(X)
        if fields == ("probability",) and self.objective == "binary:logistic":
            return {"probability": value}  # the common case, without extra work
        out: dict[str, np.ndarray] = {}
        margin = None
        if "raw_score" in fields or "raw_scores" in fields or self.objective == "multi:softmax":
            margin = self._values(X, "margin")
            out["raw_score" if self.kind != "multiclass" else "raw_scores"] = margin
        if self.kind == "regression":
            out["predicted_score"] = value
            return out
        if self.kind == "binary":
            prob = 1.0 / (1.0 + np.exp(-value)) if self.objective == "binary:logitraw" else value
            out["predicted_score"] = value
            out["probability"] = prob
            positive = prob >= self.meta.threshold
            out["probabilities"] = np.column_stack([1.0 - prob, prob])
        else:
            if self.objective == "multi:softmax":
                shifted = np.exp(margin - margin.max(axis=1, keepdims=True))
                probs = shifted / shifted.sum(axis=1, keepdims=True)
            else:
                probs = value.reshape(len(X), -1)
            out["probabilities"] = probs
            positive = probs.argmax(axis=1)
            out["probability"] = probs.max(axis=1)
        if "predicted_label" in fields:
            out["predicted_label"] = self.labels[positive.astype(np.intp)]
        out["labels"] = self.labels
        return out

    def contributions(self, X: np.ndarray, predicted: np.ndarray | None = None) -> np.ndarray:
        """SHAP values, one row per input row: one column per feature, then the bias.

        For a multi-class model, the values of the class each row is assigned (``predicted``).
        """
        matrix = xgb.DMatrix(
            X,
            feature_names=self.meta.feature_names,
            feature_types=self.meta.feature_types,
            enable_categorical=True,
            nthread=1,
        )
        values = self.booster.predict(
            matrix, pred_contribs=True, iteration_range=self.iteration_range
        )
        if values.ndim == 3:
            rows = np.arange(len(X))
            values = values[rows, predicted if predicted is not None else 0]
        return values
