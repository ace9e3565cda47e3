"""Diagnostics of a run, logged as ``final_*`` metrics by :func:`lossbench.runner.run_epochs`
with ``trainer.diagnostics=true`` (supervised kinds).

**Roughness** of a curve ``c_1 .. c_T`` (positive values: a loss, an RMSE):

    roughness = (sum_t |log c_{t+1} - log c_t| - |log c_T - log c_1|) / (T - 1)

the mean epoch-to-epoch change of ``log c`` beyond the curve's net change: 0 for a monotone
curve however fast it falls; every excursion up by a factor ``r`` and back adds
``2 log r / (T - 1)``. Logs make it scale-free (a curve at 0.3 and one at 3 wiggling by the
same percentage are equally rough). NaN with fewer than two points or a value <= 0.

**Gap**: ``final_gap_<m> = final_test_<m> - final_train_<m>``, both scored at the end on the
restored weights, in the metric's units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def roughness(values: Sequence[float]) -> float:
    """The curve's roughness (module docstring)."""
    c = np.asarray(values, dtype=float)
    if c.size < 2 or not np.all(np.isfinite(c)) or np.any(c <= 0):
        return math.nan
    logs = np.log(c)
    path = float(np.abs(np.diff(logs)).sum())
    return (path - abs(logs[-1] - logs[0])) / (c.size - 1)


def curve_metrics(history: Sequence[dict[str, float]], names: Sequence[str]
                  ) -> dict[str, float]:
    """``final_roughness_<name>`` of each per-epoch metric ``name`` in ``history``."""
    out = {}
    for name in dict.fromkeys(names):
        values = [h[name] for h in history if name in h]
        if values:
            out[f"final_roughness_{name}"] = roughness(values)
    return out


def gaps(final: dict[str, float]) -> dict[str, float]:
    """``final_gap_<m>``: ``final_test_<m> - final_train_<m>`` for each metric scored on both."""
    return {f"final_gap_{k[len('final_train_'):]}": final[f"final_test_{k[len('final_train_'):]}"]
            - v for k, v in final.items()
            if k.startswith("final_train_") and f"final_test_{k[len('final_train_'):]}" in final}
