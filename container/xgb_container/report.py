"""``report.html``: one self-contained page for a model review (pictures embedded as PNG)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from . import evaluation, figures, formats
from .outputs import write_text_atomic

FILE_NAME = "report.html"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #1d232a; background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 28px; margin: 8px 0 4px; } h2 { font-size: 22px; margin-top: 40px;
  border-bottom: 2px solid #c9d1da; padding-bottom: 4px; } h3 { font-size: 17px; margin: 24px 0 8px; }
p, li { font-size: 15px; line-height: 1.5; } .muted { color: #5b6773; }
table { border-collapse: collapse; margin: 8px 0 16px; background: white; font-size: 14px; }
th, td { border: 1px solid #d5dbe1; padding: 5px 10px; text-align: right; }
th { background: #e9edf1; } td:first-child, th:first-child { text-align: left; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; }
.figures img { background: white; border: 1px solid #d5dbe1; max-width: 100%; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; }
.pass { background: #d8f0dc; color: #1b5e20; } .fail { background: #fbd9d3; color: #8e1b0a; }
.warn { background: #fff4d6; border-left: 4px solid #e0a800; padding: 8px 14px; }
"""


@dataclass
class Section:
    """One evaluated channel: its report and the arrays its pictures are drawn from."""

    channel: str
    result: dict[str, Any]
    y: np.ndarray
    scores: np.ndarray
    shap: np.ndarray | None = None
    sample: np.ndarray | None = None


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return html.escape(str(value))


def table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def image(fig: Figure | None, alt: str) -> str:
    if fig is None:
        return ""
    data = figures.png_base64(fig)
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def badge(ok: bool | None, good: str = "pass", bad: str = "fail") -> str:
    if ok is None:
        return '<span class="badge">not checked</span>'
    return f'<span class="badge {"pass" if ok else "fail"}">{good if ok else bad}</span>'


def row(*parts: str) -> str:
    """Pictures or tables side by side, wrapping on a narrow window."""
    return '<div class="figures">' + "".join(parts) + "</div>"


def summary_table(sections: list[Section]) -> str:
    rows = []
    for s in sections:
        r = s.result
        ks = r.get("ks") or {}
        psi = r.get("score_psi") or {}
        rate = float(s.y.mean()) if len(s.y) else None
        rows.append(
            [
                s.channel,
                r["rows"],
                rate,
                r.get("roc_auc"),
                r.get("gini"),
                ks.get("statistic"),
                ks.get("score"),
                r.get("pr_auc"),
                r.get("brier"),
                psi.get("value"),
                psi.get("verdict"),
            ]
        )
    header = [
        "channel",
        "rows",
        "bad rate",
        "ROC AUC",
        "Gini",
        "KS",
        "KS at score",
        "PR AUC",
        "Brier",
        "score PSI",
        "stability",
    ]
    return table(header, rows)


def confusion_tables(result: dict[str, Any]) -> str:
    parts = []
    for key, title in (
        ("at_threshold_0.5", "threshold 0.5"),
        ("at_decision_threshold", "decision threshold"),
        ("at_f1_best_threshold", "best-F1 threshold"),
    ):
        block = result.get(key)
        if not block:
            continue
        cm = block["confusion_matrix"]
        head = f"{title} ({block['threshold']:.3g})"
        rows = [["actual good (0)", cm["tn"], cm["fp"]], ["actual bad (1)", cm["fn"], cm["tp"]]]
        extra = (
            f"accuracy {block['accuracy']:.3f}, precision {block['precision']:.3f}, "
            f"recall {block['recall']:.3f}, F1 {block['f1']:.3f}"
        )
        parts.append(
            f"<div><h3>{html.escape(head)}</h3>"
            + table(["", "predicted good", "predicted bad"], rows)
            + f'<p class="muted">{extra}</p></div>'
        )
    return '<div class="figures">' + "".join(parts) + "</div>"


def bias_section(result: dict[str, Any]) -> str:
    out = [
        "<h3>Bias by protected attribute</h3>",
        '<p class="muted">Positive rate: share scored at or above the decision threshold '
        "(refused); favourable outcome: approval. Disparate impact: lowest approval rate "
        "over highest (four-fifths rule: at least 0.8).</p>",
    ]
    for column, b in result["bias"].items():
        di = b["disparate_impact"]
        flag = badge(None if di is None else di >= 0.8, "DI ≥ 0.8", "DI < 0.8: flagged")
        out.append(f"<h3>{html.escape(column)} {flag}</h3>")
        rows = [
            [g, v["count"], v["positive_rate"], v["default_rate"], v["tpr"], v["fpr"]]
            for g, v in b["groups"].items()
        ]
        out.append(table(["group", "rows", "positive rate", "default rate", "TPR", "FPR"], rows))
        spd, eod = b["statistical_parity_difference"], b["equal_opportunity_difference"]
        out.append(
            f"<p>disparate impact {_fmt(di)}, statistical parity difference "
            f"{_fmt(spd)}, equal opportunity difference {_fmt(eod)}</p>"
        )
    return "".join(out)


def monotone_section(result: dict[str, Any]) -> str:
    checks = result["monotone_checks"]
    rows = []
    for c in checks:
        direction = "rising (+1)" if c["direction"] > 0 else "falling (-1)"
        span = f"{c['grid'][0]:g} to {c['grid'][-1]:g}" if c.get("grid") else "–"
        rows.append(
            [
                c["feature"],
                direction,
                span,
                c.get("rows"),
                c.get("rows_against"),
                c.get("largest_step_against"),
            ]
        )
    verdicts = "".join(
        f"<li>{html.escape(c['feature'])}: {badge(c.get('holds'), 'holds', 'violated')} "
        + (
            f"scores move only {'up' if c['direction'] > 0 else 'down'} as it rises, on "
            f"{c['rows']} validation rows across {len(c['grid'])} values"
            if c.get("holds")
            else html.escape(
                c.get("reason", f"{c.get('rows_against')} rows move against the constraint")
            )
        )
        + "</li>"
        for c in checks
    )
    header = [
        "feature",
        "required",
        "range checked",
        "rows",
        "rows against",
        "largest step against",
    ]
    return (
        "<h3>Monotone constraints</h3><ul>"
        + verdicts
        + "</ul>"
        + table(header, rows)
        + image(figures.monotone_curves(checks), "mean score along each constrained feature")
    )


def channel_section(s: Section, schema: formats.Schema, threshold: float) -> str:
    r = s.result
    out = [f"<h2>{html.escape(s.channel.capitalize())} channel</h2>"]
    if evaluation.is_binary(r["objective"]) and r.get("ks"):
        out.append(row(image(figures.roc_pr(s.y, s.scores), "ROC and PR curves")))
        out.append(
            row(
                image(figures.ks_plot(s.y, s.scores, r["ks"]), "KS plot"),
                image(figures.score_distributions(s.y, s.scores, threshold), "score distributions"),
            )
        )
        out.append(
            row(
                image(figures.gains_chart(r["gains"]), "gains and lift chart"),
                image(figures.calibration_plot(r["calibration"]), "calibration curve"),
            )
        )
        gains = table(
            ["decile", "rows", "bads", "min score", "max score", "bad rate", "cum. bads", "lift"],
            [
                [
                    g["decile"],
                    g["count"],
                    g["positives"],
                    g["min_score"],
                    g["max_score"],
                    g["bad_rate"],
                    g["cumulative_capture"],
                    g["lift"],
                ]
                for g in r["gains"]
            ],
        )
        calibration = table(
            ["bin", "rows", "mean score", "default rate"],
            [[c["bin"], c["count"], c["mean_score"], c["observed_rate"]] for c in r["calibration"]],
        )
        out.append(
            row(
                f"<div><h3>Gains table</h3>{gains}</div>",
                f"<div><h3>Calibration</h3>{calibration}</div>",
            )
        )
        out.append("<h3>Confusion matrices</h3>" + confusion_tables(r))
    elif "confusion_matrix" in r:
        names = r.get("classes", [])
        out.append(
            "<h3>Confusion matrix</h3>"
            + table(
                ["actual \\ predicted", *names],
                [[n, *row] for n, row in zip(names, r["confusion_matrix"], strict=False)],
            )
        )
    if s.shap is not None and s.sample is not None and len(s.sample):
        top = list(r["shap_importance"].items())[:10]
        kinds = schema.feature_types
        out.append(f"<h3>SHAP summary ({r['shap_rows']} rows)</h3>")
        out.append(
            '<p class="muted">One dot per row: its SHAP value for the feature, coloured by the '
            "feature's value (grey: a category or a missing value).</p>"
        )
        shap_figure = figures.shap_summary(s.shap, s.sample, schema.feature_names, kinds)
        out.append(row(image(shap_figure, "SHAP summary")))
        out.append(table(["feature (top 10)", "mean |SHAP|"], top))
    if r.get("bias"):
        out.append(bias_section(r))
    if r.get("monotone_checks"):
        out.append(monotone_section(r))
    return "".join(out)


def render(sections: list[Section], schema: formats.Schema) -> str:
    """The whole page."""
    first = sections[0].result
    threshold = first.get("at_decision_threshold", first.get("at_threshold_0.5", {})).get(
        "threshold", 0.5
    )
    advice = first.get("objective_advice")
    body = [
        "<h1>Model review</h1>",
        f'<p class="muted">objective {html.escape(first["objective"])}, '
        f"{len(schema.feature_names)} features, decision threshold {threshold:.3g}; "
        "scores are probabilities of default (higher is riskier).</p>",
    ]
    if advice:
        body.append(f'<p class="warn">{html.escape(advice["message"])}</p>')
    body.append("<h2>Summary</h2>" + summary_table(sections))
    body += [channel_section(s, schema, threshold) for s in sections]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Model review</title><style>"
        + STYLE
        + "</style></head><body><main>"
        + "".join(body)
        + "</main></body></html>\n"
    )


def write(path: Path, sections: list[Section], schema: formats.Schema) -> None:
    """Write the page for ``sections`` (validation first) to ``path``."""
    write_text_atomic(path, render(sections, schema))
