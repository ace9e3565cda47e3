"""lossbench.torchutil: ``place`` puts a convolutional model in channels-last layout on a CPU
(faster there), where it computes what it computes in the default layout; ``in_chunks``
predicts a split in pieces, as in one pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lossbench.app import load_data
from lossbench.tasks.gan.features import FeatureCNN
from lossbench.tasks.gan.models import ConvCritic, ConvGenerator
from lossbench.tasks.pairs.models import EmbeddingCNN
from lossbench.tasks.supervised import classification
from lossbench.tasks.supervised.models import MLP, SmallCNN
from lossbench.torchutil import in_chunks, place
from lossbench.tracking import NullTracker
from tests.conftest import CPU, compose_config

CPU_DEVICE = torch.device("cpu")
CL = torch.channels_last


def _conv_weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("make, shape", [
    (lambda: SmallCNN((1, 28, 28), 10, [8, 16], 32, 0.0), (16, 1, 28, 28)),
    (lambda: EmbeddingCNN((1, 32, 32), 8, [8, 16], 32, True), (16, 1, 32, 32)),
    (lambda: ConvCritic(3, 32, 8), (16, 3, 32, 32)),
    (lambda: FeatureCNN(1, 10, 32), (16, 1, 28, 28)),
])
def test_conv_models_go_channels_last_and_compute_the_same(make, shape):
    torch.manual_seed(0)
    default = make().eval()
    placed = place(make().eval(), CPU_DEVICE)
    placed.load_state_dict(default.state_dict())
    assert all(w.is_contiguous(memory_format=CL) for w in _conv_weights(placed))
    assert not all(w.is_contiguous(memory_format=CL) for w in _conv_weights(default))
    x = torch.randn(*shape)
    with torch.no_grad():
        torch.testing.assert_close(placed(x), default(x), rtol=1e-4, atol=1e-5)
    # a training step's gradients too
    for m in (default, placed):
        m.train()
        m.zero_grad()
        m(x).square().mean().backward()
    for a, b in zip(default.parameters(), placed.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-3, atol=1e-5)


def test_generator_and_mlp():
    gen = place(ConvGenerator(16, 1, 28, 8), CPU_DEVICE)
    assert all(w.is_contiguous(memory_format=CL) for w in _conv_weights(gen))
    assert gen(torch.randn(4, 16)).shape == (4, 1, 28, 28)
    mlp = place(MLP((8,), 1, [16], 0.0), CPU_DEVICE, torch.float64)  # no convolution: as it was
    assert all(p.is_contiguous() and p.dtype == torch.float64 for p in mlp.parameters())


def test_the_classification_task_builds_its_cnn_channels_last():
    cfg = compose_config(*CPU, "scenario=mnist", "data=digits", "model.channels=[4,8]",
                         "model.hidden=16")
    task = classification.build(cfg, load_data(cfg), CPU_DEVICE, NullTracker())
    weights = _conv_weights(task.model)
    assert len(weights) == 2 and all(w.is_contiguous(memory_format=CL) for w in weights)


def test_in_chunks_covers_every_row_in_order():
    x = torch.arange(10.0)[:, None]
    seen = []

    def fn(chunk):
        seen.append(len(chunk))
        return chunk * 2

    torch.testing.assert_close(in_chunks(fn, x, 4), x * 2, rtol=0, atol=0)
    assert seen == [4, 4, 2]  # the last chunk is the rest
    torch.manual_seed(0)
    cnn = place(SmallCNN((1, 28, 28), 10, [8, 16], 32, 0.0).eval(), CPU_DEVICE)
    images = torch.randn(300, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(in_chunks(cnn, images, 128), cnn(images), rtol=1e-5,
                                   atol=1e-6)
