"""The pictures of an evaluation: matplotlib figures, saved as PNG files or embedded in the report."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from sklearn import metrics

from .outputs import write_atomic


def roc(y: np.ndarray, scores: np.ndarray, channel: str) -> Figure:
    fpr, tpr, _ = metrics.roc_curve(y, scores)
    auc = metrics.auc(fpr, tpr)
    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"model (AUC = {auc:.3f})", linewidth=2)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        title=f"ROC curve: {channel}",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def confusion(matrix: np.ndarray, names: list[str], title: str) -> Figure:
    fig = Figure(figsize=(5, 4.5), dpi=100)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ticks = range(len(names))
    ax.set_xticks(ticks, names)
    ax.set_yticks(ticks, names)
    ax.set(xlabel="predicted", ylabel="actual", title=title)
    limit = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        color = "white" if count > limit else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=12)
    fig.tight_layout()
    return fig


def save(fig: Figure, path: Path) -> None:
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png"))


def png_base64(fig: Figure) -> str:
    """The figure as a base64 PNG, for a ``data:`` URL."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


GOOD, BAD = "#2b7bba", "#d7301f"


def _figure(width: float = 5.4, height: float = 3.9, columns: int = 1) -> tuple[Figure, list]:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, [fig.add_subplot(1, columns, i + 1) for i in range(columns)]


def roc_pr(y: np.ndarray, scores: np.ndarray) -> Figure:
    """The ROC curve and the precision-recall curve side by side."""
    fig, (roc_ax, pr_ax) = _figure(9.6, 4.2, columns=2)
    fpr, tpr, _ = metrics.roc_curve(y, scores)
    roc_ax.plot(fpr, tpr, linewidth=2, label=f"model (AUC {metrics.auc(fpr, tpr):.3f})")
    roc_ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    roc_ax.legend(loc="lower right")
    precision, recall, _ = metrics.precision_recall_curve(y, scores)
    ap = metrics.average_precision_score(y, scores)
    pr_ax.plot(recall, precision, linewidth=2, label=f"model (AP {ap:.3f})")
    pr_ax.axhline(y.mean(), linestyle="--", color="grey", label=f"base rate {y.mean():.3f}")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve", ylim=(0, 1.02))
    pr_ax.legend(loc="upper right")
    return fig


def ks_plot(y: np.ndarray, scores: np.ndarray, ks: dict) -> Figure:
    """Cumulative share of goods and bads at or below each score, with the KS gap marked."""
    fig, (ax,) = _figure()
    grid = np.sort(np.unique(scores))
    bads = np.searchsorted(np.sort(scores[y == 1]), grid, side="right") / max((y == 1).sum(), 1)
    goods = np.searchsorted(np.sort(scores[y == 0]), grid, side="right") / max((y == 0).sum(), 1)
    ax.plot(grid, goods, color=GOOD, linewidth=2, label="goods (label 0)")
    ax.plot(grid, bads, color=BAD, linewidth=2, label="bads (label 1)")
    at = ks["score"]
    low = np.searchsorted(np.sort(scores[y == 1]), at, side="left") / max((y == 1).sum(), 1)
    high = np.searchsorted(np.sort(scores[y == 0]), at, side="left") / max((y == 0).sum(), 1)
    ax.vlines(at, low, high, color="black", linewidth=2, label=f"KS {ks['statistic']:.3f}")
    ax.set(xlabel="score", ylabel="cumulative share below the score", title="KS plot")
    ax.legend(loc="lower right")
    return fig


def gains_chart(gains: list[dict]) -> Figure:
    """Bad rate per decile (bars, with lift) and the cumulative share of bads captured."""
    fig, (ax,) = _figure()
    deciles = [row["decile"] for row in gains]
    rates = [row["bad_rate"] for row in gains]
    bars = ax.bar(deciles, rates, color=BAD, alpha=0.75, label="bad rate")
    for bar, row in zip(bars, gains, strict=True):
        if row["lift"] is not None:
            ax.annotate(
                f"{row['lift']:.1f}x",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax.set(xlabel="score decile (1 = riskiest)", ylabel="bad rate", xticks=deciles)
    ax.set_title("Gains and lift")
    twin = ax.twinx()
    capture = [row["cumulative_capture"] or 0 for row in gains]
    twin.plot(deciles, capture, "o-", color="black", label="cumulative share of bads")
    twin.set(ylabel="cumulative share of bads captured", ylim=(0, 1.05))
    handles = [bars, *twin.get_lines()]
    ax.legend(handles, [h.get_label() for h in handles], loc="center right")
    return fig


def calibration_plot(calibration: list[dict]) -> Figure:
    """Mean score against the observed default rate per score bin."""
    fig, (ax,) = _figure()
    mean = [row["mean_score"] for row in calibration]
    observed = [row["observed_rate"] for row in calibration]
    top = max([*mean, *observed, 0.05]) * 1.05
    ax.plot([0, top], [0, top], "--", color="grey", label="perfect calibration")
    ax.plot(mean, observed, "o-", linewidth=2, label="model")
    ax.set(xlabel="mean score in bin", ylabel="observed default rate", title="Calibration")
    ax.set(xlim=(0, top), ylim=(0, top))
    ax.legend(loc="upper left")
    return fig


def score_distributions(y: np.ndarray, scores: np.ndarray, threshold: float) -> Figure:
    """Histograms of the scores of goods and bads, with the decision threshold."""
    fig, (ax,) = _figure()
    bins = np.linspace(float(scores.min()), float(scores.max()) + 1e-9, 31)
    ax.hist(scores[y == 0], bins=bins, density=True, alpha=0.6, color=GOOD, label="goods")
    ax.hist(scores[y == 1], bins=bins, density=True, alpha=0.6, color=BAD, label="bads")
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    ax.set(xlabel="score", ylabel="density", title="Score distributions by class")
    ax.legend(loc="upper right")
    return fig


def shap_summary(
    shap: np.ndarray, sample: np.ndarray, names: list[str], kinds: list[str], top: int = 15
) -> Figure:
    """SHAP values per row for the most important features; colour is the feature's value
    (low blue, high red; grey for categories or missing values)."""
    values = shap[..., :-1] if shap.ndim == 2 else shap[:, 0, :-1]
    order = np.argsort(-np.abs(values).mean(axis=0), kind="stable")[:top][::-1]
    fig, (ax,) = _figure(9.6, 0.34 * len(order) + 1.3)
    rng = np.random.default_rng(0)
    for row, j in enumerate(order):
        x = sample[:, j]
        finite = np.isfinite(x)
        colour = np.full(len(x), 0.5)
        if kinds[j] == "q" and finite.sum() > 1 and np.ptp(x[finite]) > 0:
            ranks = np.argsort(np.argsort(x[finite]))
            colour[finite] = ranks / max(finite.sum() - 1, 1)
        jitter = rng.uniform(-0.3, 0.3, len(x))
        ax.scatter(values[:, j], row + jitter, c=colour, cmap="coolwarm", s=6, vmin=0, vmax=1)
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(range(len(order)), [names[j] for j in order])
    ax.set(xlabel="SHAP value (log-odds; right of 0 raises the risk)", title="SHAP summary")
    bar = fig.colorbar(
        ScalarMappable(cmap="coolwarm"), ax=ax, ticks=[0, 1], fraction=0.025, pad=0.01, aspect=30
    )
    bar.ax.set_yticklabels(["low", "high"])
    bar.set_label("feature value")
    return fig


def monotone_curves(checks: list[dict]) -> Figure | None:
    """The mean score along each checked feature's range."""
    checked = [c for c in checks if c.get("grid")]
    if not checked:
        return None
    columns = min(3, len(checked))
    rows = -(-len(checked) // columns)
    fig = Figure(figsize=(3.4 * columns, 2.8 * rows), dpi=100, layout="constrained")
    for i, check in enumerate(checked):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.plot(check["grid"], check["mean_score"], "o-", markersize=3)
        sign = "+1 (rising)" if check["direction"] > 0 else "-1 (falling)"
        ax.set(xlabel=check["feature"], ylabel="mean score", title=f"required {sign}")
    return fig
