"""Regression data sets: California housing (house price, power-load stand-in) and diabetes.

The power-load scenario's "extreme weather" is simulated by :func:`inject_outliers`: a fraction
of the TRAINING targets is multiplied by a random factor; validation and test stay clean, so
metrics say how well each loss recovers the clean relationship.
"""

from __future__ import annotations


import numpy as np
from sklearn.datasets import fetch_california_housing, load_diabetes
from sklearn.preprocessing import StandardScaler

from lossbench.data.errors import fetch_sklearn
from lossbench.data.tabular import Splits, make_splits


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
            outlier_scale_min: float, outlier_scale_max: float, name: str) -> Splits:
    s = make_splits(x.astype(np.float32), y.astype(np.float32), val_fraction, test_fraction,
                    split_seed)
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


def california(data_dir: str = "~/lossbench_data", download: bool = True, **kw) -> Splits:
    """California housing (20,640 block groups; target: median value in $100k)."""
    bunch = fetch_sklearn(fetch_california_housing, data_dir, download, "California housing",
                          "cal_housing_py3.pkz")
    return _finish(bunch.data, bunch.target, name="california_housing", **kw)


def diabetes(data_dir: str = "", download: bool = False, **kw) -> Splits:
    """scikit-learn's bundled diabetes table (442 patients): needs no download."""
    del data_dir, download  # bundled with scikit-learn
    x, y = load_diabetes(return_X_y=True)
    return _finish(x, y, name="diabetes", **kw)
