"""The skeleton every epoch-trained task kind shares (supervised and pairs).

A kind builds an :class:`EpochTask`: its model, the batch losses of one epoch, how to score a
split, and its figures. :func:`run_epochs` does the rest, the same way for every kind: the
optimizer from ``cfg.optimizer``, the epoch loop (:func:`lossbench.loop.fit`: early stopping on
``trainer.monitor``, best weights restored), validation metrics per epoch, the test split once
at the end on the restored weights, the ``final_*`` metrics and the figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from lossbench.loop import FitResult, fit
from lossbench.tracking import Tracker, log_figures

EpochLosses = Callable[[int], Iterator[tuple[torch.Tensor, int]]]


def prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in metrics.items()}


@dataclass
class EpochTask:
    """What one epoch-trained kind provides.

    * ``epoch_losses(epoch)`` yields ``(batch loss, batch size)``, one optimizer step each;
    * ``score(part)`` returns the metrics of split ``part`` ("val" or "test"), unprefixed;
    * ``figures(result)`` maps artifact paths to figure builders, called once at the end.
    * ``extra(val_metrics)`` adds metrics that depend on the validation ones (e.g. a
      threshold chosen on validation), given to ``score`` of later parts.
    """

    model: torch.nn.Module
    epoch_losses: EpochLosses
    score: Callable[[str], dict[str, float]]
    figures: Callable[[FitResult], dict[str, Callable]] = field(default=lambda result: {})


def run_title(cfg: DictConfig) -> str:
    return f"{cfg.name} / {cfg.loss_name} / seed {cfg.seed}"


def run_epochs(cfg: DictConfig, task: EpochTask, tracker: Tracker) -> dict[str, float]:
    """Train ``task`` with ``cfg.optimizer`` and ``cfg.trainer``; log ``train_loss`` and
    ``val_*`` per epoch, then ``final_val_*`` and ``final_test_*`` (the restored best epoch),
    the epoch counts and times; log the figures; return the final metrics."""
    optimizer = instantiate(cfg.optimizer)(task.model.parameters())
    tc = cfg.trainer
    result = fit(task.model, optimizer, task.epoch_losses, epochs=tc.epochs,
                 patience=tc.patience, monitor=tc.monitor, monitor_mode=tc.monitor_mode,
                 grad_clip=tc.grad_clip, evaluate=lambda: prefixed("val", task.score("val")),
                 on_epoch=lambda epoch, metrics: tracker.log_metrics(metrics, step=epoch))
    final = {f"final_{k}": v for part in ("val", "test")
             for k, v in prefixed(part, task.score(part)).items()}
    final |= {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
              "train_seconds": result.seconds,
              "seconds_per_epoch": result.seconds / max(result.epochs_run, 1)}
    tracker.log_metrics(final, step=result.epochs_run)
    log_figures(tracker, task.figures(result))
    return final
