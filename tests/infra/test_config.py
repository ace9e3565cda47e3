"""Bad configs fail while composing or validating, before any data is loaded."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException

from lossbench.config import ConfigError, validate
from tests.conftest import compose_config


def test_default_config_is_the_embedded_diabetes_scenario():
    cfg = compose_config()
    validate(cfg)
    assert (cfg.name, cfg.task, cfg.loss_name) == ("diabetes", "regression", "mse")
    assert cfg.run_name == "diabetes-mse-s0"


def test_power_outliers_pairs_huber_1_5_with_sgd_momentum_and_10pct_outliers():
    cfg = compose_config("scenario=power_outliers")
    assert cfg.loss._target_ == "torch.nn.HuberLoss" and cfg.loss.delta == 1.5
    assert cfg.optimizer._target_ == "torch.optim.SGD" and cfg.optimizer.momentum == 0.9
    assert cfg.data.outlier_fraction == 0.1
    assert (cfg.data.outlier_scale_min, cfg.data.outlier_scale_max) == (5.0, 10.0)


def test_command_line_loss_overrides_the_scenarios_loss():
    cfg = compose_config("scenario=power_outliers", "loss=mse", "seed=2")
    assert cfg.loss._target_ == "torch.nn.MSELoss"
    assert cfg.optimizer._target_ == "torch.optim.SGD"  # the rest of the scenario stays
    assert cfg.run_name == "power_outliers-mse-s2"


def test_unknown_option_lists_the_available_ones():
    with pytest.raises(MissingConfigException) as err:
        compose_config("loss=msee")
    msg = str(err.value)
    assert "loss/msee" in msg and "Available options in 'loss'" in msg
    assert all(name in msg for name in ("mse", "mae", "huber", "log_cosh"))


def test_unknown_key_is_refused():
    with pytest.raises(ConfigCompositionException, match="loss.dlta"):
        compose_config("loss=huber", "loss.dlta=2")


def test_wrong_type_is_refused():
    with pytest.raises(ConfigCompositionException) as err:
        compose_config("optimizer.lr=abc")
    assert "optimizer.lr" in str(err.value)
    assert "could not be converted to Float" in str(err.value.__cause__)


@pytest.mark.parametrize("override, key", [
    ("loss.delta=-1", "loss.delta"),
    ("data.outlier_fraction=1.5", "data.outlier_fraction"),
    ("optimizer.lr=0", "optimizer.lr"),
    ("optimizer.lr=-0.1", "optimizer.lr"),
    ("trainer.epochs=0", "trainer.epochs"),
    ("data.val_fraction=0.9", "data.val_fraction + data.test_fraction"),
    ("device=tpu", "device"),
    ("model.dropout=1.0", "model.dropout"),
])
def test_bad_values_fail_validation_naming_the_key(override, key):
    cfg = compose_config("scenario=power_outliers", override)
    with pytest.raises(ConfigError, match=key.replace("+", r"\+")):
        validate(cfg)


def test_bad_value_stops_the_app_before_training(store, monkeypatch):
    import lossbench.app as app

    def no_data(cfg):  # pragma: no cover - must not be reached
        raise AssertionError("data was loaded despite a bad config")

    monkeypatch.setattr(app, "load_data", no_data)
    cfg = compose_config("optimizer.lr=-1", f"tracking.uri={store}")
    with pytest.raises(ConfigError, match="optimizer.lr: must be > 0"):
        app.run(cfg)
