"""A run's predictions per split, once per state of its weights (the final scores and the
figures share the test predictions)."""

from __future__ import annotations

import torch
from torch import nn

from lossbench.tasks.supervised.loop import once_per_weights


def test_predictions_are_made_once_per_state_of_the_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    tensors = {part: (torch.randn(8, 3), torch.randn(8)) for part in ("train", "val", "test")}
    calls = []

    @torch.no_grad()
    def predict(x):
        calls.append(x)
        model.eval()
        return model(x).squeeze(-1).numpy()

    predicted = once_per_weights(model, predict, tensors)
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
