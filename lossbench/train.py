"""The supervised train loop shared by the regression and classification tasks.

Data stays on the device as whole tensors; each epoch draws a permutation from a seeded
generator and slices batches from it (no DataLoader, no per-sample work in the loop).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass
class FitResult:
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    epochs_run: int = 0
    seconds: float = 0.0


def batch_indices(n: int, batch_size: int, generator: torch.Generator,
                  device: torch.device) -> Iterator[torch.Tensor]:
    """Shuffled index batches covering ``range(n)`` once."""
    perm = torch.randperm(n, generator=generator, device=generator.device).to(device)
    for start in range(0, n, batch_size):
        yield perm[start:start + batch_size]


def improved(value: float, best: float, mode: str) -> bool:
    return value < best if mode == "min" else value > best


def fit_epochs(model: nn.Module, optimizer: torch.optim.Optimizer,
               epoch_losses: Callable[[int], Iterator[tuple[torch.Tensor, int]]], *,
               epochs: int, patience: int, monitor: str, monitor_mode: str,
               evaluate: Callable[[nn.Module], dict[str, float]],
               on_epoch: Callable[[int, dict[str, float]], None] = lambda epoch, metrics: None,
               grad_clip: float = 0.0) -> FitResult:
    """The epoch loop every batch-trained task shares.

    ``epoch_losses(epoch)`` yields ``(batch loss, batch size)``; each loss gets one optimizer
    step. After each epoch ``evaluate`` runs and ``on_epoch`` gets the metrics; early stopping
    watches ``metrics[monitor]`` and the best epoch's weights are restored at the end.
    """
    result = FitResult()
    best = math.inf if monitor_mode == "min" else -math.inf
    best_state = copy.deepcopy(model.state_dict())
    since_best = 0
    tic = time.perf_counter()
    for epoch in range(1, epochs + 1):
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
        if not math.isfinite(train_loss):
            raise TrainingDiverged(f"training loss is {train_loss} at epoch {epoch}")
        metrics = {"train_loss": train_loss, **evaluate(model)}
        result.history.append({"epoch": epoch, **metrics})
        result.epochs_run = epoch
        on_epoch(epoch, metrics)
        if monitor not in metrics:
            raise KeyError(f"trainer.monitor={monitor!r} is not a metric; "
                           f"choose one of {sorted(metrics)}")
        if improved(metrics[monitor], best, monitor_mode):
            best, result.best_epoch, since_best = metrics[monitor], epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
            if patience and since_best >= patience:
                break
    model.load_state_dict(best_state)
    result.seconds = time.perf_counter() - tic
    return result


def fit(model: nn.Module, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, *,
        epochs: int, batch_size: int, patience: int, monitor: str, monitor_mode: str,
        evaluate: Callable[[nn.Module], dict[str, float]],
        on_epoch: Callable[[int, dict[str, float]], None] = lambda epoch, metrics: None,
        to_loss_input: Callable[[torch.Tensor], torch.Tensor] = lambda out: out,
        grad_clip: float = 0.0, seed: int = 0) -> FitResult:
    """Supervised training on ``(x, y)``: each epoch a seeded permutation sliced into batches.
    ``to_loss_input`` maps the model's raw output to what ``loss_fn`` consumes."""
    device = x.device
    gen_device = device if device.type == "cuda" else torch.device("cpu")
    generator = torch.Generator(device=gen_device).manual_seed(seed)

    def epoch_losses(_epoch: int) -> Iterator[tuple[torch.Tensor, int]]:
        for idx in batch_indices(len(x), batch_size, generator, device):
            yield loss_fn(to_loss_input(model(x[idx])), y[idx]), len(idx)

    return fit_epochs(model, optimizer, epoch_losses, epochs=epochs, patience=patience,
                      monitor=monitor, monitor_mode=monitor_mode, evaluate=evaluate,
                      on_epoch=on_epoch, grad_clip=grad_clip)
