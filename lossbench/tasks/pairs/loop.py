"""The train loop of the pairs task: examples (pairs or triplets of image indices) are drawn
afresh each epoch, then sliced into batches; every image of a batch goes through the same
network in one forward pass (shared weights).

Images stay on the device as one tensor; examples are index tensors on the device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Optional

import torch
from torch import nn


# draw(epoch) -> (indices (n, k) into the training images, per-example 1/0 "same" or None)
Draw = Callable[[int], tuple[torch.Tensor, Optional[torch.Tensor]]]
# batch_loss(embeddings (b, k, dim), same (b,) or None) -> scalar loss
BatchLoss = Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


def embed_examples(model: nn.Module, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Embeddings ``(b, k, dim)`` of the images ``x[idx]`` for index examples ``(b, k)``."""
    return model(x[idx.reshape(-1)]).reshape(*idx.shape, -1)


def pair_losses(model: nn.Module, batch_loss: BatchLoss, x: torch.Tensor, draw: Draw, *,
                batch_size: int) -> Callable[[int], Iterator[tuple[torch.Tensor, int]]]:
    """``epoch -> (batch loss, batch size)`` over examples drawn afresh each epoch, for the
    shared epoch loop (:func:`lossbench.loop.fit`)."""

    def epoch_losses(epoch: int) -> Iterator[tuple[torch.Tensor, int]]:
        idx, same = draw(epoch)
        for start in range(0, len(idx), batch_size):
            batch = slice(start, start + batch_size)
            emb = embed_examples(model, x, idx[batch])
            yield batch_loss(emb, None if same is None else same[batch]), len(emb)

    return epoch_losses
