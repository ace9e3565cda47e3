"""The GAN train loop: ``n_critic`` critic updates, then one generator update, per step.

All randomness of the loop (real batches, noise, the gradient penalty's mixing weights) comes
from one seeded :class:`torch.Generator` owned by :class:`GanTrainer`, whose state is part of
:meth:`GanTrainer.state_dict`: a run restored from a checkpoint draws exactly what the
uninterrupted run would have drawn. Real batches are drawn with replacement, so there are no
epochs and no permutation to restore. Statistics are accumulated on the device and read once
per :meth:`GanTrainer.pop_stats` (one sync per evaluation, not per step).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lossbench.tasks.gan.losses import GanLoss
from lossbench.tasks.gan.models import GanPair
from lossbench.loop import TrainingDiverged

STATS = ("loss_critic", "loss_generator", "gradient_penalty", "critic_gap_train")


class GanTrainer:
    """Trains ``pair`` on the real samples ``x`` (already on the device)."""

    def __init__(self, pair: GanPair, loss: GanLoss, opt_generator: torch.optim.Optimizer,
                 opt_critic: torch.optim.Optimizer, x: torch.Tensor, batch_size: int,
                 seed: int) -> None:
        self.pair, self.loss, self.x, self.batch_size = pair, loss, x, batch_size
        self.opt_generator, self.opt_critic = opt_generator, opt_critic
        self.device = x.device
        gen_device = self.device if self.device.type == "cuda" else torch.device("cpu")
        self.rng = torch.Generator(device=gen_device).manual_seed(seed)
        self.step = 0  # generator updates done
        self._sums = torch.zeros(len(STATS), device=self.device, dtype=torch.float64)
        self._counts = torch.zeros(len(STATS), device=self.device, dtype=torch.float64)

    # ------------------------------------------------------------------ sampling
    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.pair.latent_dim, generator=self.rng,
                           device=self.rng.device).to(self.device)

    def real_batch(self) -> torch.Tensor:
        idx = torch.randint(len(self.x), (self.batch_size,), generator=self.rng,
                            device=self.rng.device)
        return self.x[idx.to(self.device)]

    def _record(self, name: str, value: torch.Tensor) -> None:
        i = STATS.index(name)
        self._sums[i] += value.detach().double()
        self._counts[i] += 1

    # ------------------------------------------------------------------ one step
    def train_step(self) -> None:
        """``loss.n_critic`` critic updates, then one generator update."""
        pair, loss = self.pair, self.loss
        pair.train()
        for _ in range(loss.n_critic):
            real = self.real_batch()
            with torch.no_grad():
                fake = pair.generate(self.noise(self.batch_size))
            real_scores, fake_scores = pair.score(real), pair.score(fake)
            critic_loss = loss.critic_loss(real_scores, fake_scores)
            penalty = loss.penalty(pair.score, real, fake, self.rng)
            total = critic_loss if penalty is None else critic_loss + penalty
            self.opt_critic.zero_grad(set_to_none=True)
            total.backward()
            self.opt_critic.step()
            loss.after_critic_step(pair.critic)
            self._record("loss_critic", critic_loss)
            self._record("critic_gap_train", real_scores.mean() - fake_scores.mean())
            if penalty is not None:
                self._record("gradient_penalty", penalty)
        pair.critic.requires_grad_(False)  # the generator step needs no critic gradients
        try:
            gen_loss = loss.generator_loss(pair.score(pair.generate(self.noise(self.batch_size))))
            self.opt_generator.zero_grad(set_to_none=True)
            gen_loss.backward()
            self.opt_generator.step()
        finally:
            pair.critic.requires_grad_(True)
        self._record("loss_generator", gen_loss)
        self.step += 1

    def pop_stats(self) -> dict[str, float]:
        """Mean of each statistic since the last call; raises when one is NaN/inf."""
        sums, counts = self._sums.tolist(), self._counts.tolist()
        self._sums.zero_()
        self._counts.zero_()
        out = {name: s / c for name, s, c in zip(STATS, sums, counts) if c > 0}
        bad = {k: v for k, v in out.items() if not math.isfinite(v)}
        if bad:
            raise TrainingDiverged(f"{bad} at generator step {self.step}")
        return out

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "pair": self.pair.state_dict(),
                "opt_generator": self.opt_generator.state_dict(),
                "opt_critic": self.opt_critic.state_dict(),
                "rng": self.rng.get_state(),
                "stat_sums": self._sums.cpu(), "stat_counts": self._counts.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.pair.load_state_dict(state["pair"])
        self.opt_generator.load_state_dict(state["opt_generator"])
        self.opt_critic.load_state_dict(state["opt_critic"])
        self.rng.set_state(state["rng"])
        self._sums.copy_(state["stat_sums"])
        self._counts.copy_(state["stat_counts"])
