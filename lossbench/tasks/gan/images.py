"""MNIST-format images for a generator: pixels scaled to [-1, 1] (a tanh generator's range),
shape ``(N, 1, 28, 28)``. The source's test split provides the held-out real images the
metrics compare against; labels stay along for the Frechet-distance feature classifier."""

from __future__ import annotations

import numpy as np

from lossbench.tasks.gan.data import GanData
from lossbench.data.images import load_images


def to_unit_range(x: np.ndarray) -> np.ndarray:
    """uint8 ``(N, H, W)`` -> float32 ``(N, 1, H, W)`` in [-1, 1]."""
    return (x.astype(np.float32) / 127.5 - 1.0)[:, None, :, :]


def images(data_dir: str, download: bool, *, dataset: str, n_eval: int,
           split_seed: int) -> GanData:
    """All training images, and ``n_eval`` test images (drawn at random from ``split_seed``)."""
    imgs = load_images(dataset, data_dir, download)
    rng = np.random.default_rng(split_seed)
    n_eval = min(n_eval, len(imgs.y_test))
    idx = np.sort(rng.choice(len(imgs.y_test), size=n_eval, replace=False))
    return GanData("images", to_unit_range(imgs.x_train), to_unit_range(imgs.x_test[idx]),
                   y_train=imgs.y_train, y_eval=imgs.y_test[idx],
                   info={"source": imgs.source, "dataset": dataset,
                         "n_train": len(imgs.y_train), "n_eval": n_eval})
