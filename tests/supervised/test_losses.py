"""Regression losses against torch / numpy references and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch


from lossbench.tasks.supervised.losses import LogCoshLoss, build_loss, log_cosh
from tests.conftest import compose_config

ERRORS = torch.tensor([-3.0, -1.5, -0.2, 0.0, 0.7, 1.5, 4.0], dtype=torch.float64)


def _loss(name: str) -> torch.nn.Module:
    return build_loss(compose_config(f"loss={name}").loss)


def test_mse_mae_match_numpy():
    pred, target = ERRORS + 2.0, torch.full_like(ERRORS, 2.0)
    e = ERRORS.numpy()
    assert _loss("mse")(pred, target).item() == pytest.approx(np.mean(e ** 2))
    assert _loss("mae")(pred, target).item() == pytest.approx(np.mean(np.abs(e)))


def test_huber_is_the_guides_piecewise_form_with_delta_1_5():
    loss = _loss("huber")
    assert isinstance(loss, torch.nn.HuberLoss) and loss.delta == 1.5
    per = torch.nn.HuberLoss(delta=1.5, reduction="none")(ERRORS, torch.zeros_like(ERRORS))
    e = np.abs(ERRORS.numpy())
    ref = np.where(e <= 1.5, 0.5 * e ** 2, 1.5 * (e - 0.75))
    np.testing.assert_allclose(per.numpy(), ref)
    # by hand: |e| = 1 -> 0.5; |e| = 3 -> 1.5 * (3 - 0.75) = 3.375
    one, three = torch.tensor([1.0]), torch.tensor([3.0])
    assert loss(one, torch.zeros(1)).item() == pytest.approx(0.5)
    assert loss(three, torch.zeros(1)).item() == pytest.approx(3.375)


def test_huber_delta_is_configurable():
    loss = build_loss(compose_config("loss=huber", "loss.delta=0.5").loss)
    assert loss(torch.tensor([2.0]), torch.zeros(1)).item() == pytest.approx(0.5 * (2 - 0.25))


def test_log_cosh_matches_numpy_and_hand_values():
    loss = _loss("log_cosh")
    assert isinstance(loss, LogCoshLoss)
    ref = np.mean(np.log(np.cosh(ERRORS.numpy())))
    assert loss(ERRORS, torch.zeros_like(ERRORS)).item() == pytest.approx(ref, rel=1e-12)
    # log(cosh(1)) = 0.433781; log(cosh(0)) = 0
    assert log_cosh(torch.tensor(1.0, dtype=torch.float64)).item() == pytest.approx(0.4337808305)
    assert log_cosh(torch.tensor(0.0)).item() == 0.0


def test_log_cosh_is_stable_for_huge_errors():
    e = torch.tensor([1e4, -1e4, 88.0, 1e30], requires_grad=True)
    naive = torch.log(torch.cosh(e.detach()))
    assert not torch.isfinite(naive).all()  # what a naive implementation gives
    value = log_cosh(e)
    assert torch.isfinite(value).all()
    assert value[0].item() == pytest.approx(1e4 - math.log(2.0))
    value.sum().backward()
    assert torch.isfinite(e.grad).all()
    np.testing.assert_allclose(e.grad.numpy(), [1.0, -1.0, 1.0, 1.0])  # tanh(e)


def test_log_cosh_gradient_is_tanh():
    e = ERRORS.clone().requires_grad_(True)
    log_cosh(e).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), np.tanh(ERRORS.numpy()), atol=1e-12)


def test_mae_subgradient_at_zero_error_is_zero():
    pred = torch.tensor([0.0, 1.0, -2.0], requires_grad=True)
    _loss("mae")(pred, torch.tensor([0.0, 0.0, 0.0])).backward()
    np.testing.assert_allclose(pred.grad.numpy(), [0.0, 1 / 3, -1 / 3])


@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_reduction_like_torch(reduction):
    mine = LogCoshLoss(reduction=reduction)(ERRORS, torch.zeros_like(ERRORS))
    per = torch.log(torch.cosh(ERRORS))
    torch.testing.assert_close(mine, per.sum() if reduction == "sum" else per)


def test_bad_reduction_is_refused():
    with pytest.raises(ValueError, match="reduction"):
        LogCoshLoss(reduction="avg")


def test_log_cosh_loss_is_of_the_error_not_the_sum():
    pred, target = torch.tensor([3.0, -1.0]), torch.tensor([2.0, 1.0])  # errors 1, -2
    ref = np.mean(np.log(np.cosh([1.0, -2.0])))
    assert LogCoshLoss()(pred, target).item() == pytest.approx(ref, rel=1e-6)
    assert LogCoshLoss().reduction == "mean"
