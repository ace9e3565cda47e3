"""The pair loss torch lacks: contrastive loss (Hadsell, Chopra & LeCun 2006).

``torch.nn.CosineEmbeddingLoss`` and ``torch.nn.TripletMarginLoss`` are configured straight to
torch through ``_target_``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lossbench.torchutil import reduce


def contrastive_loss(distance_sq: torch.Tensor, similar: torch.Tensor,
                     margin: float) -> torch.Tensor:
    """Per-pair contrastive loss (Hadsell, Chopra & LeCun 2006) from squared distances.

    Similar pairs (``similar`` = 1) cost ``d^2 / 2``, dissimilar ones (0) ``max(0, m - d)^2 / 2``.
    ``d^2`` is used directly for similar pairs; for dissimilar ones ``d`` is a "safe" square
    root: exactly 0 at ``d^2 = 0`` with a zero gradient there (a bare ``sqrt``'s is infinite).
    """
    nonzero = distance_sq > 0
    d = torch.where(nonzero, torch.where(nonzero, distance_sq, 1.0).sqrt(), 0.0)
    similar = similar.to(distance_sq.dtype)
    return 0.5 * (similar * distance_sq + (1.0 - similar) * F.relu(margin - d) ** 2)


class ContrastiveLoss(nn.Module):
    """Contrastive loss on two batches of embeddings and a 1 (same) / 0 (different) target,
    called like ``torch.nn.CosineEmbeddingLoss``: ``loss(emb1, emb2, target)``."""

    def __init__(self, margin: float, reduction: str = "mean") -> None:
        super().__init__()
        if margin <= 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        reduce(torch.zeros(()), reduction)  # validate early
        self.margin, self.reduction = margin, reduction

    def forward(self, input1: torch.Tensor, input2: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        distance_sq = (input1 - input2).pow(2).sum(-1)
        return reduce(contrastive_loss(distance_sq, target, self.margin),
                       self.reduction)
