"""The supervised loop: early stopping, divergence, reproducibility."""

from __future__ import annotations

import pytest
import torch

from lossbench.app import run
from lossbench.loop import (TrainingDiverged, batch_generator, batch_indices, fit, once_per_weights,
                            weights_finite)
from lossbench.tasks.supervised.loop import epoch_losses
from lossbench.tasks.supervised.models import MLP
from tests.conftest import compose_config


def _toy(n=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    return x, x.sum(1)


def _fit(loss_fn, evaluate, **kw):
    x, y = _toy()
    model = MLP((3,), 1, hidden=[8], dropout=0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    losses = epoch_losses(model, loss_fn, x, y, batch_size=16,
                          generator=batch_generator(0, torch.device("cpu")),
                          to_loss_input=lambda o: o.squeeze(-1))
    args = dict(epochs=20, patience=3, monitor="val", monitor_mode="min",
                evaluate=lambda: evaluate(model))
    return model, fit(model, opt, losses, **{**args, **kw})


def test_early_stopping_restores_the_best_epoch():
    scores = iter([3.0, 1.0, 2.0, 2.5, 2.6, 2.7, 2.8])
    snapshots = []

    def evaluate(model):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"val": next(scores)}

    model, result = _fit(torch.nn.MSELoss(), evaluate)
    assert (result.best_epoch, result.epochs_run) == (2, 5)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, snapshots[1][k])


def test_max_mode_keeps_the_highest_score():
    scores = iter([0.5, 0.9, 0.7, 0.8, 0.6])
    _, result = _fit(torch.nn.MSELoss(), lambda m: {"val": next(scores)}, monitor_mode="max",
                     patience=3)
    assert (result.best_epoch, result.epochs_run) == (2, 5)


def test_a_tie_is_not_an_improvement():
    _, result = _fit(torch.nn.MSELoss(), lambda m: {"val": 1.0}, patience=2)
    assert (result.best_epoch, result.epochs_run) == (1, 3)
    _, result = _fit(torch.nn.MSELoss(), lambda m: {"val": 1.0}, patience=2, monitor_mode="max")
    assert (result.best_epoch, result.epochs_run) == (1, 3)


def _constant_losses(param: torch.nn.Parameter, batches: list[tuple[float, int]],
                     epochs_seen: list[int]):
    """``epoch_losses`` yielding fixed batch losses (with a gradient) and sizes."""
    def losses(epoch):
        epochs_seen.append(epoch)
        return ((param.sum() * 0 + value, size) for value, size in batches)
    return losses


def test_train_loss_is_the_size_weighted_mean_and_every_epoch_is_reported():
    model = torch.nn.Linear(1, 1)
    seen, epochs = [], []
    result = fit(model, torch.optim.SGD(model.parameters(), lr=0.1),
                 _constant_losses(model.weight, [(2.0, 3), (5.0, 1)], epochs), epochs=3,
                 patience=0,
                 monitor="val", monitor_mode="min", evaluate=lambda: {"val": 1.0},
                 on_epoch=lambda epoch, metrics: seen.append((epoch, metrics)))
    assert result.history == [{"epoch": e, "train_loss": 2.75, "val": 1.0} for e in (1, 2, 3)]
    assert seen == [(e, {"train_loss": 2.75, "val": 1.0}) for e in (1, 2, 3)]
    assert epochs == [1, 2, 3] and result.epochs_run == 3 and 0 < result.seconds < 60


@pytest.mark.parametrize("grad_clip, step", [(0.0, 10.0), (1.0, 1.0)])
def test_grad_clip_bounds_the_gradient_norm_only_when_set(grad_clip, step):
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    fit(model, torch.optim.SGD(model.parameters(), lr=1.0),
        lambda epoch: iter([(10.0 * model.weight.sum(), 1)]), epochs=1, patience=0,
        monitor="val", monitor_mode="min", evaluate=lambda: {"val": 1.0},
        grad_clip=grad_clip)
    assert model.weight.item() == pytest.approx(-step)


def test_batch_indices_cover_every_row_once_in_a_seeded_order():
    cpu = torch.device("cpu")
    batches = list(batch_indices(10, 4, batch_generator(0, cpu), cpu))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    again = torch.cat(list(batch_indices(10, 4, batch_generator(0, cpu), cpu)))
    other = torch.cat(list(batch_indices(10, 4, batch_generator(1, cpu), cpu)))
    assert torch.equal(torch.cat(batches), again) and not torch.equal(again, other)


def test_patience_zero_runs_every_epoch():
    _, result = _fit(torch.nn.MSELoss(), lambda m: {"val": 1.0}, patience=0, epochs=6)
    assert result.epochs_run == 6 and result.best_epoch == 1


def test_nan_loss_raises_training_diverged():
    nan_loss = lambda out, y: (out - y).pow(2).mean() * float("nan")  # noqa: E731
    with pytest.raises(TrainingDiverged, match="nan"):
        _fit(nan_loss, lambda m: {"val": 1.0})


STEPS_PER_EPOCH = 4  # _toy's 64 rows in batches of 16


def _poison_after(epoch: int):
    """The last SGD step of epoch ``epoch`` writes inf into the first weight, so every
    training loss of that epoch (each computed before its step) stays finite: only the
    weights say it diverged."""
    calls = {"epoch": 0, "steps": 0}

    def poison(p: torch.Tensor) -> None:
        calls["steps"] += 1
        if calls["steps"] == STEPS_PER_EPOCH:
            p.grad.fill_(float("inf"))

    def evaluate(model):
        calls["epoch"] += 1
        if calls["epoch"] == epoch - 1:
            next(model.parameters()).register_post_accumulate_grad_hook(poison)
        return {"val": 1.0 / calls["epoch"]}
    return evaluate


def test_non_finite_weights_with_a_finite_loss_raise_training_diverged():
    with pytest.raises(TrainingDiverged, match="at epoch 3"):
        _fit(torch.nn.MSELoss(), _poison_after(3))


def test_on_diverge_stop_reports_the_epoch_and_keeps_the_best_finite_weights():
    model, result = _fit(torch.nn.MSELoss(), _poison_after(3), on_diverge="stop")
    assert (result.diverged_epoch, result.epochs_run, result.best_epoch) == (3, 3, 2)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert weights_finite(model)
    next(model.parameters()).data[0] = float("nan")
    assert not weights_finite(model)
    assert weights_finite(torch.nn.ReLU())  # no parameters: nothing to be non-finite
    _, result = _fit(torch.nn.MSELoss(), lambda m: {"val": 1.0}, on_diverge="stop")
    assert result.diverged_epoch == 0  # 0: it did not diverge


def test_unknown_monitor_names_the_available_metrics():
    with pytest.raises(KeyError, match="trainer.monitor='val_nope'"):
        _fit(torch.nn.MSELoss(), lambda m: {"val": 1.0}, monitor="val_nope")


def test_same_seed_same_metrics_on_cpu():
    overrides = ("device=cpu", "trainer.epochs=4", "tracking.enabled=false")
    a = run(compose_config(*overrides, "seed=1"))
    b = run(compose_config(*overrides, "seed=1"))
    c = run(compose_config(*overrides, "seed=2"))
    for final in (a, b, c):  # timings differ, every metric must not
        del final["train_seconds"], final["seconds_per_epoch"]
    assert a == b
    assert a != c


def test_every_regression_loss_trains_the_default_scenario():
    for loss in ("mse", "mae", "huber", "log_cosh"):
        final = run(compose_config(f"loss={loss}", "trainer.epochs=3", "tracking.enabled=false"))
        assert final["final_test_rmse"] > 0 and final["epochs_run"] == 3


def test_predictions_are_made_once_per_state_of_the_weights():
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    tensors = {part: (torch.randn(8, 3), torch.randn(8)) for part in ("train", "val", "test")}
    calls = []

    @torch.no_grad()
    def predict(x):
        calls.append(x)
        model.eval()
        return model(x).squeeze(-1).numpy()

    predicted = once_per_weights(model, predict, {p: xy[0] for p, xy in tensors.items()})
    first = predicted("test")
    assert predicted("test") is first and len(calls) == 1  # same weights: no second pass
    predicted("val")
    assert len(calls) == 2 and calls[-1] is tensors["val"][0]  # each split its own

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    model(tensors["train"][0]).pow(2).mean().backward()  # updates BatchNorm's running stats
    assert predicted("test") is not first and len(calls) == 3  # a buffer changed
    opt.step()
    after_step = predicted("test")
    assert len(calls) == 4 and not (after_step == first).all()
    model.load_state_dict(saved)  # back to the first weights: predicted again, same values
    again = predicted("test")
    assert len(calls) == 5 and (again == first).all()
