"""Figures of the supervised task: predicted vs true and, for a 1-d synthetic data set, the fit
against its known functions (regression); confusion matrix and precision-recall curve
(classification)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from lossbench.plots import plt


def predicted_vs_true(y_true: np.ndarray, y_pred: np.ndarray, title: str) -> Figure:
    """Scatter of predictions against targets with the identity line."""
    fig, ax = plt.subplots(figsize=(5, 5))
    fig.subplots_adjust(left=0.15, right=0.96, bottom=0.11, top=0.92)  # see learning_curve
    ax.scatter(y_true, y_pred, s=4, alpha=0.4)
    lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1, label="y = x")
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title(title)
    ax.legend()
    return fig


def fit_vs_references(x: np.ndarray, y: np.ndarray, y_pred: np.ndarray,
                      references: dict[str, np.ndarray], title: str) -> Figure:
    """A 1-d fit over its input (``x``, ordered), the noisy targets as dots, and each known
    function (e.g. the true conditional median and mean) as a line."""
    order = np.argsort(x)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(x, y, s=4, alpha=0.3, color="grey", label="test targets")
    for name, ref in references.items():
        ax.plot(x[order], ref[order], linestyle="--", linewidth=1.5, label=f"true {name}")
    ax.plot(x[order], y_pred[order], color="black", linewidth=2, label="fit")
    lo, hi = np.percentile(y, [1, 99])
    ax.set_ylim(lo - 0.5, hi + 0.5)  # the log-normal tail would flatten the curves
    ax.set_xlabel("x (standardized)")
    ax.set_ylabel("y")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, labels: list[int], title: str) -> Figure:
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(5 + 0.3 * len(labels), 4.5 + 0.3 * len(labels)))
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=labels, ax=ax,
                                            colorbar=False)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def precision_recall(y_true: np.ndarray, score: np.ndarray, title: str) -> Figure:
    from sklearn.metrics import PrecisionRecallDisplay

    fig, ax = plt.subplots(figsize=(5, 5))
    PrecisionRecallDisplay.from_predictions(y_true, score, ax=ax, plot_chance_level=True)
    ax.set_title(title)
    fig.tight_layout()
    return fig
