"""lossbench.curves (roughness of a per-epoch curve, train/test gaps) and how a run logs them;
the tabular data options the claim studies use (raw features, a small training set)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lossbench.app import run
from lossbench.curves import curve_metrics, gaps, roughness
from lossbench.data.tabular import make_splits
from lossbench.schema import ConfigError
from tests.conftest import CPU, compose_config, recording


def test_roughness_by_hand():
    # log-changes: log 1/2, log 3/2, log 1/3; path 2.1972, net |log 1/4| = 1.3863 -> over 3 steps
    assert roughness([4.0, 2.0, 3.0, 1.0]) == pytest.approx(2 * math.log(1.5) / 3)
    assert roughness([4.0, 2.0, 1.0, 0.5]) == pytest.approx(0.0, abs=1e-12)  # monotone
    assert roughness([1.0, 1.1, 1.0]) == pytest.approx(math.log(1.1))  # up and back
    assert roughness([2.0, 2.2, 2.0]) == pytest.approx(roughness([20.0, 22.0, 20.0]))
    for bad in ([1.0], [1.0, 0.0], [1.0, math.nan]):
        assert math.isnan(roughness(bad))


def test_curve_metrics_and_gaps():
    history = [{"epoch": 1, "train_loss": 4.0, "val_rmse": 2.0},
               {"epoch": 2, "train_loss": 2.0, "val_rmse": 2.5},
               {"epoch": 3, "train_loss": 1.0, "val_rmse": 2.0}]
    assert curve_metrics(history, ("train_loss", "val_rmse", "train_loss")) == {
        "final_roughness_train_loss": 0.0,
        "final_roughness_val_rmse": pytest.approx(math.log(1.25))}
    assert gaps({"final_train_rmse": 0.5, "final_test_rmse": 0.8, "final_val_rmse": 0.7,
                 "final_train_r2": 0.9}) == {"final_gap_rmse": pytest.approx(0.3)}


def test_a_run_logs_roughness_and_with_score_train_the_gap(monkeypatch):
    base = (*CPU, "trainer.epochs=6", "trainer.patience=0")
    log = recording(monkeypatch)
    final = run(compose_config(*base, "trainer.diagnostics=true"))
    train_curve = [v for _, v in log.history["train_loss"]]
    assert final["final_roughness_train_loss"] == pytest.approx(roughness(train_curve))
    val_curve = [v for _, v in log.history["val_rmse"]]
    assert final["final_roughness_val_rmse"] == pytest.approx(roughness(val_curve))
    assert final["final_gap_rmse"] == pytest.approx(final["final_test_rmse"]
                                                    - final["final_train_rmse"])
    plain = run(compose_config(*base))  # diagnostics change nothing else
    assert not any(k.startswith(("final_train_", "final_gap_", "final_roughness_"))
                   for k in plain)
    assert {k: v for k, v in final.items() if k in plain and "seconds" not in k} == \
        {k: v for k, v in plain.items() if "seconds" not in k}


def test_diagnostics_are_refused_for_verification():
    from lossbench.tasks.pairs.run import check

    cfg = compose_config("scenario=face_verification", "trainer.diagnostics=true")
    with pytest.raises(ConfigError, match="trainer.diagnostics"):
        check(cfg)


def test_raw_features_and_a_small_training_set():
    rng = np.random.default_rng(0)
    x = rng.normal(50.0, 10.0, (200, 3))
    y = rng.normal(size=200)
    full = make_splits(x, y, 0.2, 0.2, seed=3)
    raw = make_splits(x, y, 0.2, 0.2, seed=3, standardize=False)
    small = make_splits(x, y, 0.2, 0.2, seed=3, max_train=20)
    assert abs(full.x_train.mean()) < 1e-5 and raw.x_train.mean() > 40  # raw: as loaded
    np.testing.assert_array_equal(raw.y_test, full.y_test)
    rows = [int(np.flatnonzero((x.astype(np.float32) == r).all(1))[0]) for r in raw.x_train]
    np.testing.assert_array_equal(raw.y_train, y[rows])
    assert len(small.y_train) == 20 and len(full.y_train) == 120
    np.testing.assert_array_equal(small.y_train, full.y_train[:20])  # a subset, same order
    np.testing.assert_array_equal(small.y_val, full.y_val)
    np.testing.assert_array_equal(small.y_test, full.y_test)
    np.testing.assert_allclose(small.x_train.mean(0), 0.0, atol=1e-5)  # its own scaler


def test_data_options_compose_and_validate():
    from lossbench.config import validate

    cfg = compose_config("data.standardize_features=false", "data.max_train=300")
    validate(cfg)
    with pytest.raises(ConfigError, match="data.max_train"):
        validate(compose_config("data.max_train=1"))
