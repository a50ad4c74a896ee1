"""The monitor's inputs: Model Monitor's bring-your-own-container environment, and the
baseline files it names."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .. import formats
from ..errors import UserError
from ..paths import Layout


def _folder(env: dict[str, str], name: str, must_exist: bool = True) -> Path:
    value = env.get(name, "").strip()
    if not value:
        raise UserError(f"the environment variable {name} is not set")
    path = Path(value)
    if must_exist and not path.is_dir():
        raise UserError(f"{name}={value} is not a folder")
    return path


def _json_file(env: dict[str, str], name: str) -> dict[str, Any]:
    value = env.get(name, "").strip()
    if not value:
        raise UserError(f"the environment variable {name} is not set (a baseline is needed)")
    try:
        doc = json.loads(Path(value).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{name}={value} does not exist") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{name}={value} is not a JSON file: {exc}") from None
    if not isinstance(doc, dict):
        raise UserError(f"{name}={value} does not hold a JSON object")
    return doc


def _time(env: dict[str, str], name: str) -> datetime | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    try:
        return formats.capture.parse_time(value)
    except UserError:
        raise UserError(f"{name}={value!r} is not an ISO 8601 time") from None


@dataclass
class Config:
    """Everything one monitoring run reads."""

    source: Path
    output: Path
    statistics: dict[str, Any]
    constraints: dict[str, Any]
    start: datetime | None = None
    end: datetime | None = None
    cloudwatch: bool = False
    ground_truth: Path | None = None
    endpoint: str | None = None
    schedule: str | None = None
    masked: frozenset[str] = field(default_factory=frozenset)
    metrics_dir: Path = Path("/opt/ml/output/metrics/cloudwatch")

    @classmethod
    def from_env(cls, layout: Layout, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        fmt = env.get("dataset_format", "").strip()
        if fmt:
            try:
                kind = json.loads(fmt)
            except ValueError:
                raise UserError(f"dataset_format={fmt!r} is not JSON") from None
            if not isinstance(kind, dict) or "sagemakerCaptureJson" not in kind:
                raise UserError(
                    f"dataset_format={fmt}: this monitor reads endpoint data capture "
                    "(sagemakerCaptureJson)"
                )
        publish = env.get("publish_cloudwatch_metrics", "Disabled").strip() or "Disabled"
        if publish not in ("Enabled", "Disabled"):
            raise UserError(f"publish_cloudwatch_metrics={publish!r}: use Enabled or Disabled")
        config = cls(
            source=_folder(env, "dataset_source"),
            output=_folder(env, "output_path", must_exist=False),
            statistics=_json_file(env, "baseline_statistics"),
            constraints=_json_file(env, "baseline_constraints"),
            start=_time(env, "start_time"),
            end=_time(env, "end_time"),
            cloudwatch=publish == "Enabled",
            ground_truth=_folder(env, "ground_truth_source")
            if env.get("ground_truth_source")
            else None,
            endpoint=env.get("sagemaker_endpoint_name") or None,
            schedule=env.get("sagemaker_monitoring_schedule_name") or None,
            masked=frozenset(
                c.strip() for c in env.get("masked_columns", "").split(",") if c.strip()
            ),
            metrics_dir=layout.output_dir / "metrics" / "cloudwatch",
        )
        if config.start and config.end and config.start >= config.end:
            raise UserError(f"start_time {config.start} is not before end_time {config.end}")
        return config

    def in_window(self, when: datetime) -> bool:
        return (self.start is None or when >= self.start) and (self.end is None or when < self.end)


@dataclass
class Reference:
    """The baseline as the checks use it."""

    schema: formats.Schema
    threshold: float
    features: dict[str, dict[str, Any]]  # name -> statistics.json feature
    constraints: dict[str, dict[str, Any]]  # name -> constraints.json feature
    settings: dict[str, Any]  # monitoring_config
    score: dict[str, Any] | None

    @classmethod
    def load(cls, statistics: dict[str, Any], constraints: dict[str, Any]) -> Reference:
        try:
            record = statistics["schema"]
            schema = formats.Schema(
                record["input_format"],
                list(record["feature_names"]),
                list(record["feature_types"]),
                dict(record.get("categories") or {}),
                record.get("label_column"),
                record.get("classes"),
                record.get("columns"),
            )
            features = {f["name"]: f for f in statistics["features"]}
            limits = {f["name"]: f for f in constraints.get("features", [])}
            settings = constraints["monitoring_config"]
            threshold = float((statistics.get("model") or {}).get("threshold", 0.5))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(
                f"the baseline files are not this container's baseline (no {exc}); "
                "use model/baseline/ from a training with this image"
            ) from None
        return cls(schema, threshold, features, limits, settings, statistics.get("score"))

    def edges(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Drift-bin edges and bucket bounds of the numeric features."""
        edges, bounds = {}, {}
        for name, feature in self.features.items():
            dist = (feature.get("numerical_statistics") or {}).get("distribution") or {}
            if "psi_bins" in dist:
                edges[name] = np.array(dist["psi_bins"]["edges"], dtype=np.float64)
            if "kll" in dist:
                buckets = dist["kll"]["buckets"]
                bounds[name] = np.array(
                    [buckets[0]["lower_bound"], *[b["upper_bound"] for b in buckets]]
                )
        return edges, bounds
