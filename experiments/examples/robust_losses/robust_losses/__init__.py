"""A robust regression loss that lossbench does not ship, in a package of its own: lossbench
runs it from its import path (``_target_: robust_losses.Cauchy``) with no change to lossbench.
"""

from __future__ import annotations

import torch
from torch import nn


class Cauchy(nn.Module):
    """Cauchy (Lorentzian) loss: ``(c^2 / 2) log(1 + (e / c)^2)`` of the error ``e``.

    Quadratic near 0 like MSE (``e^2 / 2`` for ``|e| << c``), but only logarithmic for large
    errors: its gradient ``e / (1 + (e / c)^2)`` peaks at ``|e| = c`` and falls back towards 0,
    so gross outliers pull less than under Huber (whose gradient stays at delta).
    """

    def __init__(self, scale: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")
        self.scale, self.reduction = scale, reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        c = self.scale
        loss = 0.5 * c * c * torch.log1p(((input - target) / c) ** 2)
        if self.reduction == "mean":
            return loss.mean()
        return loss.sum() if self.reduction == "sum" else loss
