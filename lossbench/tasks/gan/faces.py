"""Faces for a generator, pixels in [-1, 1] (a tanh generator's range), ``(N, C, S, S)``.

* ``olivetti``: the 400 Olivetti (AT&T) faces, 40 people x 10 grey 64x64 images, from
  scikit-learn's cache in the data dir (``<data_dir>/scikit_learn_data/olivetti_py3.pkz``),
  average-pooled to ``image_size`` (32 or 64). ``n_eval`` images, drawn at random from
  ``split_seed``, are held out of training: the Frechet distance compares generated faces with
  them, and their distance to the nearest training face is what an unmemorised face scores
  (``nn_train_distance_real``). Labels are the 40 identities (the feature classifier's task).
* ``celeba``: CelebA through ``torchvision.datasets.CelebA`` (``<data_dir>/celeba``; download
  when allowed): the aligned colour faces centre-cropped to 178x178 and resized to
  ``image_size``; the first ``max_images`` of its train split for training, ``n_eval`` of its
  test split held out. Labels: ``2 * Male + Smiling`` (4 classes) for the feature classifier.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import fetch_olivetti_faces

from lossbench.data.errors import download_timeout, fetch_sklearn, missing
from lossbench.tasks.gan.data import GanData

CELEBA_CROP = 178


def pool(x: np.ndarray, size: int) -> np.ndarray:
    """Average-pool square ``(N, H, H)`` images to ``(N, size, size)`` (``H`` a multiple)."""
    f = x.shape[1] // size
    if f * size != x.shape[1]:
        raise ValueError(f"image_size {size} does not divide the {x.shape[1]}-pixel images")
    return x.reshape(len(x), size, f, size, f).mean(axis=(2, 4))


def olivetti(image_size: int, n_eval: int, split_seed: int, data_dir: str,
             download: bool) -> GanData:
    bunch = fetch_sklearn(fetch_olivetti_faces, data_dir, download, "Olivetti faces",
                          "olivetti_py3.pkz")
    x = pool(np.asarray(bunch.images, dtype=np.float32), image_size)  # [0, 1]
    x = (2.0 * x - 1.0).astype(np.float32)[:, None]
    y = np.asarray(bunch.target, dtype=np.int64)
    rng = np.random.default_rng(split_seed)
    held = np.zeros(len(y), dtype=bool)
    held[rng.choice(len(y), size=min(n_eval, len(y) // 2), replace=False)] = True
    return GanData("images", x[~held], x[held], y_train=y[~held], y_eval=y[held],
                   info={"source": "Olivetti faces (scikit-learn cache)", "dataset": "olivetti",
                         "image_size": image_size, "n_train": int((~held).sum()),
                         "n_eval": int(held.sum())})


def celeba(image_size: int, n_eval: int, max_images: int, data_dir: str,
           download: bool) -> GanData:
    from torchvision import datasets, transforms  # only CelebA needs torchvision's datasets

    tf = transforms.Compose([transforms.CenterCrop(CELEBA_CROP), transforms.Resize(image_size),
                             transforms.ToTensor()])
    root = str(Path(data_dir).expanduser())
    try:
        with download_timeout():
            parts = {s: datasets.CelebA(root, split=s, target_type="attr", transform=tf,
                                        download=download) for s in ("train", "test")}
    except Exception as e:  # RuntimeError when absent, network errors when offline
        raise missing("CelebA", f"{root}/celeba",
                      "run once online with download=true (torchvision fetches img_align_celeba.zip "
                      "and the attribute lists from Google Drive, about 1.4 GB), or put them in "
                      "that folder.", e if download else None) from e

    def take(ds, n: int) -> tuple[np.ndarray, np.ndarray]:
        male, smiling = ds.attr_names.index("Male"), ds.attr_names.index("Smiling")
        xs, ys = [], []
        for i in range(min(n, len(ds))):
            img, attr = ds[i]
            xs.append(img.numpy() * 2.0 - 1.0)
            ys.append(2 * int(attr[male]) + int(attr[smiling]))
        return np.stack(xs).astype(np.float32), np.asarray(ys, dtype=np.int64)

    x_train, y_train = take(parts["train"], max_images)
    x_eval, y_eval = take(parts["test"], n_eval)
    return GanData("images", x_train, x_eval, y_train=y_train, y_eval=y_eval,
                   info={"source": "CelebA (torchvision)", "dataset": "celeba",
                         "image_size": image_size, "n_train": len(y_train),
                         "n_eval": len(y_eval)})


def faces(dataset: str, image_size: int, n_eval: int, max_images: int, split_seed: int,
          data_dir: str, download: bool) -> GanData:
    """Training faces and ``n_eval`` held-out ones (see the module docstring)."""
    if dataset == "olivetti":
        return olivetti(image_size, n_eval, split_seed, data_dir, download)
    if dataset == "celeba":
        return celeba(image_size, n_eval, max_images, data_dir, download)
    raise ValueError(f"dataset must be olivetti or celeba, got {dataset!r}")
