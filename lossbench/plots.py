"""Figures logged as run artifacts (matplotlib, no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def learning_curve(history: list[dict[str, float]], metric: str, title: str) -> Figure:
    """Training loss (left axis) and train/val/test ``metric`` (right axis) per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], label="train loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_yscale("log" if min(h["train_loss"] for h in history) > 0 else "linear")
    for part in ("train", "val", "test"):
        key = f"{part}_{metric}"
        if key in history[0]:
            ax_metric.plot(epochs, [h[key] for h in history], label=key)
    ax_metric.set_xlabel("epoch")
    ax_metric.set_ylabel(metric)
    ax_metric.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def predicted_vs_true(y_true: np.ndarray, y_pred: np.ndarray, title: str) -> Figure:
    """Scatter of predictions against targets with the identity line."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(y_true, y_pred, s=4, alpha=0.4)
    lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1, label="y = x")
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)


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
