"""Verification data: images with identity labels, and the pairs protocol on top of them.

* Olivetti faces (40 people x 10 images, 64x64) through scikit-learn's fetcher, split BY
  IDENTITY: the people of the validation and test splits never appear in training, so test
  metrics measure verification of unseen people.
* MNIST / Fashion-MNIST (or the bundled 8x8 digits) as pairs of same / different class, on the
  usual image splits (:func:`lossbench.data.images.to_splits`). With 10 classes an identity
  split would leave a handful of classes per split, so here the test images are new but their
  classes are not: these are pairs of seen classes, not unseen identities.

Validation and test pairs are drawn once (from ``split_seed``) and stay fixed across epochs and
losses; training pairs are drawn by the task each epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from sklearn.datasets import fetch_olivetti_faces

from lossbench.data.errors import fetch_sklearn
from lossbench.data.images import load_images, to_splits
from lossbench.tasks.pairs.sampler import PairSampler
from lossbench.data.tabular import Splits, split_indices

EVAL_PARTS = ("val", "test")


@dataclass
class PairData:
    """Float images ``(N, 1, H, W)`` with int64 identity labels per split (``splits``), fixed
    evaluation pairs per split (indices ``(n, 2)`` into that split, and 1/0 ``same``), and how
    training pairs are drawn."""

    splits: Splits
    eval_pairs: dict[str, tuple[np.ndarray, np.ndarray]]
    positive_fraction: float
    pairs_per_epoch: int
    info: dict = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """The splits' arrays and the fixed evaluation pairs (see ``Splits.arrays``)."""
        fixed = {f"{name}_{part}": a for part, pair in self.eval_pairs.items()
                 for name, a in zip(("pairs", "same"), pair)}
        return {**self.splits.arrays(), **fixed}


def identity_split(labels: np.ndarray, val_fraction: float, test_fraction: float,
                   seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of train, val and test such that no identity is in two splits."""
    ids = np.unique(labels)
    tr, va, te = split_indices(len(ids), val_fraction, test_fraction, seed)
    return tuple(np.flatnonzero(np.isin(labels, ids[part])) for part in (tr, va, te))


def normalized_splits(x: np.ndarray, y: np.ndarray, parts: tuple[np.ndarray, ...]) -> Splits:
    """``(N, H, W)`` images -> float ``(N, 1, H, W)`` splits, standardized with the training
    pixels' mean and std."""
    tr, va, te = parts
    mean, std = float(x[tr].mean()), float(x[tr].std())

    def prep(rows: np.ndarray) -> np.ndarray:
        return ((x[rows].astype(np.float32) - mean) / std)[:, None, :, :]

    return Splits(prep(tr), y[tr], prep(va), y[va], prep(te), y[te],
                  info={"pixel_mean": mean, "pixel_std": std})


def pair_data(splits: Splits, *, positive_fraction: float, pairs_per_epoch: int,
              eval_pairs: int, split_seed: int, info: Optional[dict] = None) -> PairData:
    """Add the verification protocol (fixed, balanced val/test pairs) to identity splits."""
    fixed = {}
    for k, part in enumerate(EVAL_PARTS):
        _, y = splits.split(part)
        fixed[part] = PairSampler(y, seed=split_seed + 1000 * (k + 1)).pairs(eval_pairs,
                                                                             positive_fraction)
    info = {**splits.info, **(info or {})}
    for part in ("train", *EVAL_PARTS):
        _, y = splits.split(part)
        info[f"n_{part}"], info[f"identities_{part}"] = len(y), len(np.unique(y))
    return PairData(splits, fixed, positive_fraction, pairs_per_epoch, info)


def olivetti(data_dir: str, download: bool, *, split_seed: int, val_fraction: float,
             test_fraction: float, image_size: int, positive_fraction: float,
             pairs_per_epoch: int, eval_pairs: int) -> PairData:
    """Olivetti (AT&T) faces, split by identity; images average-pooled to ``image_size``."""
    bunch = fetch_sklearn(fetch_olivetti_faces, data_dir, download, "Olivetti faces",
                          "olivetti_py3.pkz")
    x, y = bunch.images, bunch.target.astype(np.int64)  # (400, 64, 64) in [0, 1]
    f = x.shape[1] // image_size
    x = x.reshape(len(x), image_size, f, image_size, f).mean(axis=(2, 4))
    parts = identity_split(y, val_fraction, test_fraction, split_seed)
    return pair_data(normalized_splits(x, y, parts), positive_fraction=positive_fraction,
                     pairs_per_epoch=pairs_per_epoch, eval_pairs=eval_pairs,
                     split_seed=split_seed,
                     info={"dataset": "olivetti", "image_size": image_size,
                           "identities_disjoint": True})


def mnist_pairs(data_dir: str, download: bool, *, dataset: str, split_seed: int,
                val_fraction: float, max_train: Optional[int], positive_fraction: float,
                pairs_per_epoch: int, eval_pairs: int) -> PairData:
    """MNIST-format images as same / different class pairs, on the usual image splits."""
    images = load_images(dataset, data_dir, download)
    splits = to_splits(images, val_fraction, split_seed, max_train)
    return pair_data(splits, positive_fraction=positive_fraction,
                     pairs_per_epoch=pairs_per_epoch, eval_pairs=eval_pairs,
                     split_seed=split_seed,
                     info={"dataset": dataset, "identities_disjoint": False})
