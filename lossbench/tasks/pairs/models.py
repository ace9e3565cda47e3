"""The pairs task's model: one embedding network shared by every image of a pair or triplet."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class EmbeddingCNN(nn.Module):
    """Siamese / triplet embedding network: conv blocks (3x3 conv, ReLU, 2x2 max-pool) per entry
    of ``channels``, an adaptive pool, then ``hidden`` -> ``embedding_dim``. The same module (the
    same weights) embeds every image of a pair or triplet. ``normalize`` puts embeddings on the
    unit sphere."""

    def __init__(self, in_shape: Sequence[int], embedding_dim: int, channels: Sequence[int],
                 hidden: int, normalize: bool) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width = in_shape[0]
        for c in channels:
            blocks += [nn.Conv2d(width, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            width = c
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(width * 16, hidden), nn.ReLU(),
                                  nn.Linear(hidden, embedding_dim))
        self.normalize = normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        emb = self.head(self.features(x))
        return nn.functional.normalize(emb, dim=-1) if self.normalize else emb
