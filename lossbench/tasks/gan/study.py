"""What the GAN study (claim C8: Wasserstein training collapses less and trains more smoothly
than JS-based GAN training) draws from its runs, for ``lossbench report`` (the collapse rates
and Fisher's exact test are indicator statistics: :func:`lossbench.stats.indicator_rate`,
:func:`lossbench.stats.indicator_test`).

* :func:`w1_bands`: per loss and generator step, the median and interquartile range of W1
  over seeds (the ``w1`` metric history of each run); :func:`w1_band_figure` draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def w1_bands(histories: Mapping[str, Sequence[Sequence[tuple[float, float]]]]
             ) -> dict[str, dict[str, np.ndarray]]:
    """``{loss: [run's [(step, w1), ...], ...]}`` -> ``{loss: {step, median, q25, q75, runs}}``
    over the steps every run of that loss logged (runs of one study share the schedule)."""
    out = {}
    for loss, runs in histories.items():
        per_run = [dict(run) for run in runs]
        steps = sorted(set.intersection(*(set(r) for r in per_run)))
        values = np.array([[r[s] for s in steps] for r in per_run])  # (runs, steps)
        q25, median, q75 = np.percentile(values, [25, 50, 75], axis=0)
        out[loss] = {"step": np.asarray(steps, dtype=float), "median": median, "q25": q25,
                     "q75": q75, "runs": np.full(len(steps), len(per_run))}
    return out


def w1_band_figure(bands: Mapping[str, Mapping[str, np.ndarray]], title: str,
                   floor: float | None = None) -> Figure:
    """Median W1 against generator steps, one line per loss, its interquartile band shaded;
    ``floor``: W1 between two real samples (a dashed line)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for loss, b in bands.items():
        (line,) = ax.plot(b["step"], b["median"], marker=".", label=f"{loss} ({int(b['runs'][0])})")
        ax.fill_between(b["step"], b["q25"], b["q75"], color=line.get_color(), alpha=0.2)
    if floor is not None:
        ax.axhline(floor, color="0.4", ls="--", lw=1, label="real vs real")
    ax.set_yscale("log")
    ax.set_xlabel("generator step")
    ax.set_ylabel("W1 (median, IQR over seeds)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
