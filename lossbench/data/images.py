"""MNIST-format image sets (MNIST, Fashion-MNIST) and scikit-learn's bundled 8x8 digits.

Files are looked up where torchvision keeps them (``<data_dir>/<MNIST|FashionMNIST>/raw``, plain
or ``.gz`` IDX files) and, for Fashion-MNIST, where Debian's ``dataset-fashion-mnist`` puts them.
When the training split is missing and ``download`` is on, torchvision downloads it into
``data_dir``. With only the 10,000-image test split present (the offline MNIST copy), the
loader carves train/val/test out of it and says so in ``Images.source``.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from lossbench.data.errors import DataFileError, download_timeout, missing
from lossbench.data.files import record
from lossbench.data.tabular import Splits

log = logging.getLogger(__name__)

# name -> (torchvision class, extra folders searched for the IDX files)
IDX_SETS = {
    "mnist": ("MNIST", ()),
    "fashion_mnist": ("FashionMNIST", ("/usr/share/datasets/fashion-mnist",)),
}
HOW_TO_GET = {
    "mnist": "run once online with download=true (torchvision fetches it into <data_dir>/MNIST/raw)",
    "fashion_mnist": "apt-get install -y dataset-fashion-mnist (Debian), or run once online with "
                     "download=true (torchvision fetches it into <data_dir>/FashionMNIST/raw)",
}
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass
class Images:
    """uint8 images ``(N, H, W)`` with int64 labels, as two splits of the source."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzipped or not; a broken one is a
    :class:`DataFileError` naming the file (and, when cut short, the item and byte)."""
    opener = gzip.open if path.suffix == ".gz" else open
    record(path)
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataFileError(f"cannot read {path}: {type(e).__name__}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise DataFileError(f"{path} is not an IDX file (bad magic number at byte 0)")
    ndim, dtype = data[3], np.dtype(IDX_DTYPES[data[2]])
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DataFileError(f"{path}: the header is cut short ({len(data)} of {offset} bytes)")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - offset != expected:
        item = int(np.prod(shape[1:])) * dtype.itemsize or 1
        raise DataFileError(f"{path}: the header says shape {shape} ({expected} bytes of data), "
                            f"the file has {len(data) - offset}: it ends in item "
                            f"{(len(data) - offset) // item} at byte {len(data)}; fetch it again")
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)


def _find(dirs: list[Path], stem: str) -> Optional[Path]:
    for d in dirs:
        for name in (stem, stem + ".gz"):
            if (d / name).is_file():
                return d / name
    return None


def _split_files(dirs: list[Path], prefix: str) -> Optional[tuple[Path, Path]]:
    images = _find(dirs, f"{prefix}-images-idx3-ubyte")
    labels = _find(dirs, f"{prefix}-labels-idx1-ubyte")
    return (images, labels) if images and labels else None


def load_idx_images(dataset: str, data_dir: str, download: bool) -> Images:
    """MNIST or Fashion-MNIST from ``data_dir`` (downloading with torchvision if allowed)."""
    if dataset not in IDX_SETS:
        raise ValueError(f"dataset must be one of {sorted(IDX_SETS)}, got {dataset!r}")
    cls_name, extra = IDX_SETS[dataset]
    root = Path(data_dir).expanduser()
    dirs = [root / cls_name / "raw", *map(Path, extra)]
    train, test = _split_files(dirs, "train"), _split_files(dirs, "t10k")
    if train is None and download:
        import torchvision.datasets as tvd

        try:
            with download_timeout():
                for is_train in (True, False):
                    getattr(tvd, cls_name)(root=str(root), train=is_train, download=True)
        except Exception as e:  # unreachable host, checksum error ...
            if test is None:
                raise missing(f"{cls_name} IDX files", " and ".join(map(str, dirs)),
                              HOW_TO_GET[dataset], e) from e
            log.warning("could not download the %s training split (%s); using the test split",
                        cls_name, e)
        train, test = _split_files(dirs, "train"), _split_files(dirs, "t10k")
    if train is None and test is None:
        raise missing(f"{cls_name} IDX files (train-/t10k-images-idx3-ubyte[.gz])",
                      " and ".join(map(str, dirs)), HOW_TO_GET[dataset])
    if train is None:
        x, y = read_idx(test[0]), read_idx(test[1]).astype(np.int64)
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=1 / 6, random_state=0,
                                                  stratify=y)
        return Images(x_tr, y_tr, x_te, y_te, source=f"{cls_name} test split only ({test[0].parent})")
    x_tr, y_tr = read_idx(train[0]), read_idx(train[1]).astype(np.int64)
    x_te, y_te = read_idx(test[0]), read_idx(test[1]).astype(np.int64)
    return Images(x_tr, y_tr, x_te, y_te, source=f"{cls_name} ({train[0].parent})")


def load_digits_images() -> Images:
    """scikit-learn's bundled 8x8 digits (1,797 images, values 0-16), rescaled to 0-255."""
    bunch = load_digits()
    x = (bunch.images * (255.0 / 16.0)).round().astype(np.uint8)
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    return Images(x_tr, y_tr, x_te, y_te, source="sklearn digits (bundled)")


def load_images(dataset: str, data_dir: str, download: bool) -> Images:
    return load_digits_images() if dataset == "digits" else load_idx_images(dataset, data_dir,
                                                                             download)


def to_splits(images: Images, val_fraction: float, seed: int, max_train: Optional[int]) -> Splits:
    """Float ``(N, 1, H, W)`` splits, normalized with the training pixels' mean and std.

    Validation is drawn (stratified, by ``seed``) from the source's training split; the
    source's test split stays the test split. ``max_train`` subsamples training images
    (None: all of them).
    """
    x_tr, x_va, y_tr, y_va = train_test_split(images.x_train, images.y_train,
                                              test_size=val_fraction, random_state=seed,
                                              stratify=images.y_train)
    if max_train is not None and max_train < len(y_tr):
        x_tr, _, y_tr, _ = train_test_split(x_tr, y_tr, train_size=max_train,
                                            random_state=seed, stratify=y_tr)
    mean, std = float(x_tr.mean()), float(x_tr.std())

    def prep(x: np.ndarray) -> np.ndarray:
        return ((x.astype(np.float32) - mean) / std)[:, None, :, :]

    return Splits(prep(x_tr), y_tr, prep(x_va), y_va, prep(images.x_test), images.y_test,
                  info={"source": images.source, "pixel_mean": mean, "pixel_std": std})
