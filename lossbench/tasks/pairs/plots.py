"""Figures of the pairs task: test ROC curve and a 2-D PCA projection of test embeddings."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

MAX_POINTS = 2000


def roc(same: np.ndarray, distance: np.ndarray, title: str) -> Figure:
    """ROC of pairs scored by ``-distance``, with the equal-error line FPR = 1 - TPR."""
    fpr, tpr, _ = roc_curve(same, -distance)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label="ROC")
    ax.plot([0, 1], [1, 0], color="grey", linewidth=1, linestyle="--", label="FPR = FNR")
    ax.set_xlabel("false accept rate (FPR)")
    ax.set_ylabel("true accept rate (TPR)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def embedding_projection(embeddings: np.ndarray, labels: np.ndarray, title: str,
                         seed: int = 0) -> Figure:
    """Scatter of the first two PCA components, one colour per identity (at most 2,000 points)."""
    if len(labels) > MAX_POINTS:
        keep = np.random.default_rng(seed).choice(len(labels), MAX_POINTS, replace=False)
        embeddings, labels = embeddings[keep], labels[keep]
    xy = PCA(n_components=2, random_state=seed).fit_transform(embeddings)
    ids = np.unique(labels)
    cmap = plt.get_cmap("tab10" if len(ids) <= 10 else "tab20")
    fig, ax = plt.subplots(figsize=(6, 5))
    for k, ident in enumerate(ids):
        m = labels == ident
        ax.scatter(xy[m, 0], xy[m, 1], s=12, color=cmap(k % cmap.N), label=str(ident))
    if len(ids) <= 20:
        ax.legend(title="identity", fontsize=7, loc="best", markerscale=1.5)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title)
    fig.tight_layout()
    return fig
