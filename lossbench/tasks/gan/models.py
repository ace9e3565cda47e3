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


class ConvGenerator(nn.Module):
    """z -> linear -> (2w, H/4, W/4) -> deconv (w, H/2, W/2) -> deconv (C, H, W) -> tanh."""

    def __init__(self, latent_dim: int, channels: int, size: int, width: int) -> None:
        super().__init__()
        s = size // 4
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 2 * width * s * s), nn.Unflatten(1, (2 * width, s, s)),
            nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ConvCritic(nn.Module):
    """(C, H, W) -> conv (w, H/2) -> conv (2w, H/4) -> linear -> one raw score. LeakyReLU, no
    batch norm (a gradient penalty is per sample; batch norm would couple the samples)."""

    def __init__(self, channels: int, size: int, width: int) -> None:
        super().__init__()
        s = size // 4
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * s * s, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def dcgan(sample_shape: Sequence[int], latent_dim: int, width: int) -> GanPair:
    """DCGAN-style pair for square images ``(C, H, H)`` with ``H`` divisible by 4 (28x28)."""
    if len(sample_shape) != 3 or sample_shape[1] != sample_shape[2] or sample_shape[1] % 4:
        raise ValueError(f"dcgan needs square (C, H, H) images with H divisible by 4, got "
                         f"{tuple(sample_shape)}")
    c, size = int(sample_shape[0]), int(sample_shape[1])
    return GanPair(ConvGenerator(latent_dim, c, size, width), ConvCritic(c, size, width),
                   latent_dim)
