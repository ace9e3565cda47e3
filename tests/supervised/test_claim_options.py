"""What the claim studies C4, C13, C14 and C16 add: deliberately broken losses (naive
formulas, mismatched pairings) refused outside their studies, a run that finishes when it
diverges, the cost of a training step, training-only positive subsampling, synthetic classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossbench.loop import TrainingDiverged, fit
from lossbench.schema import ConfigError
from lossbench.config import validate
from lossbench.stepcost import measure, step_peak_bytes
from lossbench.tasks import task_module
from lossbench.tasks.supervised.classification import loss_input, target_memory
from lossbench.tasks.supervised.data import spambase, synthetic_classes
from lossbench.tasks.supervised.losses import (NaiveBCELoss, NaiveCrossEntropyLoss, build_loss,
                                               loss_spec)
from lossbench.tasks.supervised.metrics import (MANY_CLASSES, balanced_accuracy,
                                                classification_metrics)
from tests.conftest import compose_config
from tests.fakedata import fake_spambase

CPU = torch.device("cpu")


# ------------------------------------------------------------------ naive losses (C13)
def test_naive_losses_equal_the_fused_ones_on_moderate_logits():
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(64, generator=g)
    y = (torch.rand(64, generator=g) < 0.4).float()
    naive = NaiveBCELoss("mean")(torch.sigmoid(logits), y)
    torch.testing.assert_close(naive, F.binary_cross_entropy_with_logits(logits, y))
    logits10 = 3 * torch.randn(64, 10, generator=g)
    idx = torch.randint(0, 10, (64,), generator=g)
    naive = NaiveCrossEntropyLoss("mean")(torch.softmax(logits10, -1), idx)
    torch.testing.assert_close(naive, F.cross_entropy(logits10, idx))


def test_naive_bce_overflows_where_the_fused_form_does_not():
    # a negative predicted positive at logit 20: float32 rounds 1 - sigmoid(20) to 0
    x = torch.tensor([20.0, -120.0], requires_grad=True)
    y = torch.tensor([0.0, 1.0])
    naive = NaiveBCELoss("none")(torch.sigmoid(x), y)
    assert torch.isinf(naive).all()  # both confident and wrong: -log 0
    fused = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    torch.testing.assert_close(fused, torch.tensor([20.0, 120.0]))  # |x| + log(1 + e^-|x|)
    # a confident RIGHT prediction is NaN in the naive form (0 * log 0)
    right = NaiveBCELoss("none")(torch.sigmoid(torch.tensor([20.0])), torch.tensor([1.0]))
    assert torch.isnan(right).all()
    x2 = torch.tensor([20.0], requires_grad=True)
    NaiveBCELoss("mean")(torch.sigmoid(x2), torch.tensor([0.0])).backward()
    assert not torch.isfinite(x2.grad).all()


def test_naive_ce_overflows_where_the_fused_form_does_not():
    # logit gap 200: the true class's softmax probability underflows to 0 in float32
    x = torch.tensor([[200.0, 0.0]], requires_grad=True)
    wrong, right = torch.tensor([1]), torch.tensor([0])
    assert torch.isinf(NaiveCrossEntropyLoss("mean")(torch.softmax(x, -1), wrong))
    assert F.cross_entropy(x, wrong).item() == pytest.approx(200.0)
    # right and confident: the loss is 0, but the other class's log(0) makes the gradient NaN
    loss = NaiveCrossEntropyLoss("mean")(torch.softmax(x, -1), right)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isnan(x.grad).any()
    x.grad = None
    F.cross_entropy(x, right).backward()
    assert torch.isfinite(x.grad).all()


# ------------------------------------------------------------------ broken options: refused
BROKEN = {"naive_bce": "spam", "naive_ce": "spam", "mismatch_softmax_bce": "mnist",
          "mismatch_sigmoid_ce": "mnist", "mismatch_mse_logits": "mnist"}


def _check(*overrides):
    cfg = compose_config(*overrides)
    validate(cfg)
    task_module(cfg.task).check(cfg)
    return cfg


@pytest.mark.parametrize("loss", sorted(BROKEN))
def test_a_broken_loss_is_refused_in_one_line_outside_its_study(loss):
    with pytest.raises(ConfigError) as e:
        _check(f"scenario={BROKEN[loss]}", f"loss={loss}")
    msg = str(e.value)
    assert msg.startswith(f"loss={loss} is deliberately broken") and "\n" not in msg
    assert "allow_broken_losses=true" in msg
    cfg = _check(f"scenario={BROKEN[loss]}", f"loss={loss}", "allow_broken_losses=true")
    assert loss_spec(cfg).broken


def test_the_mismatches_refused_before_are_refused_as_before():
    with pytest.raises(ConfigError, match=r"^loss=bce needs a binary head \(one output\), but "
                                          r"data has 10 classes: use ce, "):
        _check("scenario=mnist", "loss=bce")
    with pytest.raises(ConfigError, match=r"^loss=mse is a regression loss \(it consumes "
                                          r"values\); mnist is a classification task"):
        _check("scenario=mnist", "loss=mse")
    with pytest.raises(ConfigError, match="^loss.head: must be multiclass when "
                                          "loss.consumes=probs"):
        _check("scenario=spam", "loss=bce", "loss.consumes=probs")


@pytest.mark.parametrize("loss, fn, target", [
    ("mismatch_softmax_bce", lambda out, y: F.binary_cross_entropy(
        torch.softmax(out, -1), F.one_hot(y, 10).float()), "distribution"),
    ("mismatch_sigmoid_ce", lambda out, y: F.cross_entropy(torch.sigmoid(out), y), "index"),
    ("mismatch_mse_logits", lambda out, y: F.mse_loss(out, F.one_hot(y, 10).float()),
     "distribution"),
])
def test_each_mismatch_computes_its_pairing(loss, fn, target):
    cfg = _check("scenario=mnist", f"loss={loss}", "allow_broken_losses=true")
    spec = loss_spec(cfg)
    assert spec.head == "multiclass" and spec.target_encoding == target
    g = torch.Generator().manual_seed(1)
    out, y = torch.randn(8, 10, generator=g), torch.randint(0, 10, (8,), generator=g)
    from lossbench.tasks.supervised.classification import encode_target
    got = build_loss(cfg.loss)(loss_input(out, spec), encode_target(y, target, 10))
    torch.testing.assert_close(got, fn(out, y))


# ------------------------------------------------------------------ divergence (C13)
def test_on_diverge_stop_finishes_on_the_best_epoch():
    model = torch.nn.Linear(1, 1)
    weights = []

    def losses(epoch):  # finite for two epochs, then NaN
        value = float("nan") if epoch == 3 else 1.0
        return iter([(model.weight.sum() * 0 + value, 1)])

    def evaluate():
        weights.append(model.weight.detach().clone())
        return {"val": -float(len(weights))}  # each epoch better than the last
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TrainingDiverged, match="at epoch 3"):
        fit(model, opt, losses, epochs=5, patience=0, monitor="val", monitor_mode="min",
            evaluate=evaluate)
    weights.clear()
    result = fit(model, opt, losses, epochs=5, patience=0, monitor="val", monitor_mode="min",
                 evaluate=evaluate, on_diverge="stop")
    assert (result.diverged_epoch, result.epochs_run, result.best_epoch) == (3, 3, 2)
    assert len(result.history) == 2
    torch.testing.assert_close(model.weight, weights[1])


def test_a_non_finite_weight_is_divergence_too():
    model = torch.nn.Linear(1, 1)

    def losses(epoch):  # sqrt(0 * w): the loss is 0, its gradient inf * 0 = NaN
        return iter([((model.weight.sum() * 0).sqrt(), 1)])
    result = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), losses, epochs=3,
                 patience=0, monitor="val", monitor_mode="min", evaluate=lambda: {"val": 0.0},
                 on_diverge="stop")
    assert result.diverged_epoch == 1 and result.history == []
    assert torch.isfinite(model.weight).all()  # the initial weights, restored


# ------------------------------------------------------------------ step cost (C14)
def test_step_peak_bytes_by_hand():
    def step():
        a = torch.empty(1000, 1000)   # 4 MB
        b = torch.empty(500, 1000)    # +2 MB: 6 MB live, the peak
        del a
        c = torch.empty(250, 1000)    # 3 MB live
        del b, c

    assert step_peak_bytes(step, CPU) == 6_000_000


def test_target_memory_counts_one_hot_rows_and_indices():
    y = torch.arange(7) % 5
    one_hot = target_memory(F.one_hot(y, 5).float(), 100.0)
    assert one_hot == {"final_target_bytes": 7 * 5 * 4, "final_peak_bytes": 7 * 5 * 4 + 100}
    assert target_memory(y.long(), 0.0)["final_target_bytes"] == 7 * 8


def test_a_one_hot_step_allocates_more_than_an_index_step():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 16, generator=g), torch.randint(0, 1000, (256,), generator=g)
    peaks = {}
    for name, target, loss_fn in [("index", y, F.cross_entropy),
                                  ("one_hot", F.one_hot(y, 1000).float(), F.cross_entropy)]:
        model = torch.nn.Linear(16, 1000)
        opt = torch.optim.Adam(model.parameters())

        def losses(epoch, target=target, loss_fn=loss_fn, model=model):
            for i in range(0, 256, 64):  # index tensors, as the epoch loop: copies
                idx = torch.arange(i, i + 64)
                yield loss_fn(model(x[idx]), target[idx]), 64
        cost = measure(model, opt, losses, n=3, device=CPU)
        assert cost["final_step_seconds"] > 0
        peaks[name] = cost["final_step_peak_bytes"]
    # at least the logits' gradient (64 x 1000 floats) and the parameters' (16k + 1k floats)
    assert peaks["index"] >= (64 * 1000 + 17 * 1000) * 4
    # a one-hot batch holds its targets (64 x 1000 floats) through the step
    assert peaks["one_hot"] - peaks["index"] >= 64 * 1000 * 4


# ------------------------------------------------------------------ training positive rate (C16)
SPLIT = dict(val_fraction=0.2, test_fraction=0.2, split_seed=0, num_classes=2,
             positive_rate=None, label_noise=0.0)


@pytest.mark.parametrize("rate", [0.1, 0.02])
def test_train_positive_rate_subsamples_the_training_split_only(tmp_path, rate):
    fake_spambase(tmp_path, n=1000)
    full = spambase(str(tmp_path), False, **SPLIT, train_positive_rate=None)
    s = spambase(str(tmp_path), False, **SPLIT, train_positive_rate=rate)
    neg = int((full.y_train == 0).sum())
    assert int((s.y_train == 0).sum()) == neg  # every negative kept
    assert int(s.y_train.sum()) == round(rate / (1 - rate) * neg)
    assert s.y_train.mean() == pytest.approx(rate, abs=0.5 / len(s.y_train))
    for part in ("val", "test"):  # untouched, to the bit
        np.testing.assert_array_equal(s.split(part)[0], full.split(part)[0])
        np.testing.assert_array_equal(s.split(part)[1], full.split(part)[1])
    assert s.info["positives_train"] == int(s.y_train.sum())


def test_train_positive_rate_is_checked():
    with pytest.raises(ConfigError, match="^data.train_positive_rate: must be in"):
        validate(compose_config("scenario=spam", "data.train_positive_rate=1.5"))
    with pytest.raises(ConfigError, match="^data.train_positive_rate: must be null when"):
        validate(compose_config("scenario=spam", "data.train_positive_rate=0.1",
                                "data.positive_rate=0.2"))


# ------------------------------------------------------------------ synthetic classes (C14)
def test_synthetic_classes_has_every_class():
    s = synthetic_classes("", False, n_samples=300, n_features=4, noise=0.1, val_fraction=0.1,
                          test_fraction=0.1, split_seed=0, num_classes=300, positive_rate=None,
                          train_positive_rate=None, label_noise=0.0)
    labels = np.concatenate([s.y_train, s.y_val, s.y_test])
    assert sorted(labels) == list(range(300)) and s.x_train.shape[1] == 4
    with pytest.raises(ConfigError, match="^data.n_samples: must be >= data.num_classes"):
        validate(compose_config("scenario=mnist", "data=synthetic_classes", "model=mlp",
                                "data.num_classes=20000"))


def test_many_class_curves_are_nan_not_minutes():
    k = MANY_CLASSES + 1
    y, p = np.arange(k), np.full((k, k), 1.0 / k)
    m = classification_metrics(y, p)
    assert np.isnan(m["roc_auc"]) and np.isnan(m["average_precision"])
    assert m["log_loss"] == pytest.approx(np.log(k))


def test_many_class_balanced_accuracy_is_scikit_learns():
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 500, 2000)
    pred = np.where(rng.random(2000) < 0.3, y, rng.integers(0, 600, 2000))  # some unseen
    with pytest.warns(UserWarning):
        expected = balanced_accuracy_score(y, pred)
    assert balanced_accuracy(y, pred, many=True) == pytest.approx(expected, rel=1e-12)
