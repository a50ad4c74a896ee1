"""What training records beside the model so that serving reads rows exactly as training did."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError


@dataclass
class ModelMetadata:
    """Feature schema, label mapping and decision threshold of a trained model.

    ``feature_types`` uses XGBoost's codes: ``"q"`` (numeric) or ``"c"`` (categorical).
    ``categories`` maps a categorical feature to its category names; a value's code is
    its index in that list (training and serving both encode through it).
    ``input_format`` is how the training table was read: ``csv`` (label first, no
    header), ``csv-header`` (named columns), ``libsvm`` or ``parquet``.
    ``classes`` names the label values: index ``i`` is the name of class ``i``.
    ``columns`` is the trained table's column order (label included), for tables with a
    header: serving uses it to drop the label from a row sent as the table was.
    """

    feature_names: list[str]
    feature_types: list[str]
    objective: str
    input_format: str
    xgboost_version: str
    categories: dict[str, list[str]] = field(default_factory=dict)
    label_column: str | None = None
    classes: list[str] | None = None
    columns: list[str] | None = None
    num_class: int = 0
    threshold: float = 0.5
    best_iteration: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ModelMetadata:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise UserError(f"model metadata {path} is missing") from None
        return cls.parse(raw, path)

    @classmethod
    def parse(cls, raw: bytes, where: Path) -> ModelMetadata:
        """Metadata from the bytes of a ``metadata.json``; ``where`` names it in errors."""
        try:
            return cls(**json.loads(raw.decode("utf-8")))
        except (ValueError, TypeError) as exc:
            raise UserError(f"model metadata {where} is not valid: {exc}") from None
