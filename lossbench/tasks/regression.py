"""Regression: an MLP with no output activation, trained on a regression loss, scored in the
target's own units (RMSE, MAE, median absolute error, R2) on clean validation and test data."""

from __future__ import annotations

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from lossbench import plots
from lossbench.config import ConfigError
from lossbench.data.tabular import Splits
from lossbench.losses import build_loss
from lossbench.metrics import regression_metrics
from lossbench.tasks.supervised import log_figures, run_title, to_device, train
from lossbench.tracking import Tracker


def check_config(cfg: DictConfig) -> None:
    if cfg.loss.consumes != "values":
        raise ConfigError(f"loss={cfg.loss_name} is not a regression loss (it consumes "
                          f"{cfg.loss.consumes}); {cfg.name} is a regression task: use mse, mae, "
                          "huber or log_cosh")


def run(cfg: DictConfig, splits: Splits, device: torch.device, tracker: Tracker) -> dict[str, float]:
    tensors = to_device(splits, device)
    model = instantiate(cfg.model, in_shape=splits.x_train.shape[1:], out_features=1).to(device)

    def to_units(a: np.ndarray) -> np.ndarray:
        scaler = splits.target_scaler
        return a if scaler is None else scaler.inverse_transform(a.reshape(-1, 1)).ravel()

    @torch.no_grad()
    def predict(x: torch.Tensor) -> np.ndarray:
        model.eval()
        return to_units(model(x).squeeze(-1).cpu().numpy())

    final, result = train(
        cfg, model, build_loss(cfg.loss), tensors, tracker,
        train_target=tensors["train"][1], to_loss_input=lambda out: out.squeeze(-1),
        metrics_of=lambda x, y: regression_metrics(to_units(y.cpu().numpy()), predict(x)))

    x_test, y_test = tensors["test"]
    title = run_title(cfg)
    log_figures(tracker, {
        "plots/learning_curve.png": lambda: plots.learning_curve(result.history, "rmse", title),
        "plots/predicted_vs_true.png": lambda: plots.predicted_vs_true(
            to_units(y_test.cpu().numpy()), predict(x_test), f"test: {title}"),
    })
    return final
