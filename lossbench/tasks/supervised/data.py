"""The supervised task's data sets.

Regression: California housing (house price, power-load stand-in), diabetes, and a synthetic
1-d function with right-skewed noise whose conditional median and mean are known
(:func:`skewed_noise`).

The power-load scenario's "extreme weather" is simulated by :func:`inject_outliers`: a fraction
of the TRAINING targets is multiplied by a random factor; validation and test stay clean, so
metrics say how well each loss recovers the clean relationship.

Classification: Spambase, breast cancer (tables); MNIST-format images; and the imbalanced
"cancer screening" task, one image class against the rest at a chosen positive rate. Tables
can have a share of their TRAINING labels flipped (:func:`flip_labels`, ``data.label_noise``).
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Optional

import numpy as np
from sklearn.datasets import fetch_california_housing, load_breast_cancer, load_diabetes
from sklearn.preprocessing import StandardScaler

from lossbench.data.errors import DataFileError, download_timeout, fetch_sklearn, missing
from lossbench.data.files import record
from lossbench.data.images import load_images, to_splits
from lossbench.data.tabular import Splits, make_splits
from lossbench.schema import ConfigError


def inject_outliers(y: np.ndarray, fraction: float, scale_min: float, scale_max: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Multiply ``round(fraction * len(y))`` randomly chosen targets by U(scale_min, scale_max).

    Returns the corrupted copy and the indices that were changed.
    """
    rng = np.random.default_rng(seed)
    k = int(round(fraction * len(y)))
    idx = rng.choice(len(y), size=k, replace=False)
    out = np.array(y, dtype=np.float32, copy=True)
    out[idx] *= rng.uniform(scale_min, scale_max, size=k).astype(np.float32)
    return out, np.sort(idx)


def _finish(x: np.ndarray, y: np.ndarray, *, val_fraction: float, test_fraction: float,
            split_seed: int, standardize_target: bool, outlier_fraction: float,
            outlier_scale_min: float, outlier_scale_max: float, name: str,
            standardize_features: bool = True, max_train: Optional[int] = None) -> Splits:
    s = make_splits(x.astype(np.float32), y.astype(np.float32), val_fraction, test_fraction,
                    split_seed, standardize=standardize_features, max_train=max_train)
    s.info = {"dataset": name, "n_train": len(s.y_train), "n_val": len(s.y_val),
              "n_test": len(s.y_test), "n_outliers": 0}
    if outlier_fraction > 0:
        s.y_train, idx = inject_outliers(s.y_train, outlier_fraction, outlier_scale_min,
                                         outlier_scale_max, seed=split_seed + 7919)
        s.info["n_outliers"] = len(idx)
    if standardize_target:
        # statistics of the (possibly corrupted) training targets only, as a practitioner sees them
        s.target_scaler = StandardScaler().fit(s.y_train.reshape(-1, 1))
        for part in ("train", "val", "test"):
            y_part = getattr(s, f"y_{part}").reshape(-1, 1)
            setattr(s, f"y_{part}", s.target_scaler.transform(y_part).ravel().astype(np.float32))
    return s


def california(data_dir: str, download: bool, **kw) -> Splits:
    """California housing (20,640 block groups; target: median value in $100k)."""
    bunch = fetch_sklearn(fetch_california_housing, data_dir, download, "California housing",
                          "cal_housing_py3.pkz")
    return _finish(bunch.data, bunch.target, name="california_housing", **kw)


SKEWED_X = (-3.0, 3.0)  # the synthetic regression's input range


def skewed_center(x: np.ndarray) -> np.ndarray:
    """The synthetic regression's known function: sin(x) + 0.3 x (its conditional median)."""
    return np.sin(x) + 0.3 * x


def skewed_scale(x: np.ndarray, noise_scale: float) -> np.ndarray:
    """Noise scale at ``x``: ``noise_scale / 2`` at x = -3 rising linearly to ``noise_scale``
    at x = 3 (heteroscedastic, so mean and median differ by more than a constant)."""
    return noise_scale * (0.75 + np.asarray(x) / 12.0)


def skewed_truth(x: np.ndarray, noise_sigma: float, noise_scale: float
                 ) -> dict[str, np.ndarray]:
    """The conditional median and mean of y given x for y = f(x) + s(x) (exp(sigma Z) - 1),
    Z ~ N(0, 1): exp(sigma Z) is log-normal with median 1 and mean exp(sigma^2 / 2), so the
    median is f(x) and the mean f(x) + s(x) (exp(sigma^2 / 2) - 1)."""
    center = skewed_center(x)
    gap = skewed_scale(x, noise_scale) * np.expm1(noise_sigma ** 2 / 2)
    return {"median": center, "mean": center + gap}


def skewed_noise(data_dir: str, download: bool, *, n_train: int, n_val: int, n_test: int,
                 noise_sigma: float, noise_scale: float, split_seed: int) -> Splits:
    """y = f(x) + s(x) (exp(noise_sigma Z) - 1) with f, s of :func:`skewed_center` and
    :func:`skewed_scale`: right-skewed noise with median 0, so MAE's optimum (the conditional
    median, f) and MSE's (the conditional mean, above it) differ. Training and validation x are
    uniform on [-3, 3], the test x a regular grid; every draw comes from ``split_seed``. The
    validation and test splits carry the true median and mean as ``references`` (the task
    scores its fit against both; validation's is what ``lossbench tune`` optimises); features
    are standardized with training statistics."""
    del data_dir, download  # generated, nothing to read
    rng = np.random.default_rng(split_seed)

    def draw(x: np.ndarray) -> np.ndarray:
        z = rng.standard_normal(len(x))
        return skewed_center(x) + skewed_scale(x, noise_scale) * np.expm1(noise_sigma * z)

    x_train = rng.uniform(*SKEWED_X, size=n_train)
    y_train = draw(x_train)
    x_val = rng.uniform(*SKEWED_X, size=n_val)
    y_val = draw(x_val)
    x_test = np.linspace(*SKEWED_X, n_test)
    y_test = draw(x_test)
    scaler = StandardScaler().fit(x_train.reshape(-1, 1))
    f32 = np.float32

    def feat(x: np.ndarray) -> np.ndarray:
        return scaler.transform(x.reshape(-1, 1)).astype(f32)

    s = Splits(feat(x_train), y_train.astype(f32), feat(x_val), y_val.astype(f32),
               feat(x_test), y_test.astype(f32))
    s.references = {part: {k: v.astype(f32) for k, v in
                           skewed_truth(x, noise_sigma, noise_scale).items()}
                    for part, x in (("val", x_val), ("test", x_test))}
    s.info = {"dataset": "skewed_noise", "n_train": n_train, "n_val": n_val, "n_test": n_test,
              "n_outliers": 0}
    return s


def diabetes(data_dir: str, download: bool, **kw) -> Splits:
    """scikit-learn's bundled diabetes table (442 patients): needs no download."""
    del data_dir, download  # bundled with scikit-learn
    x, y = load_diabetes(return_X_y=True)
    return _finish(x, y, name="diabetes", **kw)


SPAMBASE_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/spambase/spambase.data"


def subsample_positives(x: np.ndarray, y: np.ndarray, rate: float,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Keep every negative and just enough positives that they make ``rate`` of the rows."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    k = int(round(rate / (1.0 - rate) * len(neg)))
    if k > len(pos):
        raise ValueError(f"positive_rate={rate} needs {k} positives, the split has {len(pos)}")
    keep = np.sort(np.concatenate([neg, rng.choice(pos, size=k, replace=False)]))
    return x[keep], y[keep]


def flip_labels(y: np.ndarray, share: float, num_classes: int, seed: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Give ``round(share * len(y))`` randomly chosen labels another class: binary labels are
    flipped (0 <-> 1), a multi-class label moves to one of the other classes uniformly.

    Returns the noisy copy and the sorted indices that were changed.
    """
    rng = np.random.default_rng(seed)
    k = int(round(share * len(y)))
    idx = np.sort(rng.choice(len(y), size=k, replace=False))
    out = np.array(y, copy=True)
    out[idx] = (out[idx] + rng.integers(1, num_classes, size=k)) % num_classes
    return out, idx


def _table(x: np.ndarray, y: np.ndarray, name: str, *, val_fraction: float,
           test_fraction: float, split_seed: int, num_classes: int,
           positive_rate: Optional[float], train_positive_rate: Optional[float],
           label_noise: float, stratify: bool = True) -> Splits:
    """Stratified, standardized splits of a labelled table, positives at ``positive_rate``
    (every split) or ``train_positive_rate`` (the training split only); a ``label_noise``
    share of the training labels flipped (validation and test stay clean)."""
    s = make_splits(x, y, val_fraction, test_fraction, split_seed, stratify=stratify)
    s.info = {"dataset": name}
    s = _at_rate(s, positive_rate, split_seed)
    if train_positive_rate is not None:
        s = _train_at_rate(s, train_positive_rate, split_seed)
    s = check_classes(s, num_classes)
    if label_noise > 0:
        s.y_train, idx = flip_labels(s.y_train, label_noise, num_classes,
                                     seed=split_seed + 104729)
        s.info["n_flipped"] = len(idx)
    return s


def check_classes(s: Splits, num_classes: int) -> Splits:
    """Return ``s`` if its labels are the classes ``0 .. num_classes - 1``.

    ``data.num_classes`` is the data set's class count as the config declares it: the task
    sizes the model's head and checks the loss against it before any data loads; this is where
    the declaration meets the labels.
    """
    found = 1 + max(int(s.split(part)[1].max()) for part in ("train", "val", "test"))
    if found != num_classes:
        name = s.info.get("dataset", s.info.get("source", "the data set"))
        raise ConfigError(f"data.num_classes: must be {found} (the classes of {name}), "
                          f"got {num_classes}")
    return s


def _at_rate(s: Splits, rate: Optional[float], seed: int) -> Splits:
    """Subsample the positives of every split to the same ``rate``."""
    if rate is not None:
        rng = np.random.default_rng(seed)
        for part in ("train", "val", "test"):
            x, y = subsample_positives(*s.split(part), rate, rng)
            setattr(s, f"x_{part}", x)
            setattr(s, f"y_{part}", y)
    s.info |= {f"n_{p}": len(s.split(p)[1]) for p in ("train", "val", "test")}
    s.info |= {f"positives_{p}": int(s.split(p)[1].sum()) for p in ("train", "val", "test")}
    return s


def _train_at_rate(s: Splits, rate: float, seed: int) -> Splits:
    """Subsample the training split's positives to ``rate``; validation and test keep theirs.
    Its own generator (``seed + 104729``), so the other splits' draws stay as they were."""
    s.x_train, s.y_train = subsample_positives(s.x_train, s.y_train, rate,
                                               np.random.default_rng(seed + 104729))
    s.info |= {"n_train": len(s.y_train), "positives_train": int(s.y_train.sum())}
    return s


def synthetic_classes(data_dir: str, download: bool, *, n_samples: int, n_features: int,
                      noise: float, val_fraction: float, test_fraction: float,
                      split_seed: int, num_classes: int, positive_rate: Optional[float],
                      train_positive_rate: Optional[float], label_noise: float) -> Splits:
    """``n_samples`` points in ``num_classes`` Gaussian classes (standard normal centres in
    ``n_features`` dimensions, spread ``noise``), labels dealt round-robin so every class
    appears; drawn from ``split_seed``, split unstratified (a class may have one member)."""
    del data_dir, download  # generated
    rng = np.random.default_rng(split_seed)
    y = rng.permutation(np.arange(n_samples) % num_classes).astype(np.int64)
    centres = rng.standard_normal((num_classes, n_features))
    x = centres[y] + noise * rng.standard_normal((n_samples, n_features))
    return _table(x.astype(np.float32), y, f"synthetic {num_classes} classes",
                  val_fraction=val_fraction, test_fraction=test_fraction,
                  split_seed=split_seed, num_classes=num_classes, positive_rate=positive_rate,
                  train_positive_rate=train_positive_rate, label_noise=label_noise,
                  stratify=False)


def first_bad_cell(path: Path, columns: int) -> str:
    """Where a numeric CSV first breaks: line and column (both from 1), and why."""
    with open(path, errors="replace") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            cells = line.rstrip("\n").split(",")
            if len(cells) != columns:
                return f"line {line_no} has {len(cells)} columns, expected {columns} (a cut line?)"
            for col, cell in enumerate(cells, 1):
                try:
                    float(cell)
                except ValueError:
                    return f"line {line_no}, column {col}: {cell.strip()[:40]!r} is not a number"
    return ""


def spambase(data_dir: str, download: bool, *, val_fraction: float, test_fraction: float,
             split_seed: int, num_classes: int, positive_rate: Optional[float],
             train_positive_rate: Optional[float], label_noise: float) -> Splits:
    """UCI Spambase: 4,601 e-mails, 57 features, label 1 = spam (39.4 %). Stratified splits."""
    path = Path(data_dir).expanduser() / "spambase" / "spambase.data"
    if not path.is_file() and download:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with download_timeout():
                urllib.request.urlretrieve(SPAMBASE_URL, path)
        except Exception as e:
            path.unlink(missing_ok=True)
            raise missing("Spambase (spambase/spambase.data)", str(path.parent),
                          f"download {SPAMBASE_URL} into that folder.", e) from e
    if not path.is_file():
        raise missing("Spambase (spambase/spambase.data)", str(path.parent),
                      f"download {SPAMBASE_URL} into that folder, or run with download=true.")
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise DataFileError(f"cannot parse {path}: {first_bad_cell(path, 58) or e}") from None
    if table.shape[1] != 58:
        raise DataFileError(f"cannot parse {path}: {first_bad_cell(path, 58)}")
    record(path)
    return _table(table[:, :-1], table[:, -1].astype(np.int64), "spambase",
                  val_fraction=val_fraction, test_fraction=test_fraction, split_seed=split_seed,
                  num_classes=num_classes, positive_rate=positive_rate,
                  train_positive_rate=train_positive_rate, label_noise=label_noise)


def breast_cancer(data_dir: str, download: bool, *, val_fraction: float, test_fraction: float,
                  split_seed: int, num_classes: int, positive_rate: Optional[float],
                  train_positive_rate: Optional[float], label_noise: float) -> Splits:
    """scikit-learn's bundled Wisconsin breast-cancer table; label 1 = malignant."""
    del data_dir, download  # bundled with scikit-learn
    x, y = load_breast_cancer(return_X_y=True)
    malignant = (y == 0).astype(np.int64)  # scikit-learn codes malignant as 0
    return _table(x, malignant, "breast_cancer", val_fraction=val_fraction,
                  test_fraction=test_fraction, split_seed=split_seed, num_classes=num_classes,
                  positive_rate=positive_rate, train_positive_rate=train_positive_rate,
                  label_noise=label_noise)


def images(data_dir: str, download: bool, *, dataset: str, val_fraction: float,
           split_seed: int, num_classes: int, max_train: Optional[int]) -> Splits:
    """MNIST, Fashion-MNIST or the bundled 8x8 digits as ``(N, 1, H, W)`` float splits."""
    s = to_splits(load_images(dataset, data_dir, download), val_fraction, split_seed, max_train)
    return check_classes(s, num_classes)


def imbalanced_images(data_dir: str, download: bool, *, dataset: str, val_fraction: float,
                      split_seed: int, positive_class: int, positive_rate: float,
                      num_classes: int, max_train: Optional[int]) -> Splits:
    """``positive_class`` against the rest, positives at ``positive_rate`` in train, val and
    test alike (the "cancer screening" stand-in built from real images)."""
    src = load_images(dataset, data_dir, download)
    src.y_train = (src.y_train == positive_class).astype(np.int64)
    src.y_test = (src.y_test == positive_class).astype(np.int64)
    s = to_splits(src, val_fraction, split_seed, max_train)
    s.info |= {"dataset": f"{dataset} class {positive_class} vs rest"}
    return check_classes(_at_rate(s, positive_rate, split_seed), num_classes)
