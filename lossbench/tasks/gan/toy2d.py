"""2-D mixtures of narrow Gaussians: the disjoint-support toy of the WGAN papers.

Each mode is an isotropic Gaussian with a small ``std`` around a centre; centres lie on a ring
(8 Gaussians) or a square grid (25 Gaussians), far apart compared with ``std``, so the data's
support is a union of disjoint blobs and a generator's initial support is disjoint from it.
"""

from __future__ import annotations

import numpy as np

from lossbench.tasks.gan.data import GanData


def mode_centres(layout: str, n_modes: int, scale: float) -> np.ndarray:
    """``(n_modes, 2)`` centres: on a circle of radius ``scale``, or a centred square grid
    with spacing ``scale`` (``n_modes`` a square)."""
    if layout == "ring":
        angles = 2 * np.pi * np.arange(n_modes) / n_modes
        return scale * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if layout == "grid":
        side = round(n_modes ** 0.5)
        if side * side != n_modes:
            raise ValueError(f"a grid needs a square number of modes, got {n_modes}")
        ticks = scale * (np.arange(side) - (side - 1) / 2)
        gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
        return np.stack([gx.ravel(), gy.ravel()], axis=1)
    raise ValueError(f"layout must be ring or grid, got {layout!r}")


def sample_mixture(centres: np.ndarray, std: float, n: int,
                   rng: np.random.Generator) -> np.ndarray:
    """``n`` float32 points, each from a uniformly chosen mode."""
    which = rng.integers(len(centres), size=n)
    return (centres[which] + std * rng.standard_normal((n, 2))).astype(np.float32)


def gaussian_mixture(data_dir: str, download: bool, *, layout: str, n_modes: int, scale: float,
                     std: float, n_train: int, n_eval: int, split_seed: int) -> GanData:
    """Training and held-out evaluation points of the mixture, drawn from ``split_seed``."""
    del data_dir, download  # generated, nothing to load
    centres = mode_centres(layout, n_modes, scale)
    rng = np.random.default_rng(split_seed)
    x_train = sample_mixture(centres, std, n_train, rng)
    x_eval = sample_mixture(centres, std, n_eval, rng)
    name = f"{n_modes} Gaussians ({layout}, scale {scale}, std {std})"
    return GanData("points", x_train, x_eval, modes=centres.astype(np.float32), std=std,
                   info={"source": name, "n_train": n_train, "n_eval": n_eval})
