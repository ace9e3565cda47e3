"""Train/validation/test splits of a table, standardized with training statistics only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


@dataclass
class Splits:
    """Arrays of one data set, already split and preprocessed.

    ``y_*`` are what the model is trained and evaluated against; for regression with a
    standardized target, ``target_scaler`` maps them back to the data set's units.
    ``references`` holds, for a synthetic data set, known functions of ``x`` per split
    (split -> name -> one value per row, in the target's units, e.g. the true conditional
    median); the task scores its predictions against each (``dist_<name>``).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    target_scaler: Optional[StandardScaler] = None
    info: dict = field(default_factory=dict)
    references: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays a model sees, by name (``x_<split>`` rows are the split's size); every
        data object offers this and ``info`` (MLflow's dataset digest and context)."""
        return {f"{xy}_{part}": getattr(self, f"{xy}_{part}")
                for part in ("train", "val", "test") for xy in ("x", "y")}


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int,
                  stratify: Optional[np.ndarray] = None) -> tuple[np.ndarray, ...]:
    """Indices of train, val and test, fixed by ``seed`` (stratified when labels are given)."""
    idx = np.arange(n)
    rest, test = train_test_split(idx, test_size=test_fraction, random_state=seed,
                                  stratify=stratify)
    val_of_rest = val_fraction / (1.0 - test_fraction)
    train, val = train_test_split(rest, test_size=val_of_rest, random_state=seed + 1,
                                  stratify=None if stratify is None else stratify[rest])
    return train, val, test


def make_splits(x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float,
                seed: int, stratify: bool = False, standardize: bool = True,
                max_train: Optional[int] = None) -> Splits:
    """Split ``x, y`` and standardize features with the training split's mean and std
    (``standardize=False``: raw features). ``max_train`` keeps the first ``max_train`` rows of
    the (already shuffled) training split, before the scaler is fitted; validation and test
    are the same as without it."""
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    tr, va, te = split_indices(len(x), val_fraction, test_fraction, seed,
                               stratify=y if stratify else None)
    if max_train is not None:
        tr = tr[:max_train]
    f32 = np.float32
    if not standardize:
        return Splits(x_train=x[tr].astype(f32), y_train=y[tr], x_val=x[va].astype(f32),
                      y_val=y[va], x_test=x[te].astype(f32), y_test=y[te])
    scaler = StandardScaler().fit(x[tr])
    return Splits(
        x_train=scaler.transform(x[tr]).astype(f32), y_train=y[tr],
        x_val=scaler.transform(x[va]).astype(f32), y_val=y[va],
        x_test=scaler.transform(x[te]).astype(f32), y_test=y[te],
    )
