"""Regression: an MLP with no output activation, trained on a regression loss, scored in the
target's own units (RMSE, MAE, median absolute error, R2) on clean validation and test data.
A synthetic data set that knows functions of x on a split (``Splits.references``, e.g. the true
conditional median and mean) adds ``dist_<name>``: the RMS distance of the fit to each."""

from __future__ import annotations

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from lossbench.data.tabular import Splits
from lossbench.loop import batch_generator, once_per_weights
from lossbench.plots import learning_curve
from lossbench.runner import EpochTask, run_epochs, run_title
from lossbench.schema import ConfigError, check_group, check_monitor
from lossbench.tasks.supervised import plots
from lossbench.tasks.supervised.loop import Batches, check_common, epoch_metrics, to_device
from lossbench.tasks.supervised.losses import build_loss, loss_spec
from lossbench.tasks.supervised.metrics import REGRESSION, regression_metrics, rms_distance
from lossbench.tasks.supervised.schema import RegressionDataConf, SkewedNoiseConf
from lossbench.tracking import Tracker


def check(cfg: DictConfig) -> None:
    """Refuse data, a model, a trainer or a loss that does not fit regression (before any
    data loads)."""
    check_common(cfg)
    check_group(cfg, "data", (RegressionDataConf, SkewedNoiseConf),
                "use a regression table (diabetes, california) or skewed_noise")
    spec = loss_spec(cfg)
    if spec.consumes != "values":
        raise ConfigError(f"loss={cfg.loss_name} is not a regression loss (it consumes "
                          f"{spec.consumes}); {cfg.name} is a regression task: use mse, mae, "
                          "huber or log_cosh")
    check_monitor(cfg, epoch_metrics(REGRESSION))


def run(cfg: DictConfig, splits: Splits, device: torch.device, tracker: Tracker) -> dict[str, float]:
    return run_epochs(cfg, build(cfg, splits, device, tracker), tracker)


def build(cfg: DictConfig, splits: Splits, device: torch.device, tracker: Tracker) -> EpochTask:
    """The model (initialized from the global RNG, seeded by the job), its batches and scores."""
    del tracker  # regression tags nothing of its own
    dtype = cfg.trainer.dtype
    tensors = to_device(splits, device, dtype)
    x_train, y_train = tensors["train"]
    model = instantiate(cfg.model, in_shape=splits.x_train.shape[1:], out_features=1).to(
        device, getattr(torch, dtype))

    def to_units(a: np.ndarray) -> np.ndarray:
        scaler = splits.target_scaler
        return a if scaler is None else scaler.inverse_transform(a.reshape(-1, 1)).ravel()

    @torch.no_grad()
    def predict(x: torch.Tensor) -> np.ndarray:
        model.eval()
        return to_units(model(x).squeeze(-1).cpu().numpy())

    predicted = once_per_weights(model, predict, {p: xy[0] for p, xy in tensors.items()})

    def score(part: str) -> dict[str, float]:
        y, pred = tensors[part][1], predicted(part)
        refs = splits.references.get(part, {})
        return regression_metrics(to_units(y.cpu().numpy()), pred) | {
            f"dist_{name}": rms_distance(pred, ref) for name, ref in refs.items()}

    def figures(result) -> dict:
        y_test = tensors["test"][1]
        title = run_title(cfg)
        out = {
            "plots/learning_curve.png": lambda: learning_curve(result.history, "rmse", title),
            "plots/predicted_vs_true.png": lambda: plots.predicted_vs_true(
                to_units(y_test.cpu().numpy()), predicted("test"), f"test: {title}"),
        }
        refs = splits.references.get("test")
        if refs and splits.x_test.shape[1:] == (1,):
            out["plots/fit_vs_truth.png"] = lambda: plots.fit_vs_references(
                splits.x_test[:, 0], to_units(y_test.cpu().numpy()), predicted("test"), refs,
                f"test: {title}")
        return out

    batches = Batches(x_train, y_train, build_loss(cfg.loss), lambda out: out.squeeze(-1),
                      cfg.trainer.batch_size, batch_generator(cfg.seed, device))
    return EpochTask(model, batches.epoch_losses(model), score, figures,
                     rngs={"batches": batches.generator}, batches=batches)
