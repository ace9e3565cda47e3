"""What the regression and classification tasks share: data on the device, the optimizer,
the train loop with per-epoch validation/test metrics, the final metrics, and figure logging."""

from __future__ import annotations

from collections.abc import Callable

import torch
from hydra.utils import instantiate
from matplotlib.figure import Figure
from omegaconf import DictConfig

from lossbench import plots
from lossbench.data.tabular import Splits
from lossbench.metrics import prefixed
from lossbench.tracking import Tracker
from lossbench.train import FitResult, fit

EVAL_PARTS = ("val", "test")
Tensors = dict[str, tuple[torch.Tensor, torch.Tensor]]


def to_device(splits: Splits, device: torch.device) -> Tensors:
    return {part: tuple(torch.as_tensor(a, device=device) for a in splits.split(part))
            for part in ("train", "val", "test")}


def train(cfg: DictConfig, model: torch.nn.Module, loss_fn: torch.nn.Module, tensors: Tensors,
          tracker: Tracker, *, train_target: torch.Tensor,
          to_loss_input: Callable[[torch.Tensor], torch.Tensor],
          metrics_of: Callable[[torch.Tensor, torch.Tensor], dict[str, float]],
          ) -> tuple[dict[str, float], FitResult]:
    """Fit with ``cfg.optimizer`` and ``cfg.trainer``; log ``val_*``/``test_*`` per epoch and
    ``final_*`` (the restored best epoch) at the end, and return the final metrics."""
    optimizer = instantiate(cfg.optimizer)(model.parameters())

    def evaluate(_model: torch.nn.Module) -> dict[str, float]:
        out: dict[str, float] = {}
        for part in EVAL_PARTS:
            out |= prefixed(part, metrics_of(*tensors[part]))
        return out

    tc = cfg.trainer
    result = fit(model, loss_fn, optimizer, tensors["train"][0], train_target,
                 epochs=tc.epochs, batch_size=tc.batch_size, patience=tc.patience,
                 monitor=tc.monitor, monitor_mode=tc.monitor_mode, grad_clip=tc.grad_clip,
                 seed=cfg.seed, evaluate=evaluate, to_loss_input=to_loss_input,
                 on_epoch=lambda epoch, metrics: tracker.log_metrics(metrics, step=epoch))
    final = {f"final_{k}": v for k, v in evaluate(model).items()}
    final |= {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
              "train_seconds": result.seconds,
              "seconds_per_epoch": result.seconds / max(result.epochs_run, 1)}
    tracker.log_metrics(final, step=result.epochs_run)
    return final, result


def run_title(cfg: DictConfig) -> str:
    return f"{cfg.name} / {cfg.loss_name} / seed {cfg.seed}"


def log_figures(tracker: Tracker, figures: dict[str, Callable[[], Figure]]) -> None:
    """Build, log and close each figure (only when the tracker keeps plots)."""
    if not tracker.plots:
        return
    for path, make in figures.items():
        fig = make()
        tracker.log_figure(fig, path)
        plots.close(fig)
