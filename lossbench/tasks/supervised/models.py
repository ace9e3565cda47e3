"""Models. They emit raw outputs (regression values, logits, scores): activations that a loss
or a metric needs are applied by the task, never inside the model."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    """Fully connected ReLU network with no output activation; inputs of shape ``in_shape``
    (a table row, or an image) are flattened."""

    def __init__(self, in_shape: Sequence[int], out_features: int, hidden: Sequence[int],
                 dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(in_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SmallCNN(nn.Module):
    """Two conv blocks and a linear head for 1-channel images of any size >= 8x8 (MNIST's
    28x28, scikit-learn's 8x8 digits): the adaptive pool fixes the head's input size."""

    def __init__(self, in_shape: Sequence[int], out_features: int, channels: Sequence[int],
                 hidden: int, dropout: float) -> None:
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_shape[0], c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        )
        head: list[nn.Module] = [nn.Linear(c2 * 16, hidden), nn.ReLU()]
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(hidden, out_features))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
