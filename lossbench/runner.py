"""The skeleton every epoch-trained task kind shares (supervised and pairs).

A kind builds an :class:`EpochTask`: its model, the batch losses of one epoch, how to score a
split, and its figures. :func:`run_epochs` does the rest, the same way for every kind: the
optimizer from ``cfg.optimizer``, the epoch loop (:func:`lossbench.loop.fit`: early stopping on
``trainer.monitor``, best weights restored), validation metrics per epoch, the test split once
at the end on the restored weights, the ``final_*`` metrics and the figures.

Every ``trainer.checkpoint_every`` epochs (and at the end) the model, the optimizer, the loop's
state (early stopping: best value, epoch and weights, epochs since the best, the history) and
every RNG (the process-wide ones and the task's own: batch order, pair sampler) go to
``<checkpoint dir>/last.pt`` (:mod:`lossbench.checkpoint`). ``resume=true`` continues from
there to the same final metrics as an uninterrupted run; like the GAN task, the resumed job is
a new MLflow run (tag ``resumed_from_epoch``) that re-logs the earlier epochs' metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Optional
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from lossbench import checkpoint, progress, stepcost
from lossbench.curves import curve_metrics, gaps
from lossbench.loop import FitResult, FitState, fit
from lossbench.tracking import Tracker, log_figures

log = logging.getLogger(__name__)

EpochLosses = Callable[[int], Iterator[tuple[torch.Tensor, int]]]


def prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in metrics.items()}


@dataclass
class EpochTask:
    """What one epoch-trained kind provides.

    * ``epoch_losses(epoch)`` yields ``(batch loss, batch size)``, one optimizer step each;
    * ``score(part)`` returns the metrics of split ``part`` ("val" or "test"), unprefixed;
    * ``figures(result)`` maps artifact paths to figure builders, called once at the end.
    * ``rngs`` names the task's own generators (torch or numpy) that a resume must restore.
    * ``batches``: the training data and loss as whole tensors, for kinds whose seeds can
      train as one stacked model (:mod:`lossbench.tasks.supervised.stacked`); None otherwise.
    """

    model: torch.nn.Module
    epoch_losses: EpochLosses
    score: Callable[[str], dict[str, float]]
    figures: Callable[[FitResult], dict[str, Callable]] = field(default=lambda result: {})
    rngs: dict[str, Any] = field(default_factory=dict)
    batches: Any = None


# settings a resumed job must share with the job it continues (epochs and patience may change)
FINGERPRINT_KEYS = ("task", "seed", "data", "model", "loss", "optimizer", "trainer.batch_size",
                    "trainer.monitor", "trainer.monitor_mode", "trainer.grad_clip")


def run_title(cfg: DictConfig) -> str:
    return f"{cfg.name} / {cfg.loss_name} / seed {cfg.seed}"


def restore(cfg: DictConfig, task: EpochTask, optimizer: torch.optim.Optimizer,
            tracker: Tracker, ckpt_dir: Path, fprint: str) -> Optional[FitState]:
    """With ``resume=true``: load the checkpoint into the model, optimizer and RNGs, re-log
    its epochs into this run; return the loop's state (None: start afresh)."""
    state = checkpoint.load(ckpt_dir, fprint)
    if state is None:
        log.warning("resume=true but no checkpoint in %s: starting afresh", ckpt_dir)
        return None
    task.model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    for name, rng in task.rngs.items():
        checkpoint.set_rng_state(rng, state["task_rngs"][name])
    checkpoint.set_global_rng_state(state["rng"])
    fit_state = FitState(**state["fit"])
    for h in fit_state.history:  # the new run gets the whole curve
        tracker.log_metrics({k: v for k, v in h.items() if k != "epoch"}, step=h["epoch"])
    tracker.set_tags({"resumed_from_epoch": str(fit_state.epoch)})
    log.info("resumed from %s after epoch %d", ckpt_dir, fit_state.epoch)
    return fit_state


def fit_options(tc: DictConfig) -> dict[str, Any]:
    """The ``trainer`` keys every epoch loop takes (:func:`lossbench.loop.fit`, the stacked
    seeds' ``fit_stack``): the epoch budget, early stopping on the monitor, gradient clipping."""
    return {"epochs": tc.epochs, "patience": tc.patience, "monitor": tc.monitor,
            "monitor_mode": tc.monitor_mode, "grad_clip": tc.grad_clip}


def run_epochs(cfg: DictConfig, task: EpochTask, tracker: Tracker) -> dict[str, float]:
    """Train ``task`` with ``cfg.optimizer`` and ``cfg.trainer``; log ``train_loss`` and
    ``val_*`` per epoch, then ``final_val_*`` and ``final_test_*`` (the restored best epoch;
    with ``trainer.diagnostics`` also ``final_train_*``, ``final_gap_*`` and the roughness of
    the train-loss and monitored curves, :mod:`lossbench.curves`), the epoch counts and times;
    log the figures; return the final metrics. With ``trainer.on_diverge=stop`` a diverged run
    finishes on its best epoch and logs ``final_diverged`` (0/1); with ``trainer.measure_steps``
    the cost of further steps is measured last (:mod:`lossbench.stepcost`). Checkpoints every
    ``trainer.checkpoint_every`` epochs and at the end; resumes with ``resume=true``."""
    optimizer = instantiate(cfg.optimizer)(task.model.parameters())
    tc = cfg.trainer
    ckpt_dir, fprint = checkpoint.checkpoint_dir(cfg), checkpoint.fingerprint(cfg, FINGERPRINT_KEYS)
    start = restore(cfg, task, optimizer, tracker, ckpt_dir, fprint) if cfg.resume else None
    tracker.set_tags({"checkpoint_dir": str(ckpt_dir.resolve())})

    def save(state: FitState) -> None:
        last = state.stopped or state.epoch == tc.epochs
        if last or (tc.checkpoint_every and state.epoch % tc.checkpoint_every == 0):
            checkpoint.save(ckpt_dir, {
                "model": task.model.state_dict(), "optimizer": optimizer.state_dict(),
                "task_rngs": {k: checkpoint.rng_state(r) for k, r in task.rngs.items()},
                "fit": state.as_dict()}, fprint)

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        tracker.log_metrics(metrics, step=epoch)
        bar.update(1)
        bar.set_postfix({tc.monitor: f"{metrics[tc.monitor]:.4g}"}, refresh=False)

    with progress.bar(tc.epochs, cfg.run_name, initial=start.epoch if start else 0) as bar:
        result = fit(task.model, optimizer, task.epoch_losses, **fit_options(tc),
                     evaluate=lambda: prefixed("val", task.score("val")),
                     on_epoch=on_epoch, state=start, on_state=save, on_diverge=tc.on_diverge)
    final = finish(cfg, task, tracker, result, result.epochs_run - (start.epoch if start else 0))
    if tc.measure_steps:  # last: the extra steps change the model
        device = next(task.model.parameters()).device
        cost = stepcost.measure(task.model, optimizer, task.epoch_losses, tc.measure_steps,
                                device, tc.grad_clip)
        tracker.log_metrics(cost, step=result.epochs_run)
        final |= cost
    return final


def finish(cfg: DictConfig, task: EpochTask, tracker: Tracker, result: FitResult,
           trained_here: int) -> dict[str, float]:
    """After the loop (weights restored to the best epoch), for one run alone or one seed of
    a stack: score val and test once (and train, with ``trainer.diagnostics``), log the
    ``final_*`` metrics, the epoch counts and times (``trained_here``: epochs this process
    trained) and the figures; return the final metrics."""
    tc = cfg.trainer
    parts = ("train", "val", "test") if tc.diagnostics else ("val", "test")
    final = {f"final_{k}": v for part in parts
             for k, v in prefixed(part, task.score(part)).items()}
    if tc.diagnostics:
        final |= gaps(final) | curve_metrics(result.history, ("train_loss", tc.monitor))
    if tc.on_diverge == "stop":
        final["final_diverged"] = float(result.diverged_epoch > 0)
        final["diverged_epoch"] = result.diverged_epoch
    final |= {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
              "train_seconds": result.seconds,
              "seconds_per_epoch": result.seconds / max(trained_here, 1)}
    tracker.log_metrics(final, step=result.epochs_run)
    log_figures(tracker, task.figures(result))
    return final
