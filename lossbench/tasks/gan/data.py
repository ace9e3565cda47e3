"""What a generator learns to imitate: samples (2-D points or images) without splits for
training a predictor, plus the held-out real samples its metrics compare against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass
class GanData:
    """float32 samples ``(N, 2)`` (points) or ``(N, C, H, W)`` in [-1, 1] (images).

    ``x_eval`` is held out from ``x_train``. Points carry the mixture's ``modes`` and ``std``
    (mode coverage); images carry class labels (the Frechet-distance feature classifier).
    """

    kind: str  # "points" or "images"
    x_train: np.ndarray
    x_eval: np.ndarray
    y_train: Optional[np.ndarray] = None
    y_eval: Optional[np.ndarray] = None
    modes: Optional[np.ndarray] = None
    std: float = 0.0
    info: dict = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """The real samples (and labels, when present) by name (see ``Splits.arrays``)."""
        named = {"x_train": self.x_train, "y_train": self.y_train, "x_eval": self.x_eval,
                 "y_eval": self.y_eval, "modes": self.modes}
        return {k: v for k, v in named.items() if v is not None}

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])
