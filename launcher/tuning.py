"""Hyperparameter tuning: ranges from flags, the objective, the request, the trials table."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from .errors import LaunchError

MAXIMIZE = re.compile(r"(auc|aucpr|ndcg|map|pre|accuracy)(@.*)?$")
STRATEGIES = ("Bayesian", "Random", "Hyperband")
MAX_TUNING_NAME = 32  # SageMaker's limit for tuning job names


@dataclass(frozen=True)
class Range:
    """One tuned hyperparameter: integer or continuous bounds, or categorical values."""

    name: str
    kind: str  # "Integer", "Continuous" or "Categorical"
    low: str = ""
    high: str = ""
    log: bool = False
    choices: tuple[str, ...] = ()

    def request(self) -> dict[str, Any]:
        if self.kind == "Categorical":
            return {"Name": self.name, "Values": list(self.choices)}
        return {
            "Name": self.name,
            "MinValue": self.low,
            "MaxValue": self.high,
            "ScalingType": "Logarithmic" if self.log else "Auto",
        }

    def sample(self, rng: random.Random) -> str:
        """One random value, as random search draws it (log-uniform with ``:log``)."""
        if self.kind == "Categorical":
            return rng.choice(self.choices)
        low, high = float(self.low), float(self.high)
        if self.kind == "Integer":
            if self.log:
                return str(round(pow(2.0, rng.uniform(_log2(low), _log2(high)))))
            return str(rng.randint(int(low), int(high)))
        if self.log:
            return f"{pow(2.0, rng.uniform(_log2(low), _log2(high))):.6g}"
        return f"{rng.uniform(low, high):.6g}"


def _log2(value: float) -> float:
    import math

    return math.log2(value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_range(text: str) -> Range:
    """``NAME=MIN:MAX[:log]`` (integer when both bounds are) or ``NAME=a,b,c``."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name or not spec:
        raise LaunchError(f"--range {text!r}: write NAME=MIN:MAX[:log] or NAME=a,b,c")
    if ":" not in spec:
        choices = tuple(c.strip() for c in spec.split(","))
        if len(choices) < 2 or not all(choices):
            raise LaunchError(f"--range {text!r}: a categorical range needs 2 or more values a,b")
        return Range(name, "Categorical", choices=choices)
    parts = spec.split(":")
    log = len(parts) == 3 and parts[2] == "log"
    if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
        raise LaunchError(f"--range {text!r}: write NAME=MIN:MAX or NAME=MIN:MAX:log")
    low, high = _number(parts[0]), _number(parts[1])
    if low is None or high is None or not low < high:
        raise LaunchError(f"--range {text!r}: MIN and MAX must be numbers with MIN < MAX")
    if log and low <= 0:
        raise LaunchError(f"--range {text!r}: a :log range needs MIN > 0")
    integer = all(re.fullmatch(r"[-+]?\d+", p) for p in parts[:2])
    return Range(name, "Integer" if integer else "Continuous", parts[0], parts[1], log)


def parameter_ranges(ranges: list[Range]) -> dict[str, list[dict[str, Any]]]:
    if not ranges:
        raise LaunchError("tune needs at least one --range NAME=MIN:MAX or NAME=a,b,c")
    names = [r.name for r in ranges]
    if len(set(names)) != len(names):
        raise LaunchError(f"--range names a hyperparameter twice: {sorted(names)}")
    found: dict[str, list[dict[str, Any]]] = {}
    for kind in ("Integer", "Continuous", "Categorical"):
        found[f"{kind}ParameterRanges"] = [r.request() for r in ranges if r.kind == kind]
    return found


def objective(
    metric: str, direction: str | None, definitions: list[dict[str, str]]
) -> dict[str, str]:
    """The tuning objective; the metric must be one the image's MetricDefinitions report."""
    names = [d["Name"] for d in definitions]
    if metric not in names:
        raise LaunchError(
            f"--objective {metric!r} is not among the image's metric definitions "
            f"({', '.join(names)})"
        )
    if direction is None:
        direction = "Maximize" if MAXIMIZE.search(metric.split(":")[-1]) else "Minimize"
    return {"Type": direction, "MetricName": metric}


def tuning_config(
    strategy: str,
    goal: dict[str, str],
    ranges: list[Range],
    max_jobs: int,
    max_parallel: int,
    seed: int | None,
) -> dict[str, Any]:
    """The HyperParameterTuningJobConfig (early stopping Auto, except with Hyperband's own)."""
    if strategy not in STRATEGIES:
        raise LaunchError(f"--strategy {strategy}: one of {', '.join(STRATEGIES)}")
    if not 1 <= max_parallel <= max_jobs:
        raise LaunchError(f"--max-parallel {max_parallel} must be 1 to --max-jobs {max_jobs}")
    config: dict[str, Any] = {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": goal,
        "ResourceLimits": {
            "MaxNumberOfTrainingJobs": max_jobs,
            "MaxParallelTrainingJobs": max_parallel,
        },
        "ParameterRanges": parameter_ranges(ranges),
        "TrainingJobEarlyStoppingType": "Off" if strategy == "Hyperband" else "Auto",
    }
    if seed is not None:
        config["RandomSeed"] = seed
    return config


def trials_table(trials: list[dict[str, Any]], tuned: list[str], metric: str) -> str:
    """A plain table of trials: name, status, objective, the tuned values."""
    header = ["trial", "status", metric, *tuned]
    rows = [
        [
            t["TrainingJobName"],
            t.get("TrainingJobStatus", "?"),
            "-" if t.get("Objective") is None else f"{t['Objective']:.6g}",
            *(str(t.get("TunedHyperParameters", {}).get(n, "")) for n in tuned),
        ]
        for t in trials
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def best(trials: list[dict[str, Any]], direction: str) -> dict[str, Any] | None:
    scored = [t for t in trials if t.get("Objective") is not None]
    if not scored:
        return None
    pick = max if direction == "Maximize" else min
    return pick(scored, key=lambda t: t["Objective"])
