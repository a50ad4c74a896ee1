"""Hyperparameters: the container's own plus every XGBoost training parameter.

SageMaker passes every value as a string; they are parsed here, never evaluated.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from .errors import UserError

# The container's own parameters, with their parsers and defaults.
OWN = {
    "num_round": int,
    "early_stopping_rounds": int,
    "csv_weights": int,
    "checkpoint_frequency": int,
    "label_column": str,
    "positive_label": str,
}


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


def _number(name: str, text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def parse(raw: dict[str, str]) -> Hyperparameters:
    """Check and convert the strings of ``hyperparameters.json``."""
    own: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for name, value in raw.items():
        text = str(value).strip()
        if name.startswith("sagemaker_") or name.startswith("_"):
            continue
        if name in OWN:
            try:
                own[name] = OWN[name](text)
            except ValueError:
                raise UserError(
                    f"hyperparameter {name}={text!r} must be {OWN[name].__name__}"
                ) from None
            continue
        params[name] = _number(name, text)
    if "num_round" not in own:
        close = difflib.get_close_matches("num_round", list(raw), n=1)
        hint = f" (did you mean num_round instead of {close[0]!r}?)" if close else ""
        raise UserError(f"hyperparameter num_round is required{hint}")
    if own["num_round"] < 1:
        raise UserError(f"hyperparameter num_round={own['num_round']} must be at least 1")
    return Hyperparameters(
        num_round=own["num_round"],
        params=params,
        early_stopping_rounds=own.get("early_stopping_rounds"),
        csv_weights=bool(own.get("csv_weights", 0)),
        checkpoint_frequency=own.get("checkpoint_frequency", 10),
        label_column=own.get("label_column"),
        positive_label=own.get("positive_label"),
    )
