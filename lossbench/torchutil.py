"""Small torch helpers every task kind shares: seeding, the device, a model's placement, a loss
reduction."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from lossbench.schema import ConfigError


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA too


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name} but CUDA is not available here; use device=auto "
                          "or device=cpu")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise ConfigError(f"device={name} but this machine has {torch.cuda.device_count()} CUDA "
                          f"device(s) (cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    return torch.device(name)


def convolutional_on_cpu(model: nn.Module, device: torch.device) -> bool:
    """Whether ``model`` has 2-d (transposed) convolutions and runs on a CPU: what
    :func:`place` puts in channels-last layout."""
    return device.type == "cpu" and any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
                                        for m in model.modules())


def place(model: nn.Module, device: torch.device, dtype: torch.dtype | None = None) -> nn.Module:
    """``model`` on ``device`` (in ``dtype``); on a CPU, a model with 2-d convolutions also in
    channels-last layout, where oneDNN's convolutions and pooling run faster (one thread,
    against the default layout: the supervised SmallCNN's training step 1.8x, its inference
    2.8x; the pairs' EmbeddingCNN 1.4-1.9x and 3x; the DCGAN's WGAN-GP step 1.2-1.3x). The
    layout changes how kernels sum, not what a model computes (outputs agree to float
    rounding). Elsewhere (CUDA) the default layout: not measured there."""
    model = model.to(device, dtype)
    if convolutional_on_cpu(model, device):
        model = model.to(memory_format=torch.channels_last)
    return model


def in_chunks(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
              size: int) -> torch.Tensor:
    """``fn`` over ``x`` in chunks of ``size`` rows, concatenated: a split's forward pass in
    pieces whose activations stay in the CPU's caches (each task kind's size says what it
    measured; the outputs are the same, bit for bit, as in one pass)."""
    return torch.cat([fn(x[i:i + size]) for i in range(0, len(x), size)])


def reduce(x: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce per-example losses like torch's losses do (``mean``, ``sum`` or ``none``)."""
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    if reduction == "none":
        return x
    raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")
