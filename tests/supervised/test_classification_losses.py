"""Classification losses: torch/torchvision references, the guide's worked numbers,
extreme logits, derived class weights, and the loss/head pairing checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from lossbench.config import ConfigError, validate
from lossbench.tasks.supervised.losses import (FocalLoss, SoftmaxFocalLoss, balanced_class_weights,
                                                build_loss, derived_pos_weight, sigmoid_focal)
from lossbench.tasks.supervised.classification import (check, encode_target, init_prior_bias,
                                                        loss_input, prior_bias)
from lossbench.tasks.supervised.models import MLP, SmallCNN
from lossbench.tasks.supervised.losses import LossSpec, DECLARATIONS
from tests.conftest import compose_config

LOGIT_09 = math.log(0.9 / 0.1)  # sigmoid = 0.9
BINARY = ("bce", "weighted_bce", "focal", "hinge")
MULTI = ("ce", "sparse_ce", "weighted_ce", "kl_div", "ce_smooth", "brier", "multi_hinge",
         "softmax_focal")


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


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0])
def test_focal_is_finite_at_1000_logits_and_matches_torchvision_where_it_is(gamma):
    x = torch.tensor([1000.0, -1000.0, 1000.0, -1000.0, 3.0, -0.5, 0.0])
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    ours = x.clone().requires_grad_(True)
    loss = sigmoid_focal(ours, y, 0.25, gamma)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(ours.grad).all()
    ref_x = x.clone().requires_grad_(True)
    ref = sigmoid_focal_loss(ref_x, y, 0.25, gamma, "none")
    ref.sum().backward()
    torch.testing.assert_close(loss, ref)
    finite = torch.isfinite(ref_x.grad)
    torch.testing.assert_close(ours.grad[finite], ref_x.grad[finite])
    # a confident right answer is (almost) free and pushes no further
    assert loss[0].item() == 0.0 and ours.grad[0].item() == 0.0
    # a confident wrong answer costs alpha_t * 1000 and pulls with slope -alpha_t (gamma >= 0)
    assert loss[3].item() == pytest.approx(0.25 * 1000.0)
    assert ours.grad[3].item() == pytest.approx(-0.25)


def test_torchvision_focal_gradient_is_nan_for_gamma_below_one():
    """Why lossbench has its own form: (1 - p_t)^gamma has an infinite slope at p_t = 1."""
    x = torch.tensor([1000.0], requires_grad=True)
    sigmoid_focal_loss(x, torch.ones(1), 0.25, 0.5, "sum").backward()
    assert torch.isnan(x.grad).all()


def test_focal_positives_normalisation_divides_by_the_batch_positives():
    x, y = torch.randn(10), torch.tensor([1.0, 1.0, 1.0] + [0.0] * 7)
    total = sigmoid_focal(x, y, 0.25, 2.0).sum()
    lin = FocalLoss(alpha=0.25, gamma=2.0, reduction="mean", normalize="positives")
    torch.testing.assert_close(lin(x, y), total / 3)
    # a batch without positives is divided by 1, not 0
    torch.testing.assert_close(lin(x, torch.zeros(10)),
                               sigmoid_focal(x, torch.zeros(10), 0.25, 2.0).sum())
    mean = FocalLoss(alpha=0.25, gamma=2.0, reduction="mean", normalize="mean")
    torch.testing.assert_close(mean(x, y), total / 10)
    fn, cfg = _loss("focal", "loss.normalize=positives")
    torch.testing.assert_close(fn(x, y), total / 3)


@pytest.mark.parametrize("overrides, key", [
    (("loss=focal", "loss.normalize=all"), "loss.normalize"),
    (("loss=focal", "loss.normalize=positives", "loss.reduction=sum"), "loss.reduction"),
    (("loss=mse", "loss.prior_bias_init=true"), "loss.prior_bias_init"),
])
def test_bad_focal_and_prior_values_are_refused_naming_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key):
        validate(compose_config("scenario=spam", *overrides))


def test_brier_is_the_summed_squared_error_of_the_softmax():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    y = torch.tensor([0, 0])
    # (0.3^2 + 0.2^2 + 0.1^2) = 0.14 and (0.9^2 + 0.1^2 + 0.8^2) = 1.46
    assert _apply("brier", logits, y, 3).item() == pytest.approx((0.14 + 1.46) / 2, rel=1e-5)
    assert _spec(_loss("brier", k=3)[1]).consumes == "probs"


def test_multi_hinge_is_torchs_multi_margin_on_raw_scores():
    scores, y = torch.tensor([[2.0, 1.5, -1.0], [0.0, 0.3, 0.1]]), torch.tensor([0, 2])
    # row 1: max(0, 1 - 2 + 1.5) + max(0, 1 - 2 - 1) = 0.5; row 2: 0.9 + 1.2 -> / 3 classes
    expected = ((0.5 + 0.0) / 3 + (0.9 + 1.2) / 3) / 2
    assert _apply("multi_hinge", scores, y, 3).item() == pytest.approx(expected, rel=1e-5)


def test_ce_smooth_is_cross_entropy_with_label_smoothing_0_1():
    logits, y = torch.randn(6, 10), torch.randint(0, 10, (6,))
    torch.testing.assert_close(_apply("ce_smooth", logits, y, 10),
                               F.cross_entropy(logits, y, label_smoothing=0.1))
    assert _apply("ce_smooth", logits, y, 10) != _apply("ce", logits, y, 10)


def test_softmax_focal_is_ce_at_gamma_0_and_the_hand_value_at_2():
    logits, y = torch.randn(6, 4), torch.randint(0, 4, (6,))
    torch.testing.assert_close(SoftmaxFocalLoss(gamma=0.0, reduction="mean")(logits, y),
                               F.cross_entropy(logits, y))
    p = torch.softmax(logits, -1).gather(1, y[:, None]).squeeze(1)
    torch.testing.assert_close(_apply("softmax_focal", logits, y, 4),
                               (-(1 - p) ** 2 * p.log()).mean())


def test_prior_bias_predicts_the_training_prior():
    y = np.array([1] + [0] * 99)
    b = prior_bias(y, 1)
    assert b[0] == pytest.approx(-math.log(0.99 / 0.01))  # Lin et al.: -4.595 at pi = 0.01
    y3 = np.array([0, 0, 1, 2, 2, 2])
    np.testing.assert_allclose(np.exp(prior_bias(y3, 3)), [2 / 6, 1 / 6, 3 / 6])
    for model in (MLP([4], 1, [8], 0.0), SmallCNN([1, 8, 8], 1, [4, 4], 8, 0.0)):
        init_prior_bias(model, y)
        x = torch.zeros(3, *([4] if isinstance(model, MLP) else [1, 8, 8]))
        for m in model.modules():  # zero weights: the output is the bias alone
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                torch.nn.init.zeros_(m.weight)
        init_prior_bias(model, y)
        torch.testing.assert_close(torch.sigmoid(model(x)), torch.full((3, 1), 0.01))
    with pytest.raises(ValueError, match="positive rate is 0.0"):
        prior_bias(np.zeros(5, dtype=int), 1)


def test_cancer_screening_starts_every_binary_loss_at_the_prior():
    for name in BINARY:
        cfg = compose_config("scenario=cancer_screening", f"loss={name}")
        assert _spec(cfg.loss).prior_bias_init, name
    assert not _spec(compose_config("scenario=spam", "loss=bce").loss).prior_bias_init


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
    focal = FocalLoss(alpha=0.6, gamma=1.0, reduction="sum", normalize="mean")
    torch.testing.assert_close(focal(x, y),
                               sigmoid_focal_loss(x, y, alpha=0.6, gamma=1.0, reduction="sum"))
    # max(0, 2 - y s) with y = +1, +1, -1: 0, 3, 2.3
    hinge = BinaryHingeLoss(margin=2.0, reduction="none")(x, 2 * y - 1)
    torch.testing.assert_close(hinge, torch.tensor([0.0, 3.0, 2.3]))
    # the guide's alpha 0.25 / gamma 2 come from the config (test_focal_matches_torchvision...)
    assert BinaryHingeLoss(margin=1.0).reduction == "mean"  # torch's convention; margin: config


def test_derived_weights_with_one_positive_and_an_absent_class():
    assert derived_pos_weight(np.array([1, 0, 0, 0])) == 3.0
    with pytest.raises(ValueError, match="no positives"):
        derived_pos_weight(np.zeros(4))
    assert balanced_class_weights(np.array([0, 0, 1, 1]), 3) == [4 / 6, 4 / 6, 1.0]
