"""Verification data: images with identity labels, and the pairs protocol on top of them.

* Olivetti faces (40 people x 10 images, 64x64) through scikit-learn's fetcher, cross-validated
  BY IDENTITY (:func:`identity_folds`): the people are split into ``folds`` folds, fold
  ``fold``'s people are the test set, validation people are drawn from the others; test and
  validation people never appear in training, so test metrics measure verification of unseen
  people, and the ``folds`` runs of one seed test every person once.
* LFW pairs (View 1 of "Labeled Faces in the Wild") through scikit-learn's
  ``fetch_lfw_pairs``: fixed pairs with a same / different label and no identity labels, so
  the model trains on pairs drawn from the official training pairs (no triplets), validates
  on a ``val_fraction`` of them and is tested on the official test pairs (people disjoint from
  training in LFW's protocol).
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
from sklearn.datasets import fetch_lfw_pairs, fetch_olivetti_faces

from lossbench.data.errors import fetch_sklearn
from lossbench.data.images import load_images, to_splits
from lossbench.tasks.pairs.sampler import PairSampler
from lossbench.data.tabular import Splits

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
    # fixed training pairs (indices into the training split, 1/0 same) to draw from instead of
    # sampling by identity: data sets that come as pairs, without identity labels (LFW pairs)
    train_pairs: Optional[tuple[np.ndarray, np.ndarray]] = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The splits' arrays and the fixed evaluation pairs (see ``Splits.arrays``)."""
        fixed = {f"{name}_{part}": a for part, pair in self.eval_pairs.items()
                 for name, a in zip(("pairs", "same"), pair)}
        return {**self.splits.arrays(), **fixed}


def identity_folds(labels: np.ndarray, folds: int, fold: int, val_fraction: float,
                   seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of train, val and test for fold ``fold`` of ``folds``-fold cross-validation
    by identity.

    The identities are shuffled by ``seed`` and cut into ``folds`` folds of (nearly) equal
    size; fold ``fold`` is the test set, ``round(val_fraction * rest)`` of the remaining
    identities (at least one), drawn by ``seed``, the validation set, the others train. No
    identity is in two splits, and the ``folds`` folds of one seed test every identity once.
    """
    if not 0 <= fold < folds:
        raise ValueError(f"fold must be in 0..{folds - 1}, got {fold}")
    ids = np.unique(labels)
    if len(ids) < folds:
        raise ValueError(f"{folds} folds need at least {folds} identities, got {len(ids)}")
    rng = np.random.default_rng(seed)
    parts = np.array_split(rng.permutation(ids), folds)
    test = parts[fold]
    rest = np.concatenate([p for k, p in enumerate(parts) if k != fold])
    n_val = min(max(1, int(round(val_fraction * len(rest)))), len(rest) - 1)
    val = rng.choice(rest, size=n_val, replace=False)
    train = np.setdiff1d(rest, val)
    return tuple(np.flatnonzero(np.isin(labels, part)) for part in (train, val, test))


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


def _pool(x: np.ndarray, size: int) -> np.ndarray:
    """Average-pool ``(N, H, W)`` images by the integer factor ``H // size``."""
    f = x.shape[1] // size
    return x.reshape(len(x), size, f, size, f).mean(axis=(2, 4))


def olivetti(data_dir: str, download: bool, *, split_seed: int, folds: int, fold: int,
             val_fraction: float, image_size: int, positive_fraction: float,
             pairs_per_epoch: int, eval_pairs: int) -> PairData:
    """Olivetti (AT&T) faces, fold ``fold`` of ``folds`` by identity (:func:`identity_folds`);
    images average-pooled to ``image_size``."""
    bunch = fetch_sklearn(fetch_olivetti_faces, data_dir, download, "Olivetti faces",
                          "olivetti_py3.pkz")
    x, y = _pool(bunch.images, image_size), bunch.target.astype(np.int64)  # (400, 64, 64)
    parts = identity_folds(y, folds, fold, val_fraction, split_seed)
    return pair_data(normalized_splits(x, y, parts), positive_fraction=positive_fraction,
                     pairs_per_epoch=pairs_per_epoch, eval_pairs=eval_pairs,
                     split_seed=split_seed,
                     info={"dataset": "olivetti", "image_size": image_size, "folds": folds,
                           "fold": fold, "identities_disjoint": True})


def lfw_pairs(data_dir: str, download: bool, *, split_seed: int, val_fraction: float,
              image_size: int, positive_fraction: float, pairs_per_epoch: int,
              eval_pairs: int) -> PairData:
    """LFW View 1 pairs (2,200 training and 1,000 test pairs, half of them same-person),
    grey, cropped and halved by scikit-learn to 62x47, centre-cropped square and resized to
    ``image_size``.

    Validation is ``val_fraction`` of the training pairs (drawn by ``split_seed``); the test
    pairs are LFW's. ``eval_pairs`` caps the validation and test pairs kept (drawn once);
    ``positive_fraction`` is unused (LFW fixes its pairs, half of them positive).
    """
    del positive_fraction
    subsets = {}
    for subset in ("train", "test"):
        subsets[subset] = fetch_sklearn(
            lambda **kw: fetch_lfw_pairs(subset=subset, resize=0.5, **kw),
            data_dir, download, f"LFW pairs ({subset})",
            "lfw_home/ (lfw_funneled/, pairsDevTrain.txt, pairsDevTest.txt)")
    rng = np.random.default_rng(split_seed)
    train_pairs, train_same = subsets["train"].pairs, subsets["train"].target.astype(np.int64)
    order = rng.permutation(len(train_same))
    n_val = int(round(val_fraction * len(order)))
    chosen = {"train": order[n_val:], "val": order[:n_val][:eval_pairs],
              "test": rng.permutation(len(subsets["test"].target))[:eval_pairs]}
    pairs = {"train": train_pairs, "val": train_pairs, "test": subsets["test"].pairs}
    same = {"train": train_same, "val": train_same,
            "test": subsets["test"].target.astype(np.int64)}
    images, idx, labels = {}, {}, {}
    for part, rows in chosen.items():
        p = pairs[part][rows]  # (n, 2, H, W)
        images[part] = _square(p.reshape(-1, *p.shape[2:]), image_size)
        idx[part] = np.arange(2 * len(rows)).reshape(-1, 2)
        labels[part] = same[part][rows]
    mean, std = float(images["train"].mean()), float(images["train"].std())

    def prep(x: np.ndarray) -> np.ndarray:
        return ((x.astype(np.float32) - mean) / std)[:, None, :, :]

    # no identity labels: each image is its own "identity" label (unused for sampling)
    splits = Splits(*(a for part in ("train", "val", "test")
                      for a in (prep(images[part]), np.arange(len(images[part])))),
                    info={"pixel_mean": mean, "pixel_std": std})
    info = {"dataset": "lfw_pairs", "image_size": image_size,
            "identities_disjoint": "test only (validation pairs come from LFW's training pairs)"}
    for part in ("train", *EVAL_PARTS):
        info[f"n_{part}"], info[f"pairs_{part}"] = len(images[part]), len(labels[part])
    return PairData(splits, {part: (idx[part], labels[part]) for part in EVAL_PARTS},
                    0.5, pairs_per_epoch, info, train_pairs=(idx["train"], labels["train"]))


def _square(x: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop ``(N, H, W)`` images to a square and resize it to ``size`` (bilinear)."""
    import torch
    import torch.nn.functional as F

    h, w = x.shape[1:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = torch.as_tensor(np.ascontiguousarray(x[:, top:top + side, left:left + side]),
                           dtype=torch.float32)
    return F.interpolate(crop[:, None], size=(size, size), mode="bilinear",
                         align_corners=False)[:, 0].numpy()


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
