"""The train loop of the pairs task: examples (pairs or triplets of image indices) are drawn
afresh each epoch, then sliced into batches; every image of a batch goes through the same
network in one forward pass (shared weights).

Images stay on the device as one tensor; examples are index tensors on the device.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from typing import Optional

import torch
from torch import nn

from lossbench.train import FitResult, TrainingDiverged, improved

# draw(epoch) -> (indices (n, k) into the training images, per-example 1/0 "same" or None)
Draw = Callable[[int], tuple[torch.Tensor, Optional[torch.Tensor]]]
# batch_loss(embeddings (b, k, dim), same (b,) or None) -> scalar loss
BatchLoss = Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


def embed_examples(model: nn.Module, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Embeddings ``(b, k, dim)`` of the images ``x[idx]`` for index examples ``(b, k)``."""
    return model(x[idx.reshape(-1)]).reshape(*idx.shape, -1)


def fit_pairs(model: nn.Module, batch_loss: BatchLoss, optimizer: torch.optim.Optimizer,
              x: torch.Tensor, draw: Draw, *, epochs: int, batch_size: int, patience: int,
              monitor: str, monitor_mode: str,
              evaluate: Callable[[nn.Module], dict[str, float]],
              on_epoch: Callable[[int, dict[str, float]], None] = lambda epoch, metrics: None,
              grad_clip: float = 0.0) -> FitResult:
    """Train on freshly drawn examples each epoch; early stopping on ``metrics[monitor]``
    restores the best epoch's weights at the end (like :func:`lossbench.train.fit`)."""
    result = FitResult()
    best = math.inf if monitor_mode == "min" else -math.inf
    best_state = copy.deepcopy(model.state_dict())
    since_best = 0
    tic = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        idx, same = draw(epoch)
        total = torch.zeros((), device=x.device)
        for start in range(0, len(idx), batch_size):
            batch = slice(start, start + batch_size)
            emb = embed_examples(model, x, idx[batch])
            loss = batch_loss(emb, None if same is None else same[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            total += loss.detach() * len(emb)
        train_loss = (total / len(idx)).item()  # one device sync per epoch
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
