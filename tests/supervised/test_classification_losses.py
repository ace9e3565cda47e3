"""Classification losses: torch/torchvision references, the guide's worked numbers,
extreme logits, derived class weights, and the loss/head pairing checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from lossbench.config import ConfigError
from lossbench.tasks.supervised.losses import balanced_class_weights, build_loss, derived_pos_weight
from lossbench.tasks.supervised.classification import check, encode_target, loss_input
from lossbench.tasks.supervised.losses import LossSpec, DECLARATIONS
from tests.conftest import compose_config

LOGIT_09 = math.log(0.9 / 0.1)  # sigmoid = 0.9
BINARY = ("bce", "weighted_bce", "focal", "hinge")
MULTI = ("ce", "sparse_ce", "weighted_ce", "kl_div")


def _loss(name, *overrides, y=None, k=2):
    cfg = compose_config("scenario=spam" if name in BINARY else "scenario=mnist",
                         f"loss={name}", *overrides).loss
    return build_loss(cfg, y_train=y, num_classes=k), cfg


def _spec(cfg):
    return LossSpec(**{d: cfg[d] for d in DECLARATIONS})


def _apply(name, out, y, k):
    """Run a loss the way the classification task does: head output in, labels in."""
    fn, cfg = _loss(name, y=y.numpy(), k=k)
    return fn(loss_input(out, _spec(cfg)), encode_target(y, cfg.target_encoding, k))


def test_bce_guide_numbers():
    bce, _ = _loss("bce")
    one = torch.ones(1)
    assert bce(torch.tensor([LOGIT_09]), one).item() == pytest.approx(0.105, abs=5e-4)  # -ln 0.9
    assert bce(torch.tensor([-LOGIT_09]), one).item() == pytest.approx(2.303, abs=5e-4)  # -ln 0.1


def test_categorical_ce_guide_numbers_with_onehot_and_sparse_targets():
    logits = torch.log(torch.tensor([[0.9, 0.05, 0.05], [0.1, 0.45, 0.45]]))
    y = torch.tensor([0, 0])
    for name in ("ce", "sparse_ce"):
        per = _apply(name, logits, y, 3)
        assert per.item() == pytest.approx((0.105 + 2.303) / 2, abs=5e-4), name
    torch.testing.assert_close(_apply("ce", logits, y, 3), F.cross_entropy(logits, y))


def test_probability_targets_are_accepted_by_ce():
    ce, _ = _loss("ce", k=3)
    logits = torch.randn(4, 3)
    soft = torch.softmax(torch.randn(4, 3), -1)
    ref = -(soft * torch.log_softmax(logits, -1)).sum(1).mean()
    torch.testing.assert_close(ce(logits, soft), ref)


def test_kl_divergence_against_onehot_equals_ce():
    logits, y = torch.randn(8, 10), torch.randint(0, 10, (8,))
    torch.testing.assert_close(_apply("kl_div", logits, y, 10), F.cross_entropy(logits, y))


def test_kl_divergence_against_a_target_distribution():
    kl, cfg = _loss("kl_div", k=3)
    logits = torch.randn(5, 3)
    q = torch.softmax(torch.randn(5, 3), -1)
    p_log = torch.log_softmax(logits, -1)
    ref = (q * (q.log() - p_log)).sum(1).mean()
    torch.testing.assert_close(kl(loss_input(logits, _spec(cfg)), q), ref)


def test_focal_matches_torchvision_and_hand_value():
    focal, cfg = _loss("focal")
    assert (cfg.alpha, cfg.gamma) == (0.25, 2.0)
    x, y = torch.randn(16), (torch.rand(16) > 0.5).float()
    torch.testing.assert_close(focal(x, y), sigmoid_focal_loss(x, y, 0.25, 2.0, "mean"))
    # p = 0.9 on a positive: 0.25 * (1 - 0.9)^2 * -ln 0.9
    assert focal(torch.tensor([LOGIT_09]), torch.ones(1)).item() == pytest.approx(
        0.25 * 0.01 * -math.log(0.9), rel=1e-4)


def test_hinge_maps_labels_to_plus_minus_one():
    scores, y = torch.tensor([[2.0], [0.5], [-1.0], [-2.0]]), torch.tensor([1, 1, 1, 0])
    # targets +1, +1, +1, -1 -> max(0, 1 - y s) = 0, 0.5, 2, 0
    assert _apply("hinge", scores, y, 2).item() == pytest.approx((0 + 0.5 + 2 + 0) / 4)


def test_weighted_bce_derives_pos_weight_from_the_training_ratio():
    y = np.array([1, 0, 0, 0, 0, 1, 0, 0])
    assert derived_pos_weight(y) == 3.0
    fn, _ = _loss("weighted_bce", y=y)
    assert fn.pos_weight.item() == 3.0
    fixed, _ = _loss("weighted_bce", "loss.pos_weight=10", y=y)
    assert fixed.pos_weight.item() == 10.0
    x, t = torch.tensor([0.3, -0.2]), torch.tensor([1.0, 0.0])
    ref = F.binary_cross_entropy_with_logits(x, t, pos_weight=torch.tensor(3.0))
    torch.testing.assert_close(fn(x, t), ref)


def test_weighted_ce_uses_balanced_class_weights():
    y = np.array([0, 0, 0, 1, 2, 2])
    w = balanced_class_weights(y, 3)
    np.testing.assert_allclose(w, [6 / 9, 6 / 3, 6 / 6])
    fn, _ = _loss("weighted_ce", y=y, k=3)
    logits, t = torch.randn(6, 3), torch.tensor(y)
    torch.testing.assert_close(fn(logits, t), F.cross_entropy(logits, t, weight=torch.tensor(w)))


@pytest.mark.parametrize("name", BINARY + MULTI)
def test_logits_of_1000_give_finite_loss_and_gradients(name):
    k = 2 if name in BINARY else 3
    width = 1 if name in BINARY else 3
    out = torch.tensor([[1000.0] * width, [-1000.0] * width, [1000.0] + [-1000.0] * (width - 1)],
                       requires_grad=True)
    y = torch.tensor([0, 1, 1])
    value = _apply(name, out, y, k)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(out.grad).all(), name


@pytest.mark.parametrize("overrides, message", [
    (("scenario=mnist", "loss=bce"), "needs a binary head"),
    (("scenario=mnist", "loss=hinge"), "needs a binary head"),
    (("scenario=mnist", "loss=focal"), "needs a binary head"),
    (("scenario=spam", "loss=mse"), "is a regression loss"),
    (("scenario=spam", "loss=contrastive"), "loss=contrastive does not fit spam"),
])
def test_impossible_pairings_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        check(compose_config(*overrides))


def test_multiclass_losses_fit_a_binary_data_set_with_two_outputs():
    for name in MULTI:
        check(compose_config("scenario=spam", f"loss={name}"))


def test_regression_scenario_refuses_a_classification_loss(store):
    from lossbench.app import run

    with pytest.raises(ConfigError, match="loss=bce is not a regression loss"):
        run(compose_config("loss=bce", f"tracking.uri={store}"))


def test_focal_and_hinge_pass_their_own_parameters_on():
    from lossbench.tasks.supervised.losses import BinaryHingeLoss, FocalLoss

    x, y = torch.tensor([2.0, -1.0, 0.3]), torch.tensor([1.0, 1.0, 0.0])
    torch.testing.assert_close(FocalLoss(alpha=0.6, gamma=1.0, reduction="sum")(x, y),
                               sigmoid_focal_loss(x, y, alpha=0.6, gamma=1.0, reduction="sum"))
    # max(0, 2 - y s) with y = +1, +1, -1: 0, 3, 2.3
    hinge = BinaryHingeLoss(margin=2.0, reduction="none")(x, 2 * y - 1)
    torch.testing.assert_close(hinge, torch.tensor([0.0, 3.0, 2.3]))
    assert FocalLoss().alpha == 0.25 and FocalLoss().gamma == 2.0
    assert BinaryHingeLoss().margin == 1.0 and BinaryHingeLoss().reduction == "mean"


def test_derived_weights_with_one_positive_and_an_absent_class():
    assert derived_pos_weight(np.array([1, 0, 0, 0])) == 3.0
    with pytest.raises(ValueError, match="no positives"):
        derived_pos_weight(np.zeros(4))
    assert balanced_class_weights(np.array([0, 0, 1, 1]), 3) == [4 / 6, 4 / 6, 1.0]
