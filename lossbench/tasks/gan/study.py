"""What the GAN study (claim C8: Wasserstein training collapses less and trains more smoothly
than JS-based GAN training) computes from its runs; pure functions for ``lossbench report``.

* :func:`collapse_rate`: per loss, the runs that collapsed (``final_collapsed`` = 1, see
  :func:`lossbench.tasks.gan.metrics.mode_collapse`) out of all, with the exact
  (Clopper-Pearson) 95 % interval of the rate.
* :func:`collapse_test`: Fisher's exact test on the 2x2 table (collapsed / not, loss A / B),
  one-sided by default: H1 is that A collapses *less often* than B. Unpaired: a seed does not
  pair two losses' runs in any way the collapse depends on, and the test stays exact at 30 runs.
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
from scipy import stats  # noqa: E402


def collapse_rate(collapsed: Sequence[float]) -> dict[str, float]:
    """``collapsed`` (count), ``runs``, ``rate`` and its exact 95 % interval ``ci_low``,
    ``ci_high`` from the runs' 0/1 ``final_collapsed``."""
    values = np.asarray(collapsed, dtype=float)
    if len(values) == 0 or not np.isin(values, (0.0, 1.0)).all():
        raise ValueError(f"need 0/1 collapse indicators, got {values.tolist()}")
    k, n = int(values.sum()), len(values)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return {"collapsed": float(k), "runs": float(n), "rate": k / n,
            "ci_low": float(ci.low), "ci_high": float(ci.high)}


def collapse_test(a: Sequence[float], b: Sequence[float],
                  alternative: str = "less") -> dict[str, float]:
    """Fisher's exact test of the collapse indicators of loss A against loss B.

    ``alternative="less"``: H1 is that A's odds of collapsing are lower than B's (the claim's
    direction when A is the Wasserstein loss, B the standard GAN); ``"two-sided"`` as usual.
    Returns the rates, their difference (A - B), the sample odds ratio and the p-value.
    """
    ra, rb = collapse_rate(a), collapse_rate(b)
    table = [[ra["collapsed"], ra["runs"] - ra["collapsed"]],
             [rb["collapsed"], rb["runs"] - rb["collapsed"]]]
    res = stats.fisher_exact(np.asarray(table, dtype=int), alternative=alternative)
    return {"rate_a": ra["rate"], "rate_b": rb["rate"], "rate_diff": ra["rate"] - rb["rate"],
            "odds_ratio": float(res.statistic), "p": float(res.pvalue)}


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
