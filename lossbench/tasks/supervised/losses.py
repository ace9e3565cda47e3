"""Losses that torch and torchvision do not ship as modules, and :func:`build_loss`.

Everything else is configured straight to torch (``torch.nn.MSELoss``, ``L1Loss``,
``HuberLoss``, ``BCEWithLogitsLoss``, ``CrossEntropyLoss``, ``KLDivLoss``, ``MultiMarginLoss``)
through ``_target_``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from lossbench.schema import ConfigError, check_group
from lossbench.targets import check_loss_target, loss_kwargs
from lossbench.tasks.supervised.schema import LossConf
from lossbench.torchutil import reduce


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
        reduce(torch.zeros(()), reduction)  # validate early
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return reduce(log_cosh(input - target), self.reduction)


def sigmoid_focal(input: torch.Tensor, target: torch.Tensor, alpha: float,
                  gamma: float) -> torch.Tensor:
    """Per-example focal loss ``-alpha_t (1 - p_t)^gamma log p_t`` on logits, 0/1 targets.

    The same values as ``torchvision.ops.sigmoid_focal_loss``, in a form whose gradient is
    finite everywhere: ``(1 - p_t)^gamma`` is ``exp(gamma * log(1 - p_t))`` with
    ``log(1 - p_t) = logsigmoid(-s z)`` (``s = 2y - 1``), so a confident prediction
    (``p_t -> 1``) gives ``exp(-huge) = 0`` and no ``0^(gamma - 1)`` in the gradient, which
    torchvision's ``(1 - p_t) ** gamma`` turns into NaN for ``0 < gamma < 1``.
    """
    sign = 2.0 * target - 1.0
    ce = F.binary_cross_entropy_with_logits(input, target, reduction="none")  # -log p_t
    loss = torch.exp(gamma * F.logsigmoid(-sign * input)) * ce
    if alpha >= 0:
        loss = (alpha * target + (1.0 - alpha) * (1.0 - target)) * loss
    return loss


class FocalLoss(nn.Module):
    """Focal loss on logits (Lin et al. 2017), :func:`sigmoid_focal`.

    ``alpha`` weights positives (``1 - alpha`` negatives; -1 turns weighting off), ``gamma``
    down-weights easy examples. Targets are 0/1 floats. With ``reduction="mean"`` the summed
    loss is divided by the number of examples (``normalize="mean"``, torchvision's) or by the
    number of positives in the batch, at least 1 (``normalize="positives"``, Lin et al.).
    """

    def __init__(self, alpha: float, gamma: float, reduction: str, normalize: str) -> None:
        super().__init__()
        reduce(torch.zeros(()), reduction)
        if normalize not in ("mean", "positives"):
            raise ValueError(f"normalize must be mean or positives, got {normalize!r}")
        self.alpha, self.gamma, self.reduction, self.normalize = alpha, gamma, reduction, normalize

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = sigmoid_focal(input, target, self.alpha, self.gamma)
        if self.reduction == "mean" and self.normalize == "positives":
            return loss.sum() / target.sum().clamp(min=1.0)
        return reduce(loss, self.reduction)


class SoftmaxFocalLoss(nn.Module):
    """Multi-class focal loss ``-(1 - p_t)^gamma log p_t`` on logits with class-index targets
    (``gamma = 0`` is cross-entropy). Stable: ``log(1 - p_t)`` is the log-sum-exp of the other
    classes' log-probabilities, so confident predictions give finite values and gradients."""

    def __init__(self, gamma: float, reduction: str) -> None:
        super().__init__()
        reduce(torch.zeros(()), reduction)
        self.gamma, self.reduction = gamma, reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(input, dim=-1)
        log_pt = log_p.gather(-1, target[:, None]).squeeze(-1)
        others = log_p.masked_fill(F.one_hot(target, input.shape[-1]).bool(), float("-inf"))
        log_1m_pt = torch.logsumexp(others, dim=-1)
        return reduce(-torch.exp(self.gamma * log_1m_pt) * log_pt, self.reduction)


class BrierLoss(nn.Module):
    """Brier score: ``sum_c (p_c - y_c)^2`` per example, on probabilities against one-hot (or
    probability) targets; 0 for a certain correct prediction, 2 for a certain wrong one."""

    def __init__(self, reduction: str) -> None:
        super().__init__()
        reduce(torch.zeros(()), reduction)
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return reduce((input - target).pow(2).sum(-1), self.reduction)


class BinaryHingeLoss(nn.Module):
    """``max(0, margin - y * s)`` on raw scores ``s`` with labels ``y`` in {-1, +1}."""

    def __init__(self, margin: float, reduction: str = "mean") -> None:
        super().__init__()
        reduce(torch.zeros(()), reduction)
        self.margin, self.reduction = margin, reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return reduce(F.relu(self.margin - target * input), self.reduction)


class NaiveBCELoss(nn.Module):
    """Binary cross-entropy as the textbook writes it, ``-(y log p + (1 - y) log(1 - p))`` on
    probabilities ``p = sigmoid(logit)``: no clamping, no log-sum-exp (a deliberately naive
    formula for claim C13). In float32 ``1 - sigmoid(x)`` rounds to 0 for x above about 17 and
    ``sigmoid(x)`` to 0 below about -104: a confident wrong prediction gives ``log 0 = -inf``
    (an infinite loss), a confident right one ``0 * log 0 = NaN``. ``BCEWithLogitsLoss`` (fused)
    and ``BCELoss`` (log clamped at -100) avoid both."""

    def __init__(self, reduction: str) -> None:
        super().__init__()
        reduce(torch.zeros(()), reduction)
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = -(target * torch.log(input) + (1.0 - target) * torch.log(1.0 - input))
        return reduce(loss, self.reduction)


class NaiveCrossEntropyLoss(nn.Module):
    """Categorical cross-entropy as ``nll_loss(log(softmax(logits)))`` on the softmax
    probabilities it is given, class-index targets (a deliberately naive formula for claim
    C13). Once a class's probability underflows to 0 (a logit gap above about 104 in float32)
    its log is -inf: the loss is infinite when that is the true class, and the gradient is
    ``0 / 0 = NaN`` even when it is another class. ``CrossEntropyLoss`` (fused log-softmax)
    stays finite."""

    def __init__(self, reduction: str) -> None:
        super().__init__()
        reduce(torch.zeros(()), reduction)
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.nll_loss(torch.log(input), target, reduction=self.reduction)


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


@dataclass(frozen=True)
class LossSpec:
    """What a supervised loss declares, read once from its config (:class:`LossConf`):

    * ``head``: ``binary`` (one output), ``multiclass`` (one per class) or ``any``;
    * ``consumes``: ``values`` (regression), ``logits``, ``log_probs`` (after log-softmax),
      ``probs`` (after softmax) or raw margin ``scores``;
    * ``target_encoding``: ``value``, ``binary`` 0/1, ``sign`` -1/+1, ``index`` or
      ``distribution`` (one-hot rows);
    * ``prior_bias_init``: start the output bias at the training class prior;
    * ``broken``: a deliberately wrong loss, refused unless ``allow_broken_losses=true``.
    """

    head: str
    consumes: str
    target_encoding: str
    prior_bias_init: bool
    broken: bool


DECLARATIONS = tuple(f.name for f in fields(LossSpec))


def loss_spec(cfg: DictConfig) -> LossSpec:
    """The chosen loss's declarations, read once; a loss whose schema is not a supervised
    loss's (a pair or GAN loss) is refused naming the option."""
    check_group(cfg, "loss", LossConf, "use a regression loss (mse, mae, huber, log_cosh), a "
                "classification loss (bce, weighted_bce, focal, hinge, ce, sparse_ce, "
                "weighted_ce, kl_div, ce_smooth, brier, multi_hinge, softmax_focal) or your own: "
                "loss=custom loss._target_=...")
    check_loss_target(cfg.loss, DECLARATIONS)
    spec = LossSpec(**{k: cfg.loss[k] for k in DECLARATIONS})
    if spec.broken and not cfg.allow_broken_losses:
        raise ConfigError(f"loss={cfg.loss_name} is deliberately broken (a mismatched "
                          "activation pairing or a naive overflow-prone formula): it runs only "
                          "in the studies that show the failure (+experiment=pairing, "
                          "+experiment=overflow), which set allow_broken_losses=true")
    return spec


def build_loss(cfg: DictConfig, y_train: Optional[np.ndarray] = None,
               num_classes: Optional[int] = None) -> nn.Module:
    """Instantiate a loss config without its declarations (:class:`LossSpec`), a custom
    loss's ``kwargs`` spread in.

    ``pos_weight`` / ``weight`` set to null are derived from the training labels, and numbers
    become the tensors torch's losses want.
    """
    node = {"_target_": cfg._target_, **loss_kwargs(cfg, DECLARATIONS)}
    if "pos_weight" in node:
        pw = node["pos_weight"] if node["pos_weight"] is not None else derived_pos_weight(y_train)
        node["pos_weight"] = torch.tensor(float(pw))
    if "weight" in node:
        w = node["weight"] if node["weight"] is not None else \
            balanced_class_weights(y_train, num_classes)
        node["weight"] = torch.tensor(w, dtype=torch.float32)
    return instantiate(node)
