"""Statistics for the case-study report: a t-interval over seeds and a paired comparison.

The verdict rule (``paired_verdict``), with ``diff = paired loss - alternative`` per seed:

* supported      the paired loss is better (diff < 0 for a "min" metric, > 0 for "max")
                 and the paired t-test gives p < alpha
* not supported  the paired loss is worse and p < alpha
* inconclusive   otherwise (p >= alpha, fewer than 2 pairs, or every diff identical)

The effect size is Cohen's d_z = mean(diff) / sd(diff) (sd with n - 1), signed like diff.
No multiple-comparison correction: each alternative is its own question.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
MODES = ("min", "max")


@dataclass(frozen=True)
class Interval:
    """Mean over seeds with a two-sided t confidence interval (NaN bounds for n < 2)."""

    n: int
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class PairedComparison:
    """The paired loss against one alternative, runs paired by seed."""

    n: int
    mean_diff: float  # paired - alternative, in the metric's units
    d_z: float        # Cohen's d_z, same sign as mean_diff
    p_value: float    # two-sided paired t-test (scipy.stats.ttest_rel)
    verdict: str


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """``mean ± t_{(1+c)/2, n-1} * sd / sqrt(n)``."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = float(x.mean())
    if x.size < 2:
        return Interval(1, mean, math.nan, math.nan)
    half = float(stats.t.ppf((1 + confidence) / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return Interval(int(x.size), mean, mean - half, mean + half)


def cohens_dz(diff: Sequence[float]) -> float:
    """Mean paired difference over its standard deviation; NaN when undefined."""
    d = np.asarray(diff, dtype=float)
    if d.size < 2:
        return math.nan
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return math.nan if d.mean() == 0 else math.copysign(math.inf, float(d.mean()))
    return float(d.mean() / sd)


def paired_verdict(paired: Sequence[float], alternative: Sequence[float], mode: str,
                   alpha: float = 0.05) -> PairedComparison:
    """Compare per-seed values of the paired loss with the alternative's (same order).

    ``mode`` is the headline's direction: ``min`` (lower is better) or ``max``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    a, b = np.asarray(paired, dtype=float), np.asarray(alternative, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    n = int(a.size)
    if n == 0:
        return PairedComparison(0, math.nan, math.nan, math.nan, INCONCLUSIVE)
    diff = a - b
    mean_diff = float(diff.mean())
    if n < 2 or float(diff.std(ddof=1)) == 0.0:
        return PairedComparison(n, mean_diff, cohens_dz(diff), math.nan, INCONCLUSIVE)
    p = float(stats.ttest_rel(a, b).pvalue)
    better = mean_diff < 0 if mode == "min" else mean_diff > 0
    if p < alpha:
        verdict = SUPPORTED if better else NOT_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    return PairedComparison(n, mean_diff, cohens_dz(diff), p, verdict)


def overall_verdict(verdicts: Sequence[str]) -> str:
    """A claim against several alternatives: not supported if any comparison says so,
    supported if every one does, inconclusive otherwise (or when there is none)."""
    if not verdicts:
        return INCONCLUSIVE
    if NOT_SUPPORTED in verdicts:
        return NOT_SUPPORTED
    if all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    return INCONCLUSIVE
