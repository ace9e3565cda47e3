"""Splits, standardization, outlier injection, label noise, the synthetic skewed-noise
regression and missing-data errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lossbench.data import DataNotFoundError
from lossbench.tasks.supervised.data import (breast_cancer, california, diabetes, flip_labels,
                                             inject_outliers, skewed_noise, skewed_truth)
from lossbench.data.tabular import make_splits

SPLIT = dict(val_fraction=0.2, test_fraction=0.2)
CLEAN = dict(standardize_target=False, outlier_fraction=0.0, outlier_scale_min=5.0,
             outlier_scale_max=10.0)


def _table(n=500, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, size=(n, d))
    return x, x @ rng.normal(size=d) + rng.normal(size=n)


def test_splits_are_disjoint_fixed_by_seed_and_sized():
    x, y = _table()
    rows = lambda s: {tuple(r) for r in s}  # noqa: E731
    a, b, c = (make_splits(x, y, seed=s, **SPLIT) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_test, c.y_test)
    assert (len(a.y_train), len(a.y_val), len(a.y_test)) == (300, 100, 100)
    assert not rows(a.x_train) & rows(a.x_val) and not rows(a.x_train) & rows(a.x_test)


def test_features_standardized_with_training_statistics_only():
    x, y = _table()
    s = make_splits(x, y, seed=0, **SPLIT)
    np.testing.assert_allclose(s.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(s.x_train.std(0), 1, atol=1e-4)
    # val/test use the train mean/std: their own mean is not forced to exactly 0
    assert np.abs(s.x_val.mean(0)).max() > 1e-3


def test_inject_outliers_scales_the_requested_fraction():
    y = np.linspace(1, 2, 1000).astype(np.float32)
    out, idx = inject_outliers(y, 0.1, 5.0, 10.0, seed=3)
    assert len(idx) == 100
    ratio = out[idx] / y[idx]
    assert ratio.min() >= 5.0 and ratio.max() <= 10.0
    untouched = np.setdiff1d(np.arange(1000), idx)
    np.testing.assert_array_equal(out[untouched], y[untouched])
    np.testing.assert_array_equal(inject_outliers(y, 0.1, 5.0, 10.0, seed=3)[0], out)


def test_outliers_only_touch_training_targets():
    clean = diabetes("", False, split_seed=0, **SPLIT, **CLEAN)
    dirty = diabetes("", False, split_seed=0, **SPLIT, **{**CLEAN, "outlier_fraction": 0.1})
    np.testing.assert_array_equal(clean.y_val, dirty.y_val)
    np.testing.assert_array_equal(clean.y_test, dirty.y_test)
    changed = (clean.y_train != dirty.y_train).sum()
    assert changed == round(0.1 * len(clean.y_train)) == dirty.info["n_outliers"]


def test_standardized_target_round_trips_to_its_units():
    s = diabetes("", False, split_seed=0, **SPLIT, **{**CLEAN, "standardize_target": True})
    raw = diabetes("", False, split_seed=0, **SPLIT, **CLEAN)
    assert abs(s.y_train.mean()) < 1e-5
    back = s.target_scaler.inverse_transform(s.y_test.reshape(-1, 1)).ravel()
    np.testing.assert_allclose(back, raw.y_test, rtol=1e-5)


def test_missing_california_offline_fails_fast_and_says_how_to_get_it(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        california(data_dir=str(tmp_path), download=False, split_seed=0, **SPLIT, **CLEAN)
    msg = str(err.value)
    assert str(tmp_path / "scikit_learn_data") in msg
    assert "cal_housing_py3.pkz" in msg and "data_dir=" in msg


# --------------------------------------------------------------------------- label noise
TABLE = dict(val_fraction=0.2, test_fraction=0.2, split_seed=0, num_classes=2,
             positive_rate=None, train_positive_rate=None)


def test_flip_labels_flips_exactly_the_share_and_is_seeded():
    y = np.array([0, 1] * 500)
    out, idx = flip_labels(y, 0.1, 2, seed=5)
    assert len(idx) == 100 and len(set(idx)) == 100
    np.testing.assert_array_equal(np.flatnonzero(out != y), idx)
    np.testing.assert_array_equal(out[idx], 1 - y[idx])
    np.testing.assert_array_equal(flip_labels(y, 0.1, 2, seed=5)[0], out)
    assert not np.array_equal(flip_labels(y, 0.1, 2, seed=6)[1], idx)


def test_flip_labels_moves_a_multiclass_label_to_another_class():
    y = np.arange(1000) % 10
    out, idx = flip_labels(y, 0.3, 10, seed=0)
    assert len(idx) == 300 and (out[idx] != y[idx]).all()
    assert set(out[idx]) == set(range(10))  # every other class is reachable
    np.testing.assert_array_equal(np.delete(out, idx), np.delete(y, idx))


def test_label_noise_touches_training_labels_only():
    clean = breast_cancer("", False, **TABLE, label_noise=0.0)
    noisy = breast_cancer("", False, **TABLE, label_noise=0.1)
    for part in ("val", "test"):
        np.testing.assert_array_equal(clean.split(part)[1], noisy.split(part)[1])
        np.testing.assert_array_equal(clean.split(part)[0], noisy.split(part)[0])
    np.testing.assert_array_equal(clean.x_train, noisy.x_train)
    flipped = int((clean.y_train != noisy.y_train).sum())
    assert flipped == round(0.1 * len(clean.y_train)) == noisy.info["n_flipped"]
    assert "n_flipped" not in clean.info  # label_noise=0: the split is untouched


# --------------------------------------------------------------------------- skewed noise
SKEWED = dict(n_train=100, n_val=10, n_test=11, noise_sigma=0.8, noise_scale=2.0)


def test_skewed_truth_matches_scipy_lognormal():
    """y - f(x) = s(x) (L - 1) with L log-normal(sigma): median s (median(L) - 1) = 0,
    mean s (mean(L) - 1)."""
    x = np.array([-3.0, 0.0, 3.0])
    truth = skewed_truth(x, 0.8, 2.0)
    lognorm = stats.lognorm(s=0.8)  # scale 1: the law of exp(0.8 Z)
    scale = np.array([1.0, 1.5, 2.0])  # noise_scale / 2 at -3, 3 / 4 at 0, all of it at 3
    center = np.sin(x) + 0.3 * x
    np.testing.assert_allclose(truth["median"], center + scale * (lognorm.median() - 1))
    np.testing.assert_allclose(truth["mean"], center + scale * (lognorm.mean() - 1))


def test_skewed_noise_samples_have_the_stated_median_and_mean():
    """200,000 draws on the test grid: half fall below the stated median, and the residuals
    about the stated mean average 0 (about the median: the gap, 0.38 x 1.5 on average)."""
    s = skewed_noise("", False, split_seed=0, **{**SKEWED, "n_train": 10, "n_test": 200_000})
    median, mean = s.references["test"]["median"], s.references["test"]["mean"]
    assert np.mean(s.y_test < median) == pytest.approx(0.5, abs=0.005)
    assert np.mean(s.y_test - mean) == pytest.approx(0.0, abs=0.02)
    gap = np.expm1(0.8 ** 2 / 2) * 1.5
    assert np.mean(s.y_test - median) == pytest.approx(gap, abs=0.02)
    val = skewed_noise("", False, split_seed=0, **{**SKEWED, "n_train": 10, "n_val": 200_000})
    assert np.mean(val.y_val < val.references["val"]["median"]) == pytest.approx(0.5, abs=0.005)
    assert np.mean(val.y_val - val.references["val"]["mean"]) == pytest.approx(0.0, abs=0.02)


def test_skewed_noise_test_split_is_a_grid_carrying_the_truth():
    s = skewed_noise("", False, split_seed=3, **SKEWED)
    grid = np.linspace(-3, 3, 11)
    truth = skewed_truth(grid, 0.8, 2.0)
    assert set(s.references) == {"val", "test"}  # validation's: what lossbench tune scores
    for name in ("median", "mean"):
        np.testing.assert_allclose(s.references["test"][name], truth[name], rtol=1e-6)
    np.testing.assert_allclose(np.diff(s.x_test[:, 0]), np.diff(s.x_test[:, 0])[0], rtol=1e-4)
    again = skewed_noise("", False, split_seed=3, **SKEWED)
    np.testing.assert_array_equal(again.y_train, s.y_train)  # seeded: no files, same draws
    other = skewed_noise("", False, split_seed=4, **SKEWED)
    assert not np.array_equal(other.y_test, s.y_test)
