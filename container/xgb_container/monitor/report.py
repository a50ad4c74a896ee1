"""The monitor's outputs: ``report.json``, one picture per drifted feature, CloudWatch
metrics as JSON lines."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..outputs import write_atomic, write_text_atomic
from .checks import Drift
from .collect import Current
from .config import Config


def plot_name(feature: str) -> str:
    return "drift-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", feature) + ".png"


def drift_figure(drift: Drift) -> Figure:
    """Baseline and current shares side by side per bin, PSI in the title."""
    expected = np.array(drift.expected, dtype=float)
    actual = np.array(drift.actual, dtype=float)
    expected /= max(expected.sum(), 1)
    actual /= max(actual.sum(), 1)
    positions = np.arange(len(drift.labels))
    fig = Figure(figsize=(max(6, 0.7 * len(positions) + 2), 4.5), dpi=100)
    ax = fig.add_subplot()
    ax.bar(positions - 0.2, expected, width=0.4, label="baseline (training)", color="#4c72b0")
    ax.bar(positions + 0.2, actual, width=0.4, label="current (captured)", color="#dd8452")
    ax.set_xticks(positions, drift.labels, rotation=35, ha="right", fontsize=8)
    ax.set(
        ylabel="share of rows", title=f"{drift.name}: PSI {drift.psi:.3f} over {drift.rows} rows"
    )
    ax.legend()
    fig.tight_layout()
    return fig


def feature_entry(drift: Drift, names: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "name": drift.name,
        "violations": names.get(drift.name, []),
        "psi": round(drift.psi, 6),
        "chi_square_p_value": drift.p_value,
        "ks_distance": round(drift.ks_distance, 6),
        "rows": drift.rows,
        "drifted": drift.drifted,
        "judged": drift.judged,
        **({"plot": plot_name(drift.name)} if drift.drifted else {}),
    }


def build(
    config: Config,
    current: Current,
    drifts: list[Drift],
    score: Drift | None,
    violations: list[dict],
    quality: dict | None,
) -> dict[str, Any]:
    """``report.json``: the period's summary, features with violations first."""
    names: dict[str, list[str]] = {}
    for v in violations:
        names.setdefault(v["feature_name"], []).append(v["constraint_check_type"])
    features = [feature_entry(d, names) for d in drifts]
    features.sort(key=lambda f: (not f["violations"], -f["psi"]))
    notes = []
    if drifts and not drifts[0].judged:
        notes.append(f"drift not judged: {current.rows} rows is below min_rows")
    if config.masked:
        notes.append(f"masked columns left out of every check: {sorted(config.masked)}")
    return {
        "window": {
            "start_time": config.start.isoformat() if config.start else None,
            "end_time": config.end.isoformat() if config.end else None,
        },
        "summary": {
            "capture_lines": current.lines,
            "records": current.records,
            "rows": current.rows,
            "malformed_lines": current.malformed,
            "outside_window": current.outside_window,
            "unreadable_outputs": current.unreadable_outputs,
            "violations": len(violations),
            "violated_features": list(dict.fromkeys(v["feature_name"] for v in violations)),
        },
        "malformed_examples": current.examples,
        "features": features,
        "score": None
        if score is None
        else {k: v for k, v in feature_entry(score, names).items() if k != "name"},
        "model_quality": quality,
        "notes": notes,
    }


def write_plots(output: Path, drifts: list[Drift]) -> list[Path]:
    paths = []
    for drift in drifts:
        if drift.drifted:
            path = output / plot_name(drift.name)
            fig = drift_figure(drift)
            write_atomic(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png"))
            paths.append(path)
    return paths


def metrics(config: Config, statistics: list[dict], drifts: list[Drift]) -> list[dict]:
    """CloudWatch metrics as Model Monitor names them, one dict per metric."""
    when = (config.end or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    dimensions = []
    if config.endpoint:
        dimensions.append({"Name": "Endpoint", "Value": config.endpoint})
    if config.schedule:
        dimensions.append({"Name": "MonitoringSchedule", "Value": config.schedule})
    psi = {d.name: d.psi for d in drifts}
    out = []
    for feature in statistics:
        name = feature["name"]
        body = feature.get("numerical_statistics") or feature["string_statistics"]
        common = body["common"]
        total = common["num_present"] + common["num_missing"]
        base = {"Timestamp": when, "Dimensions": dimensions}
        if "numerical_statistics" in feature and common["num_present"]:
            out.append(
                {
                    "MetricName": f"feature_data_{name}",
                    **base,
                    "StatisticValues": {
                        "SampleCount": float(common["num_present"]),
                        "Sum": float(body["sum"]),
                        "Minimum": float(body["min"]),
                        "Maximum": float(body["max"]),
                    },
                }
            )
        if total:
            value = common["num_present"] / total
            out.append({"MetricName": f"feature_non_null_{name}", **base, "Value": value})
        if name in psi:
            out.append({"MetricName": f"feature_baseline_drift_{name}", **base, "Value": psi[name]})
    return out


def write_metrics(config: Config, lines: list[dict]) -> Path:
    path = config.metrics_dir / "metrics.jsonl"
    text = "".join(json.dumps(line) + "\n" for line in lines)
    write_text_atomic(path, text)
    return path
