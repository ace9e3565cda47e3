"""Generator/critic pairs. The critic emits one raw score per sample (no output activation:
the loss decides what a score means); the image generator ends in tanh ([-1, 1] pixels), the
point generator in nothing."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def mlp(in_features: int, out_features: int, hidden: Sequence[int]) -> nn.Sequential:
    """ReLU MLP with no output activation."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, out_features))


class GanPair(nn.Module):
    """A generator and its critic, saved and restored together."""

    def __init__(self, generator: nn.Module, critic: nn.Module, latent_dim: int) -> None:
        super().__init__()
        self.generator = generator
        self.critic = critic
        self.latent_dim = latent_dim

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The critic's raw scores, shape ``(N,)``."""
        return self.critic(x).reshape(len(x))

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)


def mlp_gan(sample_shape: Sequence[int], latent_dim: int, hidden: Sequence[int]) -> GanPair:
    """ReLU MLPs: latent -> point, point -> score, for samples of shape ``(d,)``."""
    if len(sample_shape) != 1:
        raise ValueError(f"mlp_gan is for points (d,), got samples of shape {tuple(sample_shape)}")
    d = int(sample_shape[0])
    return GanPair(mlp(latent_dim, d, hidden), mlp(d, 1, hidden), latent_dim)


def halvings(size: int) -> int:
    """How many stride-2 layers a DCGAN pair uses for ``size`` x ``size`` images: halve while
    the size stays even and the result is at least 4 (28 -> 7: 2; 32 -> 4: 3; 64 -> 4: 4)."""
    k = 0
    while size % 2 == 0 and size // 2 >= 4:
        size //= 2
        k += 1
    return k


class ConvGenerator(nn.Module):
    """z -> linear -> (w 2^(k-1), s, s) -> k stride-2 deconvs, halving the channels and doubling
    the side each time, the last to (C, H, W) -> tanh; ``k = halvings(H)``, ``s = H / 2^k``
    (28x28: 7 -> 14 -> 28; 32x32: 4 -> 8 -> 16 -> 32). Batch norm and ReLU between layers."""

    def __init__(self, latent_dim: int, channels: int, size: int, width: int) -> None:
        super().__init__()
        k = halvings(size)
        s, c = size >> k, width << (k - 1)
        layers: list[nn.Module] = [nn.Linear(latent_dim, c * s * s), nn.Unflatten(1, (c, s, s)),
                                   nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(k - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, stride=2, padding=1),
                       nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        self.net = nn.Sequential(*layers, nn.ConvTranspose2d(c, channels, 4, stride=2, padding=1),
                                 nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ConvCritic(nn.Module):
    """(C, H, W) -> k stride-2 convs (w, 2w, 4w ... channels; the side halves each time) ->
    linear -> one raw score, ``k = halvings(H)``. LeakyReLU, no batch norm (a gradient penalty
    is per sample; batch norm would couple the samples)."""

    def __init__(self, channels: int, size: int, width: int) -> None:
        super().__init__()
        k = halvings(size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2)]
        c = width
        for _ in range(k - 1):
            layers += [nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c *= 2
        s = size >> k
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * s * s, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def dcgan(sample_shape: Sequence[int], latent_dim: int, width: int) -> GanPair:
    """DCGAN-style pair for square images ``(C, H, H)``, ``H`` divisible by 4: two stride-2
    layers for 28x28, three for 32x32, four for 64x64 (:func:`halvings`)."""
    if len(sample_shape) != 3 or sample_shape[1] != sample_shape[2] or sample_shape[1] % 4:
        raise ValueError(f"dcgan needs square (C, H, H) images with H divisible by 4, got "
                         f"{tuple(sample_shape)}")
    c, size = int(sample_shape[0]), int(sample_shape[1])
    return GanPair(ConvGenerator(latent_dim, c, size, width), ConvCritic(c, size, width),
                   latent_dim)
