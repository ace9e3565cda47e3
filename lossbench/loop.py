"""The epoch loop every epoch-trained task kind shares, and the batch order it draws.

Data stays on the device as whole tensors; each epoch draws a permutation from a seeded
generator and slices batches from it (no DataLoader, no per-sample work in the loop).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar

import torch
from torch import nn


class TrainingDiverged(RuntimeError):
    """The training loss or a weight became NaN or infinite."""


ON_DIVERGE = ("raise", "stop")


@dataclass
class FitResult:
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    epochs_run: int = 0
    seconds: float = 0.0
    # the epoch whose training went non-finite (on_diverge="stop"); 0: it never did
    diverged_epoch: int = 0


@dataclass
class FitState:
    """Where the epoch loop stands after an epoch: what a checkpoint needs (with the model's,
    the optimizer's and the RNGs' states) to continue it exactly. ``best_weights`` is None
    until the first epoch; ``stopped`` says early stopping ended the loop."""

    epoch: int = 0
    best: float = math.nan
    best_epoch: int = 0
    since_best: int = 0
    best_weights: Optional[dict[str, torch.Tensor]] = None
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: bool = False
    diverged_epoch: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def batch_generator(seed: int, device: torch.device) -> torch.Generator:
    """The seeded generator a run's batch order is drawn from (on the device for CUDA)."""
    return torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(seed)


def epoch_permutation(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """An epoch's order of ``range(n)``, drawn from the run's ``generator``."""
    return torch.randperm(n, generator=generator, device=generator.device).to(device)


def batch_indices(n: int, batch_size: int, generator: torch.Generator,
                  device: torch.device) -> Iterator[torch.Tensor]:
    """Shuffled index batches covering ``range(n)`` once (:func:`epoch_permutation`)."""
    perm = epoch_permutation(n, generator, device)
    for start in range(0, n, batch_size):
        yield perm[start:start + batch_size]


def improved(value: float, best: float, mode: str) -> bool:
    return value < best if mode == "min" else value > best


def weights_finite(model: nn.Module) -> bool:
    """Every parameter finite (one device sync)."""
    flags = [torch.isfinite(p).all() for p in model.parameters()]
    return bool(torch.stack(flags).all().item()) if flags else True


def end_epoch(s: FitState, epoch: int, train_loss: float, model: nn.Module, *, patience: int,
              monitor: str, monitor_mode: str, evaluate: Callable[[], dict[str, float]],
              on_epoch: Callable[[int, dict[str, float]], None]) -> None:
    """What follows an epoch's optimizer steps, for one model alone or one slice of a stack
    (:mod:`lossbench.tasks.supervised.stacked`): refuse a non-finite training loss, evaluate,
    record the history, hand the metrics to ``on_epoch``, and early stopping (the best epoch's
    weights kept, ``stopped`` once ``patience`` epochs passed without improving)."""
    if not math.isfinite(train_loss):
        raise TrainingDiverged(f"training loss is {train_loss} at epoch {epoch}")
    metrics = {"train_loss": train_loss, **evaluate()}
    if monitor not in metrics:
        raise KeyError(f"trainer.monitor={monitor!r} is not a metric; "
                       f"choose one of {sorted(metrics)}")
    s.history.append({"epoch": epoch, **metrics})
    s.epoch = epoch
    on_epoch(epoch, metrics)
    if improved(metrics[monitor], s.best, monitor_mode):
        s.best, s.best_epoch, s.since_best = metrics[monitor], epoch, 0
        s.best_weights = copy.deepcopy(model.state_dict())
    else:
        s.since_best += 1
        s.stopped = bool(patience and s.since_best >= patience)


def fit(model: nn.Module, optimizer: torch.optim.Optimizer,
        epoch_losses: Callable[[int], Iterator[tuple[torch.Tensor, int]]], *,
        epochs: int, patience: int, monitor: str, monitor_mode: str,
        evaluate: Callable[[], dict[str, float]],
        on_epoch: Callable[[int, dict[str, float]], None] = lambda epoch, metrics: None,
        grad_clip: float = 0.0, state: Optional[FitState] = None,
        on_state: Callable[[FitState], None] = lambda state: None,
        on_diverge: str = "raise") -> FitResult:
    """The epoch loop every batch-trained task shares.

    ``epoch_losses(epoch)`` yields ``(batch loss, batch size)``; each loss gets one optimizer
    step. After each epoch ``evaluate`` runs and ``on_epoch`` gets the metrics; early stopping
    watches ``metrics[monitor]`` and the best epoch's weights are restored at the end.
    ``on_state`` gets the loop's state after every epoch (to checkpoint it); a ``state`` from
    a checkpoint continues the loop after its epoch (model and optimizer already restored).
    An epoch whose training loss or weights end non-finite raises :class:`TrainingDiverged`
    (``on_diverge="raise"``) or ends the loop there (``"stop"``: ``diverged_epoch`` says
    which, and the best finite epoch's weights are restored as after early stopping).
    """
    if on_diverge not in ON_DIVERGE:
        raise ValueError(f"on_diverge must be one of {ON_DIVERGE}, got {on_diverge!r}")
    s = state or FitState(best=math.inf if monitor_mode == "min" else -math.inf)
    if s.best_weights is None:
        s.best_weights = copy.deepcopy(model.state_dict())
    tic = time.perf_counter()
    for epoch in range(s.epoch + 1, epochs + 1):
        if s.stopped:
            break
        model.train()
        total, count = None, 0
        for loss, size in epoch_losses(epoch):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            weighted = loss.detach() * size
            total = weighted if total is None else total + weighted
            count += size
        train_loss = (total / count).item()  # one device sync per epoch
        if not (math.isfinite(train_loss) and weights_finite(model)):
            if on_diverge == "raise":
                raise TrainingDiverged(f"training loss is {train_loss} (or a weight is not "
                                       f"finite) at epoch {epoch}")
            s.epoch, s.diverged_epoch, s.stopped = epoch, epoch, True
            on_state(s)
            break
        end_epoch(s, epoch, train_loss, model, patience=patience, monitor=monitor,
                  monitor_mode=monitor_mode, evaluate=evaluate, on_epoch=on_epoch)
        on_state(s)
    model.load_state_dict(s.best_weights)
    return FitResult(history=s.history, best_epoch=s.best_epoch, epochs_run=s.epoch,
                     seconds=time.perf_counter() - tic, diverged_epoch=s.diverged_epoch)


T = TypeVar("T")


def once_per_weights(model: nn.Module, fn: Callable[[torch.Tensor], T],
                     inputs: Mapping[str, torch.Tensor]) -> Callable[[str], T]:
    """``part -> fn(inputs[part])`` (a split's predictions or embeddings), computed once per
    state of ``model``'s weights, so the final scores and the figures share one pass over a
    split: a cancer_screening run predicted its test split twice at the end (1.8 s each
    under cProfile), a pairs run embedded its test images three times. The weights' state
    is each parameter's and buffer's identity and in-place version counter, which every
    optimizer step, ``load_state_dict`` and BatchNorm update bumps."""
    cache: dict[str, tuple[tuple[tuple[int, int], ...], T]] = {}

    def cached(part: str) -> T:
        state = tuple((id(t), t._version) for t in (*model.parameters(), *model.buffers()))
        hit = cache.get(part)
        if hit is None or hit[0] != state:
            hit = cache[part] = (state, fn(inputs[part]))
        return hit[1]

    return cached
