"""GAN figures: generated vs real points, a grid of generated images, generated images over
their nearest training images, metric curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402


def points(real: np.ndarray, fake: np.ndarray, modes: np.ndarray, title: str) -> Figure:
    """Real points (grey), generated points (blue) and the mode centres (red crosses)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(real[:, 0], real[:, 1], s=2, c="0.6", alpha=0.5, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:blue", alpha=0.5, label="generated")
    ax.scatter(modes[:, 0], modes[:, 1], marker="x", c="tab:red", s=30, label="modes")
    lim = 1.5 * float(np.abs(modes).max())
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    ax.set_title(title, fontsize=9)
    # fixed margins, not tight_layout (one more draw): 0.15 -> 0.11 s a figure, and a run of
    # the wgan study logs one at each of its 11 evaluations
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.08, top=0.93)
    return fig


def image_grid(images: np.ndarray, title: str, nrow: int = 8) -> Figure:
    """``(N, C, H, W)`` images in [-1, 1] as one grid (torchvision's make_grid)."""
    grid = make_grid(torch.as_tensor(images), nrow=nrow, padding=2, normalize=True,
                     value_range=(-1, 1), pad_value=1.0)
    fig, ax = plt.subplots(figsize=(6, 6.3))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def nearest_panel(samples: np.ndarray, nearest: np.ndarray, distances: np.ndarray,
                  title: str) -> Figure:
    """Generated images (top row) over their nearest training images (bottom row), each
    column titled with the RMS pixel distance between the two: copies show as twins."""
    n = len(samples)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.1), squeeze=False)
    for j in range(n):
        for row, img in enumerate((samples[j], nearest[j])):
            ax = axes[row, j]
            pix = np.clip((np.transpose(img, (1, 2, 0)) + 1.0) / 2.0, 0.0, 1.0)
            ax.imshow(pix[..., 0] if pix.shape[2] == 1 else pix, cmap="gray", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, j].set_title(f"{distances[j]:.3f}", fontsize=7)
    axes[0, 0].set_ylabel("generated", fontsize=8)
    axes[1, 0].set_ylabel("nearest train", fontsize=8)
    fig.suptitle(f"{title}: nearest training image (RMS pixel distance)", fontsize=9)
    fig.tight_layout()
    return fig


def curves(history: list[dict[str, float]], keys: list[str], title: str) -> Figure:
    """One panel per metric against the generator step."""
    keys = [k for k in keys if any(k in h for h in history)]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        pts = [(h["step"], h[key]) for h in history if key in h]
        ax.plot(*zip(*pts), marker=".")
        ax.set_xlabel("generator step")
        ax.set_title(key, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
