"""Losses that torch and torchvision do not ship as modules, and :func:`build_loss`.

Everything else is configured straight to torch (``torch.nn.MSELoss``, ``L1Loss``,
``HuberLoss``, ``BCEWithLogitsLoss``, ``CrossEntropyLoss``, ``KLDivLoss``) through ``_target_``.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchvision.ops import sigmoid_focal_loss

from lossbench.config import LOSS_DECLARATIONS


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


def contrastive_loss(distance_sq: torch.Tensor, similar: torch.Tensor,
                     margin: float = 1.0) -> torch.Tensor:
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

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        if margin <= 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        _reduce(torch.zeros(()), reduction)  # validate early
        self.margin, self.reduction = margin, reduction

    def forward(self, input1: torch.Tensor, input2: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        distance_sq = (input1 - input2).pow(2).sum(-1)
        return _reduce(contrastive_loss(distance_sq, target, self.margin),
                       self.reduction)


class FocalLoss(nn.Module):
    """Focal loss on logits (Lin et al. 2017): ``torchvision.ops.sigmoid_focal_loss``.

    ``alpha`` weights positives (``1 - alpha`` negatives; -1 turns weighting off), ``gamma``
    down-weights easy examples. Targets are 0/1 floats.
    """

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "mean") -> None:
        super().__init__()
        _reduce(torch.zeros(()), reduction)
        self.alpha, self.gamma, self.reduction = alpha, gamma, reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sigmoid_focal_loss(input, target, alpha=self.alpha, gamma=self.gamma,
                                  reduction=self.reduction)


class BinaryHingeLoss(nn.Module):
    """``max(0, margin - y * s)`` on raw scores ``s`` with labels ``y`` in {-1, +1}."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        _reduce(torch.zeros(()), reduction)
        self.margin, self.reduction = margin, reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return _reduce(F.relu(self.margin - target * input), self.reduction)


def derived_pos_weight(y_train: np.ndarray) -> float:
    """``n_negative / n_positive`` of 0/1 training labels."""
    pos = int(np.sum(y_train == 1))
    if pos == 0:
        raise ValueError("cannot derive loss.pos_weight: the training split has no positives")
    return (len(y_train) - pos) / pos


def balanced_class_weights(y_train: np.ndarray, num_classes: int) -> list[float]:
    """scikit-learn's "balanced" weights ``n / (n_classes * count_c)``; a class absent from
    the training split gets weight 1."""
    counts = np.bincount(y_train, minlength=num_classes)[:num_classes]
    return [len(y_train) / (num_classes * c) if c else 1.0 for c in counts.tolist()]


def build_loss(cfg: DictConfig, y_train: Optional[np.ndarray] = None,
               num_classes: Optional[int] = None) -> nn.Module:
    """Instantiate a loss config, leaving out its declarations (head, consumes, target).

    ``pos_weight`` / ``weight`` set to null are derived from the training labels, and numbers
    become the tensors torch's losses want.
    """
    node = {k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items()
            if k not in LOSS_DECLARATIONS}
    if "pos_weight" in node:
        pw = node["pos_weight"] if node["pos_weight"] is not None else derived_pos_weight(y_train)
        node["pos_weight"] = torch.tensor(float(pw))
    if "weight" in node:
        w = node["weight"] if node["weight"] is not None else \
            balanced_class_weights(y_train, num_classes)
        node["weight"] = torch.tensor(w, dtype=torch.float32)
    return instantiate(node)
