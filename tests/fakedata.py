"""Small stand-ins for the real data sets, written in the real formats."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np


def write_idx(path: Path, arr: np.ndarray) -> None:
    """Write ``arr`` (uint8) as a gzipped IDX file, MNIST's format."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def fake_mnist(root: Path, folder: str = "FashionMNIST", n_train: int = 600, n_test: int = 200,
               splits: tuple[str, ...] = ("train", "t10k")) -> None:
    """Learnable 28x28 images: class c lights up a 4-pixel-wide band at row 2c, plus noise."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        if prefix not in splits:
            continue
        y = np.arange(n) % 10
        x = rng.integers(0, 60, size=(n, 28, 28))
        for i, c in enumerate(y):
            x[i, 2 * c + 4: 2 * c + 8, 4:24] = 250
        raw = root / folder / "raw"
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", y)


def fake_spambase(root: Path, n: int = 300) -> None:
    """A Spambase-shaped CSV (57 features + 0/1 label, 40 % positives), separable-ish."""
    rng = np.random.default_rng(0)
    y = (np.arange(n) % 5 < 2).astype(int)
    x = rng.random((n, 57)) + y[:, None] * 0.5
    path = root / "spambase" / "spambase.data"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", fmt="%.4f")


def fake_faces(people: int = 12, per_person: int = 5, nuisance: int = 0, seed: int = 0):
    """Olivetti-shaped 64x64 faces (``fetch_olivetti_faces``'s Bunch): one random pattern per
    person, plus noise. ``nuisance`` > 0 adds that many shared random patterns with per-image
    N(0, 1) weights: they outweigh identity in pixel distance, so an untrained embedding network
    barely tells people apart (test ROC-AUC ~0.65) and a trained one must learn to ignore them."""
    from sklearn.utils import Bunch

    rng = np.random.default_rng(seed)
    n = people * per_person
    if nuisance:
        identity = np.repeat(rng.random((people, 64, 64)) - 0.5, per_person, axis=0)
        patterns = rng.random((nuisance, 64, 64)) - 0.5
        images = identity + np.einsum("ij,jhw->ihw", rng.normal(size=(n, nuisance)), patterns)
    else:
        images = (np.repeat(rng.random((people, 64, 64)), per_person, axis=0)
                  + 0.3 * rng.random((n, 64, 64))) / 1.3
    return Bunch(images=images.astype(np.float32), target=np.repeat(np.arange(people), per_person))
