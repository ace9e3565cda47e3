"""Stacked seeds (``seeds=[...]``) compute what each seed computes alone: the same per-epoch
metrics, early stopping and final metrics (to 1e-8 in float64, 1 % in float32)."""

from __future__ import annotations

import math

import pytest
import torch

import lossbench.app as app
from lossbench.tasks.supervised.classification import encode_target, loss_input
from lossbench.tasks.supervised.loop import Batches
from lossbench.tasks.supervised.losses import build_loss, loss_spec
from lossbench.tasks.supervised.stacked import Stack, clip_per_seed, stacked_losses
from tests.conftest import CPU, MetricLog, compose_config
from tests.fakedata import fake_spambase

SEEDS = (0, 1, 2)
# small budgets that still stop early (patience 2) at different epochs for different seeds
EPOCHS = 12
CASES = {
    "regression": ("trainer.batch_size=64", "trainer.grad_clip=0.5", "optimizer.lr=0.01"),
    # a loss with a weight derived from each seed's own training labels
    "classification": ("scenario=spam", "loss=weighted_bce", "model.hidden=[16]",
                       "trainer.monitor=val_accuracy", "trainer.monitor_mode=max",
                       "optimizer.lr=0.01"),
}


def _logs(monkeypatch) -> list[MetricLog]:
    logs: list[MetricLog] = []

    def make(cfg):
        logs.append(MetricLog())
        return logs[-1]

    monkeypatch.setattr(app, "make_tracker", make)
    return logs


def _both(monkeypatch, tmp_path, case: str, dtype: str):
    fake_spambase(tmp_path)
    common = (*CPU, f"data_dir={tmp_path}", "download=false", f"trainer.dtype={dtype}",
              f"trainer.epochs={EPOCHS}", "trainer.patience=2", *CASES[case])
    logs = _logs(monkeypatch)
    alone = {s: app.run(compose_config(*common, f"seed={s}")) for s in SEEDS}
    alone_logs = list(logs)
    logs.clear()
    seeds = ",".join(map(str, SEEDS))
    stacked = app.run_seeds(compose_config(*common, f"seeds=[{seeds}]"))
    return alone, alone_logs, list(stacked.values()), logs


def _rel(a: float, b: float) -> float:
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


@pytest.mark.parametrize("case", sorted(CASES))
def test_float64_stack_matches_each_seed_alone(monkeypatch, tmp_path, case):
    alone, alone_logs, stacked, stacked_logs = _both(monkeypatch, tmp_path, case, "float64")
    assert min(alone[s]["epochs_run"] for s in SEEDS) < EPOCHS, "early stopping never fired"
    for s, own, log, own_log in zip(SEEDS, stacked, stacked_logs, alone_logs):
        assert own.keys() == alone[s].keys()
        for k, v in alone[s].items():
            if k in ("train_seconds", "seconds_per_epoch"):
                continue
            assert _rel(own[k], v) < 1e-8, (s, k, own[k], v)
        # the whole curve, epoch by epoch
        assert log.history.keys() == own_log.history.keys()
        for k, steps in own_log.history.items():
            if k in ("train_seconds", "seconds_per_epoch"):
                continue
            got = log.history[k]
            assert [st for st, _ in got] == [st for st, _ in steps], k
            assert max(_rel(a, b) for (_, a), (_, b) in zip(got, steps)) < 1e-8, (s, k)


def test_float32_stack_is_within_one_percent(monkeypatch, tmp_path):
    alone, _, stacked, _ = _both(monkeypatch, tmp_path, "regression", "float32")
    for s, own in zip(SEEDS, stacked):
        assert own["epochs_run"] == alone[s]["epochs_run"]
        for k in ("final_test_rmse", "final_test_mae", "final_val_rmse"):
            assert _rel(own[k], alone[s][k]) < 0.01, (s, k)
        assert own["final_test_r2"] > 0.2  # learned: the untrained model's R2 is far below 0


def test_clipping_is_per_seed():
    """Each slice is clipped as clip_grad_norm_ clips that seed's model alone."""
    torch.manual_seed(0)
    w = torch.randn(3, 4, 5, requires_grad=True)
    b = torch.randn(3, 5, requires_grad=True)
    w.grad, b.grad = torch.randn(3, 4, 5) * torch.tensor([0.01, 1.0, 10.0])[:, None, None], \
        torch.randn(3, 5)
    expected = []
    for i in range(3):
        wi, bi = w[i].detach().clone().requires_grad_(), b[i].detach().clone().requires_grad_()
        wi.grad, bi.grad = w.grad[i].clone(), b.grad[i].clone()
        torch.nn.utils.clip_grad_norm_([wi, bi], 1.0)
        expected.append((wi.grad, bi.grad))
    clip_per_seed([w, b], 1.0)
    for i, (gw, gb) in enumerate(expected):
        torch.testing.assert_close(w.grad[i], gw)
        torch.testing.assert_close(b.grad[i], gb)
    assert math.isclose(float(w.grad[0].norm()), float(expected[0][0].norm()))  # small: unclipped


GAN_TINY = ("scenario=wgan", "data=gaussians8", "data.n_train=2000", "data.n_eval=100",
            "trainer.steps=6", "trainer.eval_every=3", "tracking.plots=false")
ONE_AFTER_ANOTHER = {  # a job whose seeds cannot stack exactly, or where a stack does not pay
    "dropout": ("model.dropout=0.2", "trainer.epochs=3"),
    "on_diverge=stop": ("trainer.on_diverge=stop", "trainer.epochs=3"),
    "gan": GAN_TINY,
    # built as a stack's seeds, then trained in turn (stack_does_not_pay); float32, still exact
    "cnn on a cpu": ("scenario=mnist", "data=digits", "trainer.epochs=3",
                     "trainer.batch_size=32", "model.channels=[4,8]", "model.hidden=16"),
}


@pytest.mark.parametrize("case", sorted(ONE_AFTER_ANOTHER))
def test_seeds_that_do_not_stack_run_one_after_another_exactly_as_alone(monkeypatch, case):
    logs = _logs(monkeypatch)
    alone = [app.run(compose_config(*CPU, *ONE_AFTER_ANOTHER[case], f"seed={s}"))
             for s in (0, 1)]
    alone_logs = list(logs)
    logs.clear()
    together = app.run_seeds(compose_config(*CPU, *ONE_AFTER_ANOTHER[case], "seeds=[0,1]"))
    assert [name[-3:] for name in together] == ["-s0", "-s1"]  # one run per seed

    def timeless(metrics: dict) -> dict:
        return {k: v for k, v in metrics.items() if "seconds" not in k}

    for one, seq in zip(alone, together.values()):
        assert timeless(one) == timeless(seq)  # exactly: the same computation
    assert [timeless(log.history) for log in alone_logs] == [timeless(log.history) for log in logs]
    assert timeless(alone[0]) != timeless(alone[1])  # each ran with its own seed


SUPERVISED_LOSSES = {  # loss option -> scenario whose head it fits
    **{loss: "diabetes" for loss in ("mse", "mae", "huber", "log_cosh")},
    **{loss: "spam" for loss in ("bce", "weighted_bce", "focal", "hinge")},
    **{loss: "mnist" for loss in ("ce", "sparse_ce", "weighted_ce", "kl_div", "ce_smooth",
                                  "brier", "multi_hinge", "softmax_focal")},
}


@pytest.mark.parametrize("loss", sorted(SUPERVISED_LOSSES))
def test_every_loss_gives_each_seed_its_own_value(loss):
    """The stacked loss (one vmap-ed call, or a loop when the loss holds tensors) equals each
    seed's loss computed alone, for every supervised loss option."""
    cfg = compose_config(*CPU, f"scenario={SUPERVISED_LOSSES[loss]}", f"loss={loss}")
    spec, k = loss_spec(cfg), {"diabetes": 1, "spam": 2, "mnist": 10}[SUPERVISED_LOSSES[loss]]
    g = torch.Generator().manual_seed(0)
    runs, models = [], []
    for seed in range(3):
        y = torch.randint(0, k, (40,), generator=g) if k > 1 else torch.randn(40, generator=g)
        target = encode_target(y, spec.target_encoding, k) if k > 1 else y
        fn = build_loss(cfg.loss, y_train=y.numpy(), num_classes=k)
        outputs = 1 if k <= 2 else k
        torch.manual_seed(seed)
        models.append(torch.nn.Linear(5, outputs))
        runs.append(Batches(torch.randn(40, 5, generator=g), target, fn,
                            (lambda o: o.squeeze(-1)) if k == 1 else
                            (lambda o: loss_input(o, spec)), 16, torch.Generator().manual_seed(seed)))
    stack = Stack(models)
    got, size = next(iter(stacked_losses(stack, runs)(1)))
    assert size == 16
    for i, (b, m) in enumerate(zip(runs, models)):
        idx = torch.randperm(40, generator=torch.Generator().manual_seed(i))[:16]
        alone = b.loss_fn(b.to_loss_input(m(b.x[idx])), b.target[idx])
        torch.testing.assert_close(got[i], alone)


def _outputs_and_gradients_match(stack: Stack, x: torch.Tensor) -> None:
    """The stack's outputs on ``x`` (seeds first), and its parameters' gradients, are each
    seed's own model's (float64)."""
    out = stack(x)
    out.pow(2).sum().backward()
    for i, m in enumerate(stack.models):
        alone = m(x[i])
        torch.testing.assert_close(out[i], alone, rtol=1e-12, atol=1e-12)
        alone.pow(2).sum().backward()
        for name, p in m.named_parameters():
            torch.testing.assert_close(stack.params[name].grad[i], p.grad, rtol=1e-10, atol=1e-12)


def test_batched_chain_matches_each_model_alone():
    """The MLP's batched forward (one baddbmm per layer for all seeds) gives each seed its own
    model's outputs and gradients; models that are not such a chain get None (vmap instead)."""
    from lossbench.tasks.supervised.models import MLP, SmallCNN
    from lossbench.tasks.supervised.stacked import batched_chain

    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(MLP((2, 3), 4, [8, 5], 0.0).double())
    stack = Stack(models)
    assert batched_chain(models[0], stack.params) is not None
    x = torch.randn(3, 7, 2, 3, dtype=torch.float64)
    _outputs_and_gradients_match(stack, x)
    seq = torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    forward = batched_chain(seq, Stack([seq]).params)
    h = x[:1].flatten(2).float()
    torch.testing.assert_close(forward(h), seq(h[0])[None])

    class Residual(torch.nn.Module):  # a Linear, ReLU, Linear that is not a chain
        def __init__(self):
            super().__init__()
            self.a, self.act, self.b = torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4)

        def forward(self, h):
            return h + self.b(self.act(self.a(h)))

    class Doubled(MLP):  # an MLP whose forward is not its net's
        def forward(self, h):
            return 2 * self.net(h)

    cnn = SmallCNN((1, 8, 8), 2, [2, 3], 4, 0.0)
    for other in (cnn, Residual(), Doubled((4,), 1, [3], 0.0)):
        assert batched_chain(other, Stack([other]).params) is None, type(other).__name__


def test_vmap_stack_of_a_cnn_matches_each_model_alone():
    """A model that is not a chain stacks through vmap (a CNN on CUDA; on a CPU its seeds
    train one after another, stack_does_not_pay): each seed's outputs and gradients are its own."""
    from lossbench.tasks.supervised.models import SmallCNN
    from lossbench.tasks.supervised.stacked import stack_does_not_pay

    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(SmallCNN((1, 8, 8), 3, [2, 3], 4, 0.0).double())
    assert "convolutional" in stack_does_not_pay(models[0])  # on this CPU
    stack = Stack(models)
    _outputs_and_gradients_match(stack, torch.randn(3, 5, 1, 8, 8, dtype=torch.float64))
    assert stack_does_not_pay(models[0].head) == ""  # no convolution: a stack pays
