"""Losses that torch does not ship. Everything else is configured straight to torch
(``torch.nn.MSELoss``, ``L1Loss``, ``HuberLoss`` ...) through ``_target_``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _reduce(x: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    if reduction == "none":
        return x
    raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")


def log_cosh(error: torch.Tensor) -> torch.Tensor:
    """``log(cosh(e))`` computed as ``|e| + softplus(-2|e|) - log 2``.

    The naive form overflows (cosh(1e4) = inf); this one is finite for any finite error and its
    gradient is ``tanh(e)`` (0 at e = 0, +-1 for large errors).
    """
    a = error.abs()
    return a + F.softplus(-2.0 * a) - math.log(2.0)


class LogCoshLoss(nn.Module):
    """Log-Cosh regression loss: quadratic near 0, linear (slope 1) for large errors."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        _reduce(torch.zeros(()), reduction)  # validate early
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return _reduce(log_cosh(input - target), self.reduction)
