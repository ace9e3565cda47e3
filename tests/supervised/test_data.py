"""Splits, standardization, outlier injection and missing-data errors."""

from __future__ import annotations

import numpy as np
import pytest

from lossbench.data import DataNotFoundError
from lossbench.tasks.supervised.data import california, diabetes, inject_outliers
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
