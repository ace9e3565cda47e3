"""GAN objectives on the critic's raw scores (the models never apply an output activation).

Each objective gives the critic's loss on real and fake scores, the generator's loss on fake
scores, an optional penalty on the critic, a hook run after every critic update, and
``n_critic``, the critic updates per generator update it is meant to run with.

* :class:`WassersteinLoss` (WGAN, Arjovsky et al. 2017): the critic maximises
  ``E[D(real)] - E[D(fake)]``, an estimate of ``K * W1`` while its weights are clipped to
  ``[-clip, clip]`` (which keeps it K-Lipschitz for some K); the generator minimises
  ``-E[D(fake)]``.
* :class:`WassersteinGPLoss` (WGAN-GP, Gulrajani et al. 2017): the same losses, no clipping, plus
  ``gp_lambda * E[(|grad D(x_hat)|_2 - 1)^2]`` at random interpolates of real and fake.
* :class:`NonSaturatingGanLoss` (the standard GAN, Goodfellow et al. 2014): BCE on logits,
  critic ``-log s(D(real)) - log(1 - s(D(fake)))`` (both terms summed, i.e. minus the value
  function), generator ``-log s(D(fake))`` (non-saturating). This is the JS-divergence game
  the WGAN claim is about.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

Critic = Callable[[torch.Tensor], torch.Tensor]


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor,
                     eps: torch.Tensor) -> torch.Tensor:
    """``E[(|grad_x D(x_hat)|_2 - 1)^2]`` at ``x_hat = eps * real + (1 - eps) * fake``.

    ``eps`` holds one mixing weight per sample (shape ``(N,)``). The graph is kept
    (``create_graph``) so the penalty trains the critic.
    """
    eps = eps.reshape(-1, *([1] * (real.dim() - 1))).to(real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()


class GanLoss(nn.Module):
    """Base objective: no penalty, nothing after a critic update."""

    def __init__(self, n_critic: int) -> None:
        super().__init__()
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        self.n_critic = n_critic

    def critic_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def penalty(self, critic: Critic, real: torch.Tensor, fake: torch.Tensor,
                generator: Optional[torch.Generator] = None) -> Optional[torch.Tensor]:
        """An extra term of the critic's loss (None: none)."""
        return None

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module) -> None:
        """Run after each critic update (weight clipping for WGAN)."""


class WassersteinLoss(GanLoss):
    """WGAN with weight clipping."""

    def __init__(self, n_critic: int, clip: float) -> None:
        super().__init__(n_critic)
        if clip <= 0:
            raise ValueError(f"clip must be > 0, got {clip}")
        self.clip = clip

    def critic_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return -fake_scores.mean()

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module) -> None:
        for p in critic.parameters():
            p.clamp_(-self.clip, self.clip)


class WassersteinGPLoss(WassersteinLoss):
    """WGAN-GP: the Wasserstein losses with a gradient penalty instead of clipping."""

    def __init__(self, n_critic: int, gp_lambda: float) -> None:
        GanLoss.__init__(self, n_critic)
        if gp_lambda < 0:
            raise ValueError(f"gp_lambda must be >= 0, got {gp_lambda}")
        self.gp_lambda = gp_lambda

    def penalty(self, critic: Critic, real: torch.Tensor, fake: torch.Tensor,
                generator: Optional[torch.Generator] = None) -> Optional[torch.Tensor]:
        gen_device = generator.device if generator is not None else real.device
        eps = torch.rand(len(real), generator=generator, device=gen_device).to(real.device)
        return self.gp_lambda * gradient_penalty(critic, real, fake, eps)

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module) -> None:
        pass  # no clipping


class NonSaturatingGanLoss(GanLoss):
    """The standard GAN on logits, non-saturating generator loss."""

    def critic_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        # BCE(real, 1) + BCE(fake, 0) = softplus(-real) + softplus(fake)
        return (F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores))
                + F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores)))

    def generator_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))
