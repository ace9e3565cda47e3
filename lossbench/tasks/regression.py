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
from lossbench.metrics import prefixed, regression_metrics
from lossbench.tracking import Tracker
from lossbench.train import fit

EVAL_PARTS = ("val", "test")


def check_config(cfg: DictConfig) -> None:
    if cfg.loss.consumes != "values":
        raise ConfigError(f"loss={cfg.loss_name} is a classification loss (it consumes "
                          f"{cfg.loss.consumes}); {cfg.name} is a regression task: use mse, mae, "
                          "huber or log_cosh")


def run(cfg: DictConfig, splits: Splits, device: torch.device, tracker: Tracker) -> dict[str, float]:
    tensors = {part: tuple(torch.as_tensor(a, device=device) for a in splits.split(part))
               for part in ("train", "val", "test")}
    model = instantiate(cfg.model, in_shape=splits.x_train.shape[1:], out_features=1).to(device)
    loss_fn = build_loss(cfg.loss)
    optimizer = instantiate(cfg.optimizer)(model.parameters())

    def to_units(a: np.ndarray) -> np.ndarray:
        scaler = splits.target_scaler
        return a if scaler is None else scaler.inverse_transform(a.reshape(-1, 1)).ravel()

    @torch.no_grad()
    def predict(x: torch.Tensor) -> np.ndarray:
        model.eval()
        return to_units(model(x).squeeze(-1).cpu().numpy())

    def evaluate(_model: torch.nn.Module) -> dict[str, float]:
        out: dict[str, float] = {}
        for part in EVAL_PARTS:
            x, y = tensors[part]
            out |= prefixed(part, regression_metrics(to_units(y.cpu().numpy()), predict(x)))
        return out

    x_train, y_train = tensors["train"]
    tc = cfg.trainer
    result = fit(model, loss_fn, optimizer, x_train, y_train, epochs=tc.epochs,
                 batch_size=tc.batch_size, patience=tc.patience, monitor=tc.monitor,
                 monitor_mode=tc.monitor_mode, grad_clip=tc.grad_clip, seed=cfg.seed,
                 evaluate=evaluate, on_epoch=lambda e, m: tracker.log_metrics(m, step=e),
                 to_loss_input=lambda out: out.squeeze(-1))

    final = {f"final_{k}": v for k, v in evaluate(model).items()}
    final |= {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
              "train_seconds": result.seconds}
    tracker.log_metrics(final, step=result.epochs_run)

    if tracker.plots:
        title = f"{cfg.name} / {cfg.loss_name} / seed {cfg.seed}"
        fig = plots.learning_curve(result.history, "rmse", title)
        tracker.log_figure(fig, "plots/learning_curve.png")
        plots.close(fig)
        y_test = to_units(tensors["test"][1].cpu().numpy())
        fig = plots.predicted_vs_true(y_test, predict(tensors["test"][0]), f"test: {title}")
        tracker.log_figure(fig, "plots/predicted_vs_true.png")
        plots.close(fig)
    return final
