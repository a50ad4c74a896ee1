"""The SageMaker container layout under ``SAGEMAKER_BASE_DIR`` (default ``/opt/ml``).

Every path is derived when asked for, never at import time, so that tests and local
runs can point the programs at any folder laid out like ``/opt/ml``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError

DEFAULT_BASE_DIR = "/opt/ml"
MODEL_FILE = "xgboost-model"
METADATA_FILE = "metadata.json"


@dataclass(frozen=True)
class Layout:
    """Named paths of one ``/opt/ml``-shaped folder."""

    base: Path

    @classmethod
    def from_env(cls) -> Layout:
        return cls(Path(os.environ.get("SAGEMAKER_BASE_DIR", DEFAULT_BASE_DIR)))

    @property
    def config_dir(self) -> Path:
        return self.base / "input" / "config"

    @property
    def data_dir(self) -> Path:
        return self.base / "input" / "data"

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def model_file(self) -> Path:
        return self.model_dir / MODEL_FILE

    @property
    def metadata_file(self) -> Path:
        return self.model_dir / METADATA_FILE

    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    def config(self, name: str, default: Any = None) -> Any:
        """Parse ``input/config/<name>.json``; ``default`` when the file is absent."""
        path = self.config_dir / f"{name}.json"
        if not path.exists():
            return default
        try:
            with path.open(encoding="utf-8") as f:
                return json.load(f)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserError(f"{path} is not valid JSON: {exc}") from None

    def hyperparameters(self) -> dict[str, str]:
        return self.config("hyperparameters", {}) or {}

    def resource_config(self) -> dict[str, Any]:
        return self.config("resourceconfig", {}) or {}

    def input_data_config(self) -> dict[str, dict[str, Any]]:
        return self.config("inputdataconfig", {}) or {}

    def checkpoint_dir(self) -> Path | None:
        """The local checkpoint folder when checkpointing is configured, else ``None``."""
        config = self.config("checkpointconfig")
        if not config:
            return None
        return Path(config.get("LocalPath") or self.base / "checkpoints")
