"""Plain values from flags and files: names, hyperparameters, environments, tags, metrics."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from .errors import LaunchError

ROOT = Path(__file__).resolve().parent.parent
METRIC_DEFINITIONS = ROOT / "container" / "xgb_container" / "metric_definitions.json"
NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
MAX_NAME = 63


def unique_name(prefix: str) -> str:
    """``prefix-YYYYmmdd-HHMMSS-mmm``: a SageMaker name (at most 63 characters)."""
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f"-{int(now * 1000) % 1000:03d}"
    return f"{prefix[: MAX_NAME - len(stamp) - 1]}-{stamp}"


def check_name(name: str, what: str) -> str:
    if len(name) > MAX_NAME:
        raise LaunchError(f"{what} {name!r} has {len(name)} characters; SageMaker takes at most 63")
    if not NAME.fullmatch(name):
        raise LaunchError(
            f"{what} {name!r} is not a valid SageMaker name "
            "(letters, digits and hyphens, at most 63, starting with a letter or digit)"
        )
    return name


def stringify(key: str, value: Any) -> str:
    """A hyperparameter value as SageMaker passes it: always a string."""
    if value is None:
        raise LaunchError(
            f"hyperparameter {key!r} is null; give it a value or leave it out "
            "(SageMaker would pass the string 'None')"
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def read_json(file: Path, what: str) -> Any:
    try:
        return json.loads(file.read_text())
    except OSError as exc:
        raise LaunchError(f"cannot read {what} {file}: {exc.strerror}") from None
    except ValueError as exc:
        raise LaunchError(f"{what} {file} is not valid JSON: {exc}") from None


def pairs(values: list[str], flag: str, example: str = "") -> dict[str, str]:
    """``KEY=VALUE`` flags as a dict (the last one wins)."""
    result = {}
    for pair in values:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            hint = f", e.g. {flag} {example}" if example else ""
            raise LaunchError(f"{flag} {pair!r}: write KEY=VALUE{hint}")
        result[key.strip()] = value
    return result


def hyperparameters(file: Path | None, flags: list[str]) -> dict[str, str]:
    """Hyperparameters from a JSON object file, then ``KEY=VALUE`` flags (flags win)."""
    values: dict[str, Any] = {}
    if file is not None:
        loaded = read_json(file, "hyperparameters file")
        if not isinstance(loaded, dict):
            raise LaunchError(f"hyperparameters file {file} must hold a JSON object")
        values.update(loaded)
    values.update(pairs(flags, "--hp", "num_round=100"))
    result = {str(k): stringify(str(k), v) for k, v in values.items()}
    if len(result) > 100:
        raise LaunchError(f"{len(result)} hyperparameters; SageMaker takes at most 100")
    for key, value in result.items():
        if len(key) > 256 or len(value) > 2500:
            raise LaunchError(
                f"hyperparameter {key[:40]!r}: keys may have 256 characters, values 2,500"
            )
    return result


def environment(flags: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` flags as a container environment."""
    return pairs(flags, "--env", "SAGEMAKER_INFERENCE_OUTPUT=probability")


def tags(flags: list[str]) -> list[dict[str, str]]:
    """``KEY=VALUE`` flags as the Tags list every create request takes."""
    found = pairs(flags, "--tags", "team=credit-risk")
    if len(found) > 50:
        raise LaunchError(f"{len(found)} tags; AWS takes at most 50 per resource")
    for key, value in found.items():
        if len(key) > 128 or len(value) > 256 or key.lower().startswith("aws:"):
            raise LaunchError(
                f"tag {key[:40]!r}: keys have at most 128 characters and may not start with "
                "aws:, values at most 256"
            )
    return [{"Key": k, "Value": v} for k, v in found.items()]


def metric_definitions(path: Path | None = None) -> list[dict[str, str]]:
    """The MetricDefinitions the image ships (``container/xgb_container/metric_definitions.json``)."""
    path = path or METRIC_DEFINITIONS
    if not path.exists():
        raise LaunchError(f"metric definitions {path} not found; pass --metric-definitions FILE")
    raw = read_json(path, "metric definitions")
    if isinstance(raw, dict) and "MetricDefinitions" in raw:
        raw = raw["MetricDefinitions"]
    if isinstance(raw, dict):
        raw = [{"Name": k, "Regex": v} for k, v in raw.items()]
    if not isinstance(raw, list) or not all(
        isinstance(d, dict) and isinstance(d.get("Name"), str) and isinstance(d.get("Regex"), str)
        for d in raw
    ):
        raise LaunchError(f"metric definitions {path}: expected a list of {{Name, Regex}} objects")
    if len(raw) > 40:
        raise LaunchError(f"metric definitions {path}: {len(raw)} metrics, SageMaker takes 40")
    for d in raw:
        if len(d["Regex"]) > 500:
            raise LaunchError(f"metric {d['Name']}: regex longer than 500 characters")
        try:
            re.compile(d["Regex"])
        except re.error as exc:
            raise LaunchError(f"metric {d['Name']}: bad regex: {exc}") from None
    return [{"Name": d["Name"], "Regex": d["Regex"]} for d in raw]
