"""Verification metrics on pair distances (scikit-learn): ROC-AUC, equal error rate, accuracy at
a distance threshold, mean distance of positive and of negative pairs.

A pair is predicted "same" when its distance is <= the threshold; ROC curves score pairs by
``-distance``.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def equal_error_rate(same: np.ndarray, distance: np.ndarray) -> float:
    """The rate at which false accepts (FPR) equal false rejects (FNR = 1 - TPR), linearly
    interpolated between the two ROC points where FNR - FPR changes sign."""
    fpr, tpr, _ = roc_curve(same, -distance)
    fnr = 1.0 - tpr
    i = int(np.argmax(fnr <= fpr))  # the ROC starts at (0, 0) where fnr = 1 > fpr: i >= 1
    gap0, gap1 = fnr[i - 1] - fpr[i - 1], fnr[i] - fpr[i]
    t = gap0 / (gap0 - gap1)
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def best_threshold(same: np.ndarray, distance: np.ndarray) -> float:
    """The distance threshold with the highest accuracy on these pairs (ties: the smallest)."""
    fpr, tpr, thresholds = roc_curve(same, -distance)
    n_pos = int(np.sum(same == 1))
    accuracy = tpr * n_pos + (1.0 - fpr) * (len(same) - n_pos)
    return float(-thresholds[int(np.argmax(accuracy))])


# the keys verification_metrics returns
VERIFICATION = ("roc_auc", "eer", "accuracy", "pos_dist", "neg_dist")


def verification_metrics(same: np.ndarray, distance: np.ndarray,
                         threshold: float) -> dict[str, float]:
    same = np.asarray(same).astype(bool)
    return {
        "roc_auc": float(roc_auc_score(same, -distance)),
        "eer": equal_error_rate(same, distance),
        "accuracy": float(np.mean((distance <= threshold) == same)),
        "pos_dist": float(distance[same].mean()),
        "neg_dist": float(distance[~same].mean()),
    }
