"""Hyperparameters: the container's own plus every XGBoost training parameter.

SageMaker passes every value as a string, and the SageMaker SDKs JSON-encode some of them
(SDK v2 framework estimators every value: ``"\"binary:logistic\""``; SDK v3 ``ModelTrainer``
every non-string: ``"[\"auc\", \"logloss\"]"``, ``"true"``, ``"0.1"``): ``plain`` reads each
value as the text its JSON value spells, and a plain string stays as it is. The container's
own parameters are parsed and checked here. XGBoost's parameters are checked by XGBoost itself: the job's parameters
configure a booster on a two-row matrix, so names, aliases, types, ranges and choices are
always those of the installed XGBoost, never a copied list that goes stale. Nothing is
ever evaluated; constraint lists are read with ``ast.literal_eval``.
"""

from __future__ import annotations

import ast
import difflib
import functools
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb

from .bias import Protected, parse_columns
from .errors import UserError

TRUE = ("1", "true", "yes")
FALSE = ("0", "false", "no")


def _int(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise ValueError(f"must be at least {low}")
        return value

    parse.__doc__ = f"an integer >= {low}"
    return parse


def _bool(text: str) -> bool:
    """true or false (1 or 0)"""
    if text.lower() in TRUE:
        return True
    if text.lower() in FALSE:
        return False
    raise ValueError("must be true or false (1 or 0)")


def _text(text: str) -> str:
    """a non-empty text"""
    if not text:
        raise ValueError("must not be empty")
    return text


def _threshold(text: str) -> float | str:
    """a number between 0 and 1, or f1_best"""
    if text.lower() == "f1_best":
        return "f1_best"
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1, or f1_best")
    return value


def _auto_or_bool(text: str) -> str:
    """true, false or auto"""
    if text.lower() == "auto":
        return "auto"
    return "true" if _bool(text) else "false"


def _names(text: str) -> tuple[str, ...]:
    """comma-separated column names"""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ValueError("must name at least one column")
    return names


# The container's own hyperparameters (not passed to XGBoost) and their parsers.
OWN: dict[str, Callable[[str], Any]] = {
    "num_round": _int(1),
    "early_stopping_rounds": _int(1),
    "csv_weights": _bool,
    "checkpoint_frequency": _int(1),
    "label_column": _text,
    "positive_label": _text,
    "decision_threshold": _threshold,
    "enable_categorical": _bool,
    "save_model_on_termination": _bool,
    "protected_columns": parse_columns,
    "exclude_columns": _names,
    "external_memory": _auto_or_bool,  # streaming into ExtMemQuantileDMatrix (matrices.py)
}

# XGBoost parameters that decide which others apply (checked first, alone).
CONTEXT = ("booster", "objective", "tree_method", "device", "num_class")
# XGBoost parameters whose value is a structure rather than a scalar.
STRUCTURED = ("monotone_constraints", "interaction_constraints")


@dataclass
class Hyperparameters:
    """Parsed hyperparameters: ``params`` goes to ``xgboost.train`` as it is."""

    num_round: int
    params: dict[str, Any] = field(default_factory=dict)
    early_stopping_rounds: int | None = None
    csv_weights: bool = False
    checkpoint_frequency: int = 10
    label_column: str | None = None
    positive_label: str | None = None
    decision_threshold: float | str = 0.5
    enable_categorical: bool = True
    save_model_on_termination: bool = True
    protected_columns: tuple[Protected, ...] = ()
    exclude_columns: tuple[str, ...] = ()
    external_memory: str = "auto"


def parse(raw: dict[str, Any]) -> Hyperparameters:
    """Check and convert the strings of ``hyperparameters.json``."""
    own: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for name, value in raw.items():
        text = plain(value)
        # sagemaker_* keys come from the SageMaker Python SDK, _* ones from tuning jobs.
        if name.startswith(("sagemaker_", "_")):
            continue
        if name in OWN:
            try:
                own[name] = OWN[name](text)
            except ValueError as exc:
                reason = str(exc) if "must" in str(exc) else f"must be {OWN[name].__doc__}"
                raise UserError(f"hyperparameter {name}={text!r}: {reason}") from None
        else:
            params[name] = _xgboost_value(name, text)
    if "num_round" not in own:
        close = difflib.get_close_matches("num_round", list(raw), n=1, cutoff=0.6)
        hint = f" (found {close[0]!r}: did you mean num_round?)" if close else ""
        raise UserError(f"hyperparameter num_round is required{hint}")
    check_with_xgboost(params)
    return Hyperparameters(params=params, **own)


def plain(value: Any) -> str:
    """A hyperparameter value as text, its JSON encoding removed where there is one.

    A JSON string literal (``"\"binary:logistic\""``, also encoded twice) is unwrapped.
    JSON numbers, booleans, lists and objects already read as the text they are, and so
    does a string that is not valid JSON. Values that are not strings (a hand-written
    ``hyperparameters.json``) become the text JSON would give them.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    text = str(value).strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            inner = json.loads(text)
        except ValueError:
            return text
        if isinstance(inner, str):
            return plain(inner)
    return text


def _xgboost_value(name: str, text: str) -> Any:
    """The value as XGBoost's Python API takes it: text, or a structure for constraints."""
    if name == "eval_metric" and ("," in text or text.startswith("[")):
        items = _literal(name, text) if text.startswith("[") else text.split(",")
        return [str(item).strip() for item in items if str(item).strip()]
    if name not in STRUCTURED or not text:
        return text
    value = _literal(name, text)
    if name == "monotone_constraints":
        if isinstance(value, dict):
            return value
        if isinstance(value, list | tuple) and all(isinstance(v, int) for v in value):
            return tuple(value)
        raise UserError(
            f"hyperparameter {name}={text!r}: must be a list of -1/0/1 "
            'like "(1,0,-1)" or a mapping like \'{"age": 1}\''
        )
    if isinstance(value, list | tuple) and all(isinstance(g, list | tuple) for g in value):
        if all(isinstance(f, int) for g in value for f in g):
            return json.dumps([list(g) for g in value])
        if all(isinstance(f, str) for g in value for f in g):
            return [list(g) for g in value]
    raise UserError(
        f"hyperparameter {name}={text!r}: must be a list of feature groups "
        'like "[[0, 1], [2, 3]]" or \'[["age", "duration"]]\''
    )


def _literal(name: str, text: str) -> Any:
    """A JSON or Python literal (never evaluated as code)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise UserError(f"hyperparameter {name}={text!r} is not a valid literal") from None


@functools.cache
def _probe_matrix() -> xgb.DMatrix:
    return xgb.DMatrix(np.array([[0.0], [1.0]], dtype=np.float32), label=np.array([0.0, 1.0]))


def configure(params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Let XGBoost configure a booster with ``params``: its config and the unused names.

    Raises ``xgboost.core.XGBoostError`` for a value XGBoost refuses.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        booster = xgb.Booster(params, [_probe_matrix()])
        config = json.loads(booster.save_config())
    unused: list[str] = []
    for warning in caught:
        match = re.search(r"Parameters: \{(.*?)\} are not used", str(warning.message), re.S)
        if match:
            unused += re.findall(r'"([^"]+)"', match.group(1))
    return config, unused


def check_with_xgboost(params: dict[str, Any]) -> None:
    """Refuse names and values that the installed XGBoost does not accept."""
    # Constraints depend on the data's features: XGBoost checks them when training starts.
    probe = {k: v for k, v in params.items() if k not in STRUCTURED}
    if probe.get("scale_pos_weight") == "auto":
        probe["scale_pos_weight"] = "1"
    objective = probe.get("objective")
    if objective and objectives() and objective not in objectives():
        close = difflib.get_close_matches(objective, objectives(), n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UserError(
            f"unknown objective {objective!r}; {hint}XGBoost has {', '.join(objectives())}"
        )
    try:
        _, unused = configure(probe)
    except xgb.core.XGBoostError as exc:
        raise UserError(refusal(probe, exc)) from None
    unknown = [name for name in unused if name not in xgboost_names()]
    if unknown:
        name = unknown[0]
        valid = sorted(xgboost_names() | set(OWN))
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UserError(f"unknown hyperparameter {name!r}{hint}")
    for name in unused:
        print(f"Warning: hyperparameter {name} is not used with these settings", flush=True)


def refusal(params: dict[str, Any], exc: Exception) -> str:
    """XGBoost's refusal of ``params``, naming the hyperparameter as the user wrote it and,
    where it differs (an alias such as ``eta``), XGBoost's own name beside it."""
    reason = xgboost_reason(exc)
    name = culprit(params)
    if name is None:
        return f"hyperparameter refused by XGBoost: {reason}"
    own_name = re.search(r"(?:Parameter format for|for Parameter) (\w+)", reason)
    beside = f" (XGBoost's {own_name.group(1)})" if own_name and own_name.group(1) != name else ""
    return f"hyperparameter {name}={params[name]!r}{beside} refused by XGBoost: {reason}"


def culprit(params: dict[str, Any]) -> str | None:
    """The one parameter that XGBoost refuses on its own (with the parameters that decide
    which others apply); None when only a combination is refused."""
    context = {k: v for k, v in params.items() if k in CONTEXT}
    for name, value in [*context.items(), *params.items()]:
        setting = {name: value} if name in CONTEXT else {**context, name: value}
        try:
            configure(setting)
        except xgb.core.XGBoostError:
            return name
    return None


def xgboost_reason(exc: Exception) -> str:
    """XGBoost's message without its timestamp, source location and stack trace."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    text = re.sub(r"^\[[0-9:]+\] \S+:\d+: ", "", text)
    return text.strip()


@functools.cache
def objectives() -> tuple[str, ...]:
    """The objective names of the installed XGBoost, read from its own error message."""
    try:
        configure({"objective": "?"})
    except xgb.core.XGBoostError as exc:
        return tuple(sorted(set(re.findall(r"Objective candidate: (\S+)", str(exc)))))
    return ()


def _param_names(config: Any, into: set[str]) -> None:
    """Collect parameter names from the ``*_param`` sections of a booster's JSON config."""
    if isinstance(config, list):
        for item in config:
            _param_names(item, into)
    elif isinstance(config, dict):
        for key, value in config.items():
            if key.endswith("_param") and isinstance(value, dict):
                into.update(k for k, v in value.items() if not isinstance(v, dict | list))
            _param_names(value, into)


def _configure_with_required(setting: dict[str, Any]) -> dict[str, Any] | None:
    """Configure ``setting``, adding any parameter XGBoost's error names as required."""
    setting = dict(setting)
    for _ in range(3):
        try:
            return configure(setting)[0]
        except xgb.core.XGBoostError as exc:
            required = re.search(r"(\w+)\.Get\(\)\.empty\(\)|Parameter (\w+)", str(exc))
            name = required and (required.group(1) or required.group(2))
            if not name or name in setting:
                return None
            setting[name] = "0.5"
    return None


@functools.cache
def xgboost_names() -> frozenset[str]:
    """Every parameter name the installed XGBoost reports in a booster's configuration.

    Collected from boosters configured with each objective, each tree method and each
    booster kind. Aliases (``eta``, ``lambda``...) appear there beside their canonical
    names. ``eval_metric`` is the one name XGBoost stores under another key (``metrics``).
    """
    names = {"eval_metric"}
    settings: list[dict[str, Any]] = [{"objective": o, "num_class": 2} for o in objectives()]
    settings += [{"booster": "gblinear", "updater": u} for u in ("shotgun", "coord_descent")]
    for setting in settings:
        config = _configure_with_required(setting)
        if config:
            _param_names(config, names)
    for tree_method in ("hist", "approx", "exact"):
        booster = xgb.train({"tree_method": tree_method}, _probe_matrix(), num_boost_round=1)
        _param_names(json.loads(booster.save_config()), names)
    names -= {"rng_state", "num_feature", "num_target", "num_trees", "updater_seq"}
    return frozenset(names)
