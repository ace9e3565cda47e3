"""GAN parts on fixed numbers: losses, gradient penalty, W1, mode coverage, Frechet distance,
the 2-D mixtures, the models, and how the gan configs compose."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from lossbench.config import ConfigError, validate
from lossbench.tasks.gan.toy2d import gaussian_mixture, mode_centres
from lossbench.tasks.gan.losses import (NonSaturatingGanLoss, WassersteinGPLoss, WassersteinLoss,
                                  gradient_penalty)
from lossbench.tasks.gan.metrics import (class_histogram, frechet_distance, frechet_from_stats,
                                   mode_coverage, wasserstein1_exact)
from lossbench.tasks.gan.models import dcgan, mlp_gan
from lossbench.tasks.gan import run as gan_task
from tests.conftest import compose_config

REAL = torch.tensor([1.0, 2.0, 3.0])
FAKE = torch.tensor([-1.0, 0.0, 1.0])


# --------------------------------------------------------------------------- losses
def test_wasserstein_losses_signs_and_values():
    loss = WassersteinLoss(n_critic=5, clip=0.01)
    # critic minimises E[D(fake)] - E[D(real)] = 0 - 2
    assert loss.critic_loss(REAL, FAKE).item() == pytest.approx(-2.0)
    assert loss.critic_loss(FAKE, REAL).item() == pytest.approx(2.0)
    # generator minimises -E[D(fake)]: higher fake scores, lower loss
    assert loss.generator_loss(FAKE).item() == pytest.approx(0.0)
    assert loss.generator_loss(REAL).item() == pytest.approx(-2.0)


def test_wasserstein_clips_critic_weights_after_a_step():
    critic = torch.nn.Linear(3, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.5, -0.005, -2.0]]))
    WassersteinLoss(n_critic=5, clip=0.01).after_critic_step(critic)
    np.testing.assert_allclose(critic.weight.detach().numpy(), [[0.01, -0.005, -0.01]])
    assert critic.bias.abs().item() <= 0.01


def test_non_saturating_gan_losses_values():
    loss = NonSaturatingGanLoss(n_critic=1)
    zero = torch.zeros(4)
    # D = sigmoid(0) = 1/2 everywhere: critic -log(1/2) - log(1/2), generator -log(1/2)
    assert loss.critic_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert loss.generator_loss(zero).item() == pytest.approx(math.log(2))
    # a confident, right critic: loss ~ 0; by hand softplus(-1) + softplus(-1) for (1, -1)
    assert loss.critic_loss(torch.full((2,), 20.0), torch.full((2,), -20.0)).item() < 1e-8
    assert loss.critic_loss(torch.ones(1), -torch.ones(1)).item() == pytest.approx(
        2 * math.log1p(math.exp(-1)))
    # non-saturating: a rejected fake (logit -10) costs ~10 and keeps a gradient of ~ -1
    s = torch.tensor([-10.0], requires_grad=True)
    g = loss.generator_loss(s)
    g.backward()
    assert g.item() == pytest.approx(10.0, abs=1e-4)
    assert s.grad.item() == pytest.approx(-1.0, abs=1e-4)
    assert loss.n_critic == 1


@pytest.mark.parametrize("w, expected", [([3.0, 4.0], 16.0), ([0.6, 0.8], 0.0),
                                         ([0.0, 0.5], 0.25)])
def test_gradient_penalty_of_a_linear_critic_is_analytic(w, expected):
    # D(x) = w.x + b has gradient w everywhere: penalty (|w| - 1)^2 whatever the interpolates
    critic = torch.nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([w]))
    real, fake = torch.randn(16, 2), torch.randn(16, 2) + 5
    eps = torch.rand(16)
    gp = gradient_penalty(lambda x: critic(x).squeeze(-1), real, fake, eps)
    assert gp.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # it trains the critic: d gp / d w = 2 (|w| - 1) w / |w|
    gp.backward()
    wt = torch.tensor(w)
    grad = 2 * (wt.norm() - 1) * wt / wt.norm()
    np.testing.assert_allclose(critic.weight.grad[0].numpy(), grad.numpy(), rtol=1e-5, atol=1e-6)


def test_gradient_penalty_on_images_and_lambda():
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 1))
    with torch.no_grad():
        critic[1].weight.fill_(0.5)  # |w| = sqrt(16 * 0.25) = 2
    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    loss = WassersteinGPLoss(n_critic=5, gp_lambda=10.0)
    gen = torch.Generator().manual_seed(0)
    pen = loss.penalty(lambda x: critic(x).squeeze(-1), real, fake, gen)
    assert pen.item() == pytest.approx(10.0 * (2.0 - 1.0) ** 2, rel=1e-5)
    before = critic[1].weight.clone()
    loss.after_critic_step(critic)  # WGAN-GP does not clip
    assert torch.equal(before, critic[1].weight)


# --------------------------------------------------------------------------- metrics
def test_exact_w1_of_a_translated_sample_is_the_shift():
    a = np.random.default_rng(0).normal(size=(300, 2))
    assert wasserstein1_exact(a, a + np.array([3.0, 4.0])) == pytest.approx(5.0)
    assert wasserstein1_exact(a, a[::-1].copy()) == pytest.approx(0.0, abs=1e-12)


def test_exact_w1_matches_brute_force_over_permutations():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 2)), rng.normal(size=(6, 2)) + 1
    brute = min(np.mean(np.linalg.norm(a - b[list(p)], axis=1))
                for p in itertools.permutations(range(6)))
    assert wasserstein1_exact(a, b) == pytest.approx(brute)
    with pytest.raises(ValueError, match="same size"):
        wasserstein1_exact(a, b[:5])


def test_exact_w1_is_the_optimal_assignment_on_a_blob_against_a_ring():
    """An untrained generator's blob against the 8-mode ring (the case that made scipy's
    assignment slow): W1 is the optimal assignment's mean cost, as scipy's solver finds it."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(2)
    angle = rng.integers(0, 8, size=400) * np.pi / 4
    ring = np.c_[2 * np.cos(angle), 2 * np.sin(angle)] + rng.normal(scale=0.02, size=(400, 2))
    for fake in (rng.normal(scale=0.01, size=(400, 2)), ring[::-1] + rng.normal(size=(400, 2))):
        cost = cdist(fake, ring)
        rows, cols = linear_sum_assignment(cost)
        assert wasserstein1_exact(fake, ring) == pytest.approx(cost[rows, cols].mean(), rel=1e-9)


def test_exact_w1_refuses_a_solution_short_of_the_optimum(monkeypatch):
    import ot

    real = ot.emd2
    monkeypatch.setattr(ot, "emd2", lambda *a, **k: real(*a, **{**k, "numItermax": 10}))
    a = np.random.default_rng(3).normal(size=(200, 2))
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="numItermax"):
        wasserstein1_exact(a * 0.01, a + 2)


def test_mode_coverage_counts_high_quality_points_per_mode():
    modes, std = mode_centres("ring", 8, 2.0), 0.02
    rng = np.random.default_rng(0)
    everywhere = modes[np.arange(800) % 8] + std * rng.normal(size=(800, 2)).clip(-2, 2)
    cov = mode_coverage(everywhere, modes, std)
    assert cov == {"hq_fraction": 1.0, "modes_covered": 8.0, "modes_covered_fraction": 1.0}
    collapsed = np.repeat(modes[:1], 800, axis=0)  # mode collapse onto one mode
    assert mode_coverage(collapsed, modes, std)["modes_covered"] == 1.0
    between = (modes[0] + modes[1]) / 2 + np.zeros((100, 2))  # off the support
    assert mode_coverage(between, modes, std)["hq_fraction"] == 0.0
    # a mode is covered with >= share * n / K high-quality points: 0.2 * 800 / 8 = 20
    pts = np.concatenate([np.repeat(modes[:1], 780, axis=0), np.repeat(modes[1:2], 20, axis=0)])
    assert mode_coverage(pts, modes, std)["modes_covered"] == 2.0
    pts[-1] = modes[3]  # now 19 on mode 1
    assert mode_coverage(pts, modes, std)["modes_covered"] == 1.0
    assert mode_coverage(pts[:1] + 3.01 * std, modes, std)["hq_fraction"] == 0.0  # > 3 std


def test_frechet_distance_against_closed_forms():
    mu = np.array([1.0, -2.0, 0.5])
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 9.0])
    # diagonal: |mu1 - mu2|^2 + sum (sigma1 - sigma2)^2
    assert frechet_from_stats(mu, s1, np.zeros(3), s2) == pytest.approx(5.25 + 1 + 1 + 0)
    assert frechet_from_stats(mu, s1, mu, s1) == pytest.approx(0.0, abs=1e-9)
    f = np.random.default_rng(0).normal(size=(5000, 3))
    assert frechet_distance(f, f) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(f + 2.0, f) == pytest.approx(12.0)
    collapsed = np.zeros((100, 3))  # singular covariance: still finite
    assert math.isfinite(frechet_distance(collapsed, f))


def test_class_histogram():
    h = class_histogram(np.array([0] * 50 + [1] * 49 + [2]), num_classes=4)
    assert (h["gen_class_frac_0"], h["gen_class_frac_3"]) == (0.5, 0.0)
    assert h["gen_classes"] == 2  # class 2 has 1 % < 0.2 / 4
    assert h["gen_class_entropy"] == pytest.approx(-(0.5 * math.log(0.5) + 0.49 * math.log(0.49)
                                                     + 0.01 * math.log(0.01)))
    uniform = class_histogram(np.arange(1000) % 10, 10)
    assert uniform["gen_classes"] == 10
    assert uniform["gen_class_entropy"] == pytest.approx(math.log(10))


# --------------------------------------------------------------------------- data, models
MIXTURE = dict(layout="ring", n_modes=8, scale=2.0, std=0.02, n_train=4000, n_eval=500,
               split_seed=3)


def test_mixtures_have_disjoint_modes_and_held_out_points():
    ring = mode_centres("ring", 8, 2.0)
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 2.0)
    grid = mode_centres("grid", 25, 2.0)
    assert sorted(set(grid[:, 0].round(6))) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    d = gaussian_mixture("", False, **MIXTURE)
    assert d.x_train.shape == (4000, 2) and d.x_eval.shape == (500, 2) and d.kind == "points"
    assert mode_coverage(d.x_train, d.modes, d.std)["hq_fraction"] > 0.97
    again = gaussian_mixture("", False, **MIXTURE)
    np.testing.assert_array_equal(d.x_train, again.x_train)
    assert not np.array_equal(d.x_eval, d.x_train[:500])


def test_models_emit_raw_scores_and_samples_of_the_data_shape():
    pair = dcgan((1, 28, 28), latent_dim=16, width=8)
    imgs = pair.generate(torch.randn(5, 16))
    assert imgs.shape == (5, 1, 28, 28) and imgs.abs().max() <= 1.0
    assert pair.score(imgs).shape == (5,)
    points = mlp_gan((2,), latent_dim=2, hidden=[8])
    assert points.generate(torch.randn(5, 2)).shape == (5, 2)
    assert points.score(torch.randn(5, 2)).shape == (5,)
    with pytest.raises(ValueError, match="divisible by 4"):
        dcgan((1, 30, 30), latent_dim=16, width=8)


# --------------------------------------------------------------------------- configs
def test_wgan_scenario_is_images_with_rmsprop_and_the_paper_defaults():
    cfg = compose_config("scenario=wgan", "data=fashion_mnist_gan")
    validate(cfg)
    gan_task.check(cfg)
    assert (cfg.name, cfg.task, cfg.loss_name) == ("wgan", "gan", "wgan")
    assert cfg.data._target_ == "lossbench.tasks.gan.images.images"
    assert cfg.model._target_ == "lossbench.tasks.gan.models.dcgan"
    assert cfg.optimizer._target_ == "torch.optim.RMSprop" and cfg.optimizer.lr == 5e-5
    assert (cfg.loss.clip, cfg.loss.n_critic) == (0.01, 5)
    assert cfg.trainer.monitor == "fd" and cfg.run_name == "wgan-fashion_mnist_gan-wgan-s0"
    assert isinstance(instantiate(cfg.loss), WassersteinLoss)


def test_toy_data_switches_model_and_trainer_and_the_loss_picks_the_optimizer():
    cfg = compose_config("scenario=wgan", "data=gaussians8", "loss=wgan_gp")
    validate(cfg)
    assert cfg.model._target_ == "lossbench.tasks.gan.models.mlp_gan" and cfg.trainer.monitor == "w1"
    assert cfg.optimizer._target_ == "torch.optim.Adam" and list(cfg.optimizer.betas) == [0.5, 0.9]
    assert cfg.optimizer.lr == 1e-4 and cfg.loss.gp_lambda == 10.0
    cfg = compose_config("scenario=wgan", "data=gaussians25", "loss=gan")
    assert cfg.data.n_modes == 25 and cfg.data.layout == "grid"
    assert list(cfg.optimizer.betas) == [0.5, 0.999] and cfg.loss.n_critic == 1
    # the command line wins over the pairing
    cfg = compose_config("scenario=wgan", "loss=gan", "optimizer=rmsprop", "model.width=8")
    assert cfg.optimizer._target_ == "torch.optim.RMSprop" and cfg.model.width == 8
    opt = instantiate(compose_config("scenario=wgan", "loss=wgan_gp").optimizer,
                      _convert_="all")([torch.nn.Parameter(torch.zeros(1))])
    assert opt.defaults["betas"] == (0.5, 0.9)


@pytest.mark.parametrize("override, key", [
    ("loss.clip=0", "loss.clip"),
    ("loss.n_critic=0", "loss.n_critic"),
    ("trainer.steps=0", "trainer.steps"),
    ("trainer.coverage_share=0", "trainer.coverage_share"),
    ("data=gaussians25 data.n_modes=24", "data.n_modes"),
    ("data=gaussians8 data.std=0", "data.std"),
    ("loss=wgan_gp optimizer.betas=[1.0,0.9]", "optimizer.betas"),
])
def test_bad_gan_values_fail_validation_naming_the_key(override, key):
    cfg = compose_config("scenario=wgan", *override.split())
    with pytest.raises(ConfigError, match=key):
        validate(cfg)


def test_task_gan_refuses_a_supervised_trainer_or_loss():
    with pytest.raises(ConfigError, match="loss=mse does not fit wgan .* use a GAN loss"):
        gan_task.check(compose_config("scenario=wgan", "loss=mse"))
    with pytest.raises(ConfigError, match="trainer=supervised does not fit wgan .* GAN trainer"):
        gan_task.check(compose_config("scenario=wgan", "trainer=supervised"))
    with pytest.raises(ConfigError, match="model=mlp does not fit wgan"):
        gan_task.check(compose_config("scenario=wgan", "model=mlp"))
