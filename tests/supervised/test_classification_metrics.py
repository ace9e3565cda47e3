"""Classification metrics key by key against scikit-learn and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from lossbench.tasks.supervised.metrics import (classification_metrics,
                                                expected_calibration_error, recall_at_precision)

BINARY_KEYS = {"accuracy", "balanced_accuracy", "f1", "precision", "recall", "log_loss", "ece",
               "roc_auc", "average_precision", "recall_at_90_precision"}


def _ece_by_loop(y, proba, bins=15):
    """Top-label ECE, one sample at a time: bin b holds confidences in (b/bins, (b+1)/bins]."""
    p2 = proba if proba.ndim == 2 else np.column_stack([1 - proba, proba])
    total = {}
    for conf, pred, truth in zip(p2.max(1), p2.argmax(1), y):
        b = min(max(int(np.ceil(conf * bins)) - 1, 0), bins - 1)
        total.setdefault(b, []).append((conf, pred == truth))
    return sum(len(v) / len(y) * abs(np.mean([c for _, c in v]) - np.mean([f for f, _ in v]))
               for v in total.values())


def test_binary_metrics_key_by_key():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.5 + rng.random(300) * 0.6, 0, 1)
    p[:3] = [0.5, 0.0, 1.0]  # 0.5 counts as positive; 0 and 1 are clipped for the log loss
    pred = (p >= 0.5).astype(int)
    m = classification_metrics(y, p)
    assert set(m) == BINARY_KEYS
    assert m == pytest.approx({
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "f1": skm.f1_score(y, pred), "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "log_loss": skm.log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)),
        "ece": _ece_by_loop(y, p), "roc_auc": skm.roc_auc_score(y, p),
        "average_precision": skm.average_precision_score(y, p),
        "recall_at_90_precision": recall_at_precision(y, p, 0.9)}, rel=1e-9)


def test_no_positive_prediction_scores_zero():
    m = classification_metrics(np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4]))
    assert (m["precision"], m["recall"], m["f1"]) == (0.0, 0.0, 0.0)
    assert m["recall_at_90_precision"] == 0.5  # 0.4 alone: precision 1, recall 1/2


def test_multiclass_metrics_key_by_key():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 200)
    proba = rng.dirichlet(np.ones(3), 200)
    proba[np.arange(200), y] += 0.5
    proba /= proba.sum(1, keepdims=True)
    proba[0] = [0.0, 0.0, 1.0]  # a zero probability: clipped and renormalised for the log loss
    pred = proba.argmax(1)
    clipped = np.clip(proba, 1e-7, 1 - 1e-7)
    m = classification_metrics(y, proba)
    assert set(m) == BINARY_KEYS - {"recall_at_90_precision"}
    assert m == pytest.approx({
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "f1": skm.f1_score(y, pred, average="macro"),
        "precision": skm.precision_score(y, pred, average="macro"),
        "recall": skm.recall_score(y, pred, average="macro"),
        "log_loss": skm.log_loss(y, clipped / clipped.sum(1, keepdims=True)),
        "ece": _ece_by_loop(y, proba),
        "roc_auc": skm.roc_auc_score(y, proba, multi_class="ovr"),
        "average_precision": skm.average_precision_score(np.eye(3)[y], proba, average="macro"),
    }, rel=1e-9)


def test_a_class_missing_from_the_labels_still_scores():
    y = np.array([0, 1, 0, 1])  # class 2 never occurs, but the model has three outputs
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.5, 0.3, 0.2], [0.1, 0.3, 0.6]])
    m = classification_metrics(y, proba)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=[0, 1, 2]))
    assert np.isfinite(m["log_loss"])


@pytest.mark.parametrize("bins", [15, 4])
def test_ece_matches_a_per_sample_loop_on_bin_edges_too(bins):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    p = rng.random(400)
    p[:40] = np.repeat(np.arange(1, bins + 1) / bins, 40 // bins + 1)[:40]  # on the edges
    assert expected_calibration_error(y, p, bins=bins) == pytest.approx(_ece_by_loop(y, p, bins))
    probs = rng.dirichlet(np.ones(4), 100)
    y4 = rng.integers(0, 4, 100)
    assert expected_calibration_error(y4, probs, bins) == pytest.approx(
        _ece_by_loop(y4, probs, bins))


def test_recall_at_precision_counts_a_precision_exactly_at_the_target():
    y = np.array([1, 1, 0, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    assert recall_at_precision(y, s, 0.75) == 1.0  # precision 3/4 at s >= 0.6
