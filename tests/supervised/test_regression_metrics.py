"""Regression metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from lossbench.tasks.supervised.metrics import prefixed, regression_metrics, rms_distance


def test_regression_metrics_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([2.0, 2.0, 3.0, 8.0])  # errors 1, 0, 0, 4
    m = regression_metrics(y, pred)
    assert m == pytest.approx({"rmse": np.sqrt(17 / 4), "mae": 5 / 4, "medae": 0.5,
                               # 1 - SSE / SST = 1 - 17 / 5
                               "r2": 1 - 17 / 5})
    assert regression_metrics(y, y)["r2"] == 1.0


@pytest.mark.parametrize("n", [1, 2, 7, 3096])
@pytest.mark.filterwarnings("ignore:R\\^2 score is not well-defined")
def test_regression_metrics_match_scikit_learn(n):
    from sklearn import metrics as skm

    rng = np.random.default_rng(n)
    y = rng.normal(size=n).astype(np.float32)
    pred = (y + rng.standard_t(2, size=n)).astype(np.float32)
    want = {"rmse": np.sqrt(skm.mean_squared_error(y, pred)),
            "mae": skm.mean_absolute_error(y, pred),
            "medae": skm.median_absolute_error(y, pred), "r2": skm.r2_score(y, pred)}
    assert regression_metrics(y, pred) == pytest.approx(want, rel=1e-6, nan_ok=True)
    const = np.full(n, 2.0)
    for p in (const, const + 1):  # a constant target: scikit-learn's 1.0 and 0.0
        assert regression_metrics(const, p)["r2"] == pytest.approx(skm.r2_score(const, p),
                                                                  nan_ok=True)


def test_prefixed():
    assert prefixed("val", {"rmse": 1.0, "r2": 0.5}) == {"val_rmse": 1.0, "val_r2": 0.5}


def test_rms_distance_by_hand():
    pred = np.array([1.0, 2.0, 3.0, 4.0])
    reference = np.array([1.0, 0.0, 3.0, 5.0])  # gaps 0, 2, 0, 1
    assert rms_distance(pred, reference) == pytest.approx(np.sqrt(5 / 4))
    assert rms_distance(reference, reference) == 0.0
    # a fit that is exactly the median sits the mean-median gap away from the mean
    assert rms_distance(np.zeros(3), np.full(3, 0.65)) == pytest.approx(0.65)
