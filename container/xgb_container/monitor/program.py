"""The ``monitor`` program: one monitoring run over a period's captured traffic.

Inputs and outputs follow Model Monitor's bring-your-own-container contract (environment
variables ``dataset_source``, ``output_path``, ``baseline_statistics``, ...); see
docs/monitoring.md. Bad configuration is a reason in ``output/failure`` and exit 1.
"""

from __future__ import annotations

import json
import logging
import traceback

from ..errors import UserError
from ..outputs import write_failure, write_text_atomic
from ..paths import Layout
from . import checks, quality, report
from .collect import collect
from .config import Config, Reference

log = logging.getLogger(__name__)


def run(config: Config) -> dict:
    """Analyse the period and write every report file; the report."""
    reference = Reference.load(config.statistics, config.constraints)
    current = collect(config, reference)
    if current.rows == 0:
        raise UserError(
            f"no captured rows to monitor under {config.source}: {current.lines} lines, "
            f"{current.malformed} malformed, {current.outside_window} outside the period"
        )
    drifts = checks.feature_drifts(reference, current, config.masked)
    score = checks.score_drift(reference, current)
    violations = checks.violations(
        reference, current, [*drifts, *([score] if score else [])], config.masked
    )
    model_quality = None
    if config.ground_truth is not None:
        model_quality, found = quality.evaluate(config.ground_truth, current, reference)
        violations.extend(found)
    statistics = [f for f in current.profile.statistics() if f["name"] not in config.masked]
    out = config.output
    out.mkdir(parents=True, exist_ok=True)
    write_json(
        out / "statistics.json",
        {"version": 0.0, "dataset": {"item_count": current.rows}, "features": statistics},
    )
    write_json(out / "constraint_violations.json", {"violations": violations})
    summary = report.build(config, current, drifts, score, violations, model_quality)
    write_json(out / "report.json", summary)
    report.write_plots(out, [*drifts, *([score] if score else [])])
    if config.cloudwatch:
        report.write_metrics(config, report.metrics(config, statistics, drifts))
    return summary


def write_json(path, doc) -> None:
    write_text_atomic(path, json.dumps(doc, indent=2) + "\n")


def fail(layout: Layout, reason: str, details: str = "") -> None:
    """Record why the job failed (``output/failure``)."""
    write_failure(layout.failure_file, "Monitoring", reason, details)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    layout = Layout.from_env()
    try:
        config = Config.from_env(layout)
        summary = run(config)
    except UserError as exc:
        fail(layout, str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - every failure must reach output/failure
        fail(layout, f"internal error: {type(exc).__name__}: {exc}", traceback.format_exc())
        return 2
    s = summary["summary"]
    print(
        f"Monitored {s['rows']} rows in {s['records']} records ({s['malformed_lines']} malformed "
        f"lines): {s['violations']} violations {s['violated_features']}",
        flush=True,
    )
    return 0
