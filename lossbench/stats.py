"""Statistics for the case-study report: a t-interval over seeds and a paired comparison.

The verdict rule (``paired_verdict``), with ``diff = paired loss - alternative`` per seed:

* supported      the paired loss is better (diff < 0 for a "min" metric, > 0 for "max")
                 and the paired t-test gives p < alpha
* not supported  the paired loss is worse and p < alpha
* inconclusive   otherwise (p >= alpha, fewer than 2 pairs, or every diff identical)

The effect size is Cohen's d_z = mean(diff) / sd(diff) (sd with n - 1), signed like diff.
No multiple-comparison correction: each alternative is its own question.

Typed claims (issue 16), on per-seed paired differences d = guide - alternative, each with
its rule in its docstring: :func:`superiority`, :func:`non_inferiority`, :func:`equivalence`
(verdicts supported / refuted / inconclusive, one-sided tests at alpha, read off the
(1 - 2 alpha) t-interval), :func:`holm` and :func:`claim_verdict` (a claim against several
alternatives, Holm-adjusted), :func:`bootstrap_ci` (BCa), :func:`prob_improvement`
(rliable's), :func:`paired_power` / :func:`seeds_needed`, and a group-sequential "seeds until
decided" design, :func:`sequential_boundaries` / :func:`sequential_decision`; for a 0/1
headline per run, :func:`indicator_rate` (exact interval) and :func:`indicator_test` (Fisher).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize, stats

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


# =========================================================================== typed claims
# Everything below works on per-seed paired differences ``d_i = guide_i - alternative_i`` in
# the headline's units. Internally they are turned into *gains* ``g_i`` that are positive when
# the guide is better: ``g = -d`` for a "min" headline, ``g = d`` for "max".

REFUTED = "refuted"
CONTINUE = "continue"
CLAIM_TYPES = ("superiority", "non_inferiority", "equivalence")


@dataclass(frozen=True)
class ClaimTest:
    """One typed claim about the guide's loss against one alternative.

    ``mean_diff``, ``ci_low`` and ``ci_high`` are in the units of ``d = guide - alternative``
    (not oriented); the interval is the two-sided t-interval at ``ci_level = 1 - 2 alpha``,
    the interval whose one-sided bounds are the tests used, so each verdict can be read off
    it. ``p_value`` is the p-value of the test *for* the claim, ``p_refute`` of the test
    *against* it; ``p_adjusted``/``p_refute_adjusted`` are filled by :func:`holm_adjust`.
    ``cohens_dz`` is signed like ``mean_diff``; ``oriented_dz`` is positive when the guide
    is better.
    """

    claim_type: str
    mode: str
    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    ci_level: float
    p_value: float
    p_refute: float
    verdict: str
    margin: float
    alpha: float
    cohens_dz: float
    p_adjusted: float | None = None
    p_refute_adjusted: float | None = None
    reason: str = ""

    @property
    def oriented_dz(self) -> float:
        return self.cohens_dz if self.mode == "max" else -self.cohens_dz


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def paired_differences(guide: Sequence[float], alternative: Sequence[float]) -> np.ndarray:
    """``guide_i - alternative_i`` for values listed in the same seed order."""
    a, b = np.asarray(guide, dtype=float), np.asarray(alternative, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples differ in length: {a.size} vs {b.size}")
    return a - b


def _gains(diffs: Sequence[float], mode: str) -> np.ndarray:
    _check_mode(mode)
    d = np.asarray(diffs, dtype=float)
    if d.ndim != 1:
        raise ValueError("differences must be one-dimensional")
    if not np.all(np.isfinite(d)):
        raise ValueError("differences must be finite")
    return -d if mode == "min" else d


def one_sided_t_pvalue(x: Sequence[float], mu0: float, alternative: str) -> float:
    """p-value of the one-sample t-test of H0: mean <= mu0 (``alternative="greater"``) or
    H0: mean >= mu0 (``"less"``), as ``scipy.stats.ttest_1samp``.

    Zero-variance samples (every value identical, ``c``), where the t statistic is 0/0 or
    ±inf, are read as exact: p = 0 when ``c`` lies strictly on the alternative's side of
    ``mu0``, p = 1 otherwise (including ``c == mu0``: no evidence either way). Needs n >= 2.
    """
    v = np.asarray(x, dtype=float)
    if v.size < 2:
        raise ValueError("a t-test needs at least two values")
    if alternative not in ("greater", "less"):
        raise ValueError(f"alternative must be 'greater' or 'less', got {alternative!r}")
    if np.ptp(v) == 0.0:
        c = float(v[0])
        return 0.0 if (c > mu0 if alternative == "greater" else c < mu0) else 1.0
    return float(stats.ttest_1samp(v, mu0, alternative=alternative).pvalue)


def _t_interval(d: np.ndarray, level: float) -> tuple[float, float]:
    if np.ptp(d) == 0.0:
        return float(d[0]), float(d[0])
    half = float(stats.t.ppf((1 + level) / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size))
    m = float(d.mean())
    return m - half, m + half


def _claim(claim_type: str, diffs: Sequence[float], mode: str, margin: float, alpha: float,
           tests: tuple[tuple[float, str], ...], refutes: tuple[tuple[float, str], ...]
           ) -> ClaimTest:
    """Shared body: ``tests`` (all must reject: p = max) and ``refutes`` (any may reject:
    p = min) are (null value on the gain scale, alternative) pairs."""
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    g = _gains(diffs, mode)
    d = np.asarray(diffs, dtype=float)
    n = int(d.size)
    level = 1 - 2 * alpha
    if n < 2:
        mean = float(d.mean()) if n else math.nan
        return ClaimTest(claim_type, mode, n, mean, math.nan, math.nan, level, math.nan,
                         math.nan, INCONCLUSIVE, margin, alpha, math.nan,
                         reason=f"{n} paired seed(s): a t-test needs at least 2")
    p = max(one_sided_t_pvalue(g, mu0, alt) for mu0, alt in tests)
    p_ref = min(one_sided_t_pvalue(g, mu0, alt) for mu0, alt in refutes)
    lo, hi = _t_interval(d, level)
    reason = "every paired difference is identical: read as exact" if np.ptp(d) == 0 else ""
    dz = 0.0 if not np.any(d) else cohens_dz(d)  # identical runs: no effect, not 0/0
    return ClaimTest(claim_type, mode, n, float(d.mean()), lo, hi, level, p, p_ref,
                     _judge(p, p_ref, alpha), margin, alpha, dz, reason=reason)


def _judge(p: float, p_refute: float, alpha: float) -> str:
    if p < alpha:
        return SUPPORTED
    if p_refute < alpha:
        return REFUTED
    return INCONCLUSIVE


def _check_margin(margin: float) -> float:
    m = float(margin)
    if not (math.isfinite(m) and m > 0):
        raise ValueError(f"margin must be a positive number in headline units, got {margin!r}")
    return m


def superiority(diffs: Sequence[float], mode: str, alpha: float = 0.05) -> ClaimTest:
    """The guide's loss is better than the alternative.

    Rule, on gains g (> 0 when the guide is better): one-sided paired t-test
    H0: mean(g) <= 0 vs H1: mean(g) > 0; **supported** if p < alpha; **refuted** if the
    test in the opposite direction (H0: mean(g) >= 0, i.e. the alternative is significantly
    better) has p < alpha; **inconclusive** otherwise or with fewer than 2 seeds.
    Equivalently: supported when the (1 - 2 alpha) t-interval of d lies entirely on the
    guide's better side of 0, refuted when entirely on the other side.
    All-identical differences are exact: d = c != 0 decides at p = 0, d = 0 gives p = 1.
    """
    return _claim("superiority", diffs, mode, 0.0, alpha, ((0.0, "greater"),), ((0.0, "less"),))


def non_inferiority(diffs: Sequence[float], mode: str, margin: float,
                    alpha: float = 0.05) -> ClaimTest:
    """The guide's loss is not worse than the alternative by more than ``margin`` (> 0,
    headline units).

    Rule, on gains g: shifted one-sided t-test H0: mean(g) <= -margin vs
    H1: mean(g) > -margin; **supported** if p < alpha; **refuted** if the guide is
    significantly worse by more than the margin (H0: mean(g) >= -margin rejected, p < alpha);
    **inconclusive** otherwise. Equivalently: supported when the (1 - 2 alpha) interval of
    the gain lies above -margin, refuted when it lies below.
    """
    m = _check_margin(margin)
    return _claim("non_inferiority", diffs, mode, m, alpha, ((-m, "greater"),), ((-m, "less"),))


def equivalence(diffs: Sequence[float], margin: float, mode: str = "min",
                alpha: float = 0.05) -> ClaimTest:
    """The guide's loss and the alternative differ by less than ``margin`` (> 0) either way.

    Rule: TOST, two one-sided t-tests H0: mean(d) <= -margin and H0: mean(d) >= margin,
    p = the larger of the two; **supported** if p < alpha, i.e. the (1 - 2 alpha) t-interval
    lies inside (-margin, margin); **refuted** if the difference is significantly outside
    the margin, i.e. that interval lies entirely above margin or entirely below -margin
    (p_refute = the smaller of the two one-sided p-values for mean(d) > margin and
    mean(d) < -margin; its size is alpha at the edge, plus the probability, negligible for
    margin > 0, of the other side); **inconclusive** otherwise. ``mode`` is only recorded:
    the claim is symmetric. All-zero differences with margin > 0 are supported at p = 0.
    """
    m = _check_margin(margin)
    return _claim("equivalence", diffs, mode, m, alpha, ((-m, "greater"), (m, "less")),
                  ((m, "greater"), (-m, "less")))


def claim_test(diffs: Sequence[float], mode: str, claim_type: str = "superiority",
               margin: float = 0.0, alpha: float = 0.05) -> ClaimTest:
    """Dispatch to :func:`superiority`, :func:`non_inferiority` or :func:`equivalence`
    (``margin`` is ignored for superiority)."""
    if claim_type == "superiority":
        return superiority(diffs, mode, alpha)
    if claim_type == "non_inferiority":
        return non_inferiority(diffs, mode, margin, alpha)
    if claim_type == "equivalence":
        return equivalence(diffs, margin, mode, alpha)
    raise ValueError(f"claim_type must be one of {CLAIM_TYPES}, got {claim_type!r}")


# =========================================================================== multiplicity
def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (as statsmodels' ``multipletests(method="holm")``).

    With the m p-values sorted, p_(1) <= ... <= p_(m):
    ``adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))``, returned in the input order.
    Rejecting where ``adj < alpha`` controls the family-wise error rate at alpha under any
    dependence. NaN entries (no test possible) stay NaN and do not count towards m.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    if np.any((q < 0) | (q > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    order = np.argsort(q, kind="stable")
    steps = np.minimum(1.0, np.maximum.accumulate((q.size - np.arange(q.size)) * q[order]))
    adj = np.empty(q.size)
    adj[order] = steps
    out[ok] = adj
    return out


@dataclass(frozen=True)
class ClaimVerdict:
    """The overall verdict of a claim judged against several alternatives, with each
    comparison carrying its Holm-adjusted p-values and adjusted verdict."""

    verdict: str
    comparisons: tuple[ClaimTest, ...]


def holm_adjust(comparisons: Sequence[ClaimTest], alpha: float = 0.05) -> list[ClaimTest]:
    """Holm over the family: the ``p_value``s are adjusted together, and so are the
    ``p_refute``s; each comparison's verdict is re-judged on the adjusted values at
    ``alpha`` (supported if p_adjusted < alpha, refuted if p_refute_adjusted < alpha).
    Intervals are left unadjusted."""
    pa = holm([c.p_value for c in comparisons])
    ra = holm([c.p_refute for c in comparisons])
    out = []
    for c, p, r in zip(comparisons, pa, ra):
        verdict = INCONCLUSIVE if math.isnan(p) else _judge(float(p), float(r), alpha)
        out.append(replace(c, p_adjusted=float(p), p_refute_adjusted=float(r), verdict=verdict))
    return out


def claim_verdict(comparisons: Sequence[ClaimTest], alpha: float = 0.05) -> ClaimVerdict:
    """A claim that must hold against every named alternative.

    Rule: Holm-adjust the family (:func:`holm_adjust`); the claim is **supported** only if
    every adjusted comparison is supported, **refuted** if any adjusted comparison is
    refuted, **inconclusive** otherwise (also with no comparison, or one without a test).
    Holm on the refutations is what keeps "refuted" at family-wise level alpha; for
    "supported" (an intersection-union claim) unadjusted tests would already be valid, so
    Holm there is conservative, bought for per-comparison statements that also hold
    family-wise.
    """
    adjusted = holm_adjust(comparisons, alpha)
    verdicts = [c.verdict for c in adjusted]
    if not verdicts:
        verdict = INCONCLUSIVE
    elif REFUTED in verdicts:
        verdict = REFUTED
    elif all(v == SUPPORTED for v in verdicts):
        verdict = SUPPORTED
    else:
        verdict = INCONCLUSIVE
    return ClaimVerdict(verdict, tuple(adjusted))


# =========================================================================== bootstrap, P(improve)
def bootstrap_ci(diffs: Sequence[float], level: float = 0.95, seed: int = 0,
                 n_resamples: int = 9999) -> Interval:
    """BCa bootstrap interval of the mean paired difference (``scipy.stats.bootstrap``,
    ``method="BCa"``, seeded so the same input gives the same interval).

    Zero-variance input returns the constant as both bounds (the bootstrap distribution is
    a point); fewer than 2 values give NaN bounds; no values raise ``ValueError``.
    """
    d = np.asarray(diffs, dtype=float)
    if d.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    mean = float(d.mean())
    if d.size < 2:
        return Interval(int(d.size), mean, math.nan, math.nan)
    if np.ptp(d) == 0.0:
        return Interval(int(d.size), mean, float(d[0]), float(d[0]))
    seeding = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
    res = stats.bootstrap((d,), np.mean, n_resamples=n_resamples, confidence_level=level,
                          method="BCa", vectorized=True,
                          **{seeding: np.random.default_rng(seed)})
    ci = res.confidence_interval
    return Interval(int(d.size), mean, float(ci.low), float(ci.high))


def prob_improvement(guide: Sequence[float], alternative: Sequence[float], mode: str) -> float:
    """rliable's probability of improvement, P(X better than Y) + 0.5 P(X = Y), over every
    pair of a guide seed value X and an alternative seed value Y (not paired by seed).

    "Better" is X < Y for ``mode="min"`` and X > Y for "max". Equals the Mann-Whitney U of
    the (oriented) guide sample divided by n * m. 0.5 means no tendency either way.
    """
    _check_mode(mode)
    x, y = np.asarray(guide, dtype=float), np.asarray(alternative, dtype=float)
    if x.size == 0 or y.size == 0:
        raise ValueError("prob_improvement needs values on both sides")
    diff = x[:, None] - y[None, :]
    if mode == "min":
        diff = -diff
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


# =========================================================================== power
def paired_power(effect_dz: float, n: int, alpha: float = 0.05,
                 claim_type: str = "superiority", margin_dz: float = 0.0) -> float:
    """Power of the one-sided paired t-test (level alpha) with ``n`` seeds when the true
    standardized gain is ``effect_dz`` (mean / sd of the differences, positive = guide
    better; for a "min" headline that is ``-cohens_dz``), normal differences.

    * superiority: P(T >= t_{1-alpha, n-1}), T ~ noncentral t(n-1, effect_dz sqrt(n)).
    * non_inferiority: as superiority with the shifted effect ``effect_dz + margin_dz``.
    * equivalence (TOST, margin ``margin_dz`` in sd units, true difference ``effect_dz``):
      exact, P(-m + t s / sqrt(n) <= mean <= m - t s / sqrt(n)) integrated over the
      chi distribution of the sample sd s (Owen's formula; 256-point Gauss-Legendre
      quadrature over the chi-square quantiles, within 1e-6 of adaptive quadrature).
    """
    if n < 2:
        return 0.0
    df = n - 1
    tc = float(stats.t.isf(alpha, df))
    if claim_type == "superiority":
        return float(stats.nct.sf(tc, df, effect_dz * math.sqrt(n)))
    if claim_type == "non_inferiority":
        return float(stats.nct.sf(tc, df, (effect_dz + margin_dz) * math.sqrt(n)))
    if claim_type != "equivalence":
        raise ValueError(f"claim_type must be one of {CLAIM_TYPES}, got {claim_type!r}")
    if margin_dz <= 0:
        raise ValueError("equivalence needs margin_dz > 0")
    rn = math.sqrt(n)
    u_max = float(stats.chi2.cdf(df * (rn * margin_dz / tc) ** 2, df))  # P(s < m sqrt(n) / t)
    if u_max <= 0:
        return 0.0
    x, w = np.polynomial.legendre.leggauss(256)  # Gauss-Legendre over chi2 quantiles
    u, w = (x + 1) * u_max / 2, w * u_max / 2
    s = np.sqrt(stats.chi2.ppf(u, df) / df)
    inside = (stats.norm.cdf(rn * (margin_dz - effect_dz) - tc * s)
              - stats.norm.cdf(rn * (-margin_dz - effect_dz) + tc * s))
    return float(w @ np.clip(inside, 0.0, None))


def seeds_needed(effect_dz: float, alpha: float = 0.05, power: float = 0.8,
                 claim_type: str = "superiority", margin_dz: float = 0.0,
                 max_n: int = 10_000) -> int | None:
    """The smallest number of paired seeds n (>= 2) with ``paired_power(...) >= power``.

    ``effect_dz`` is the standardized true gain (positive = guide better; plug in the
    observed ``ClaimTest.oriented_dz`` for "the seeds a replication needs at this effect",
    or 0 for equivalence when the losses are believed equal). None when the target is
    unreachable within ``max_n``: no positive (shifted) effect, |effect| >= margin for
    equivalence, or too small an effect. Power increases with n, so the search doubles n
    and then bisects.
    """
    if claim_type == "superiority" and not effect_dz > 0:
        return None
    if claim_type == "non_inferiority" and not effect_dz + margin_dz > 0:
        return None
    if claim_type == "equivalence" and not abs(effect_dz) < margin_dz:
        return None

    def enough(n: int) -> bool:
        return paired_power(effect_dz, n, alpha, claim_type, margin_dz) >= power

    hi = 2
    while not enough(hi):
        if hi >= max_n:
            return None
        hi = min(2 * hi, max_n)
    lo = hi // 2  # enough(hi), not enough(lo) (or lo < 2)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return max(hi, 2)


# =========================================================================== sequential
def obf_spending(t: float | np.ndarray, alpha: float = 0.05) -> float | np.ndarray:
    """Lan-DeMets O'Brien-Fleming-type one-sided alpha-spending function,
    ``alpha(t) = 2 - 2 Phi(z_{1 - alpha/2} / sqrt(t))`` for information fraction t in (0, 1];
    alpha(1) = alpha. Spends almost nothing early and most of alpha near the end."""
    tt = np.asarray(t, dtype=float)
    out = 2 * stats.norm.sf(stats.norm.isf(alpha / 2) / np.sqrt(tt))
    return float(out) if out.ndim == 0 else out


def _check_looks(looks: Sequence[int], smallest: int = 2) -> np.ndarray:
    n = np.asarray(looks)
    if n.ndim != 1 or n.size == 0 or not np.issubdtype(n.dtype, np.integer):
        raise ValueError("looks must be a non-empty sequence of seed counts (integers)")
    if n[0] < smallest or np.any(np.diff(n) <= 0):
        raise ValueError(f"looks must increase strictly from >= {smallest}, got {looks}")
    return n.astype(int)


@dataclass(frozen=True)
class SequentialBoundaries:
    """Per planned look k (``looks[k]`` seeds): the cumulative alpha spent by then, the
    nominal one-sided level ``nominal[k]`` (this look's share of alpha) and the critical
    one-sided t value ``t[k] = t_{looks[k]-1}^{-1}(1 - nominal[k])``."""

    looks: tuple[int, ...]
    alpha: float
    spent: tuple[float, ...]
    nominal: tuple[float, ...]
    t: tuple[float, ...]


def sequential_boundaries(looks: Sequence[int], alpha: float = 0.05) -> SequentialBoundaries:
    """One-sided group-sequential t boundaries with O'Brien-Fleming-type (Lan-DeMets)
    alpha spending over planned looks at n_1 < ... < n_K = N_max seeds.

    Look k spends ``alpha(n_k / N_max) - alpha(n_{k-1} / N_max)`` (:func:`obf_spending`)
    and tests at exactly that nominal one-sided level with the exact t quantile for
    n_k - 1 degrees of freedom. Why this is valid: under H0 each look's t statistic has an
    exact t distribution (normal differences), so P(any false crossing) <= sum of the
    nominal levels = alpha by the union bound, whatever the dependence between looks and
    whatever the unknown variance. It is conservative (about 0.022 for alpha = 0.05 at
    looks 5, 10, ..., 50). The classical exact boundaries (:func:`lan_demets_z_boundaries`)
    are exact only for known variance; converting them to t quantiles at the same nominal
    levels (Jennison & Turnbull's significance-level approach) measured 0.052 > alpha in
    simulation at those looks, which is why it is not used. Looks may be unequally spaced;
    take a look only at its planned seed count.
    """
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    n = _check_looks(looks)
    spent = np.asarray(obf_spending(n / n[-1], alpha), dtype=float).reshape(-1)
    nominal = np.diff(np.concatenate([[0.0], spent]))
    t = stats.t.isf(nominal, n - 1)
    return SequentialBoundaries(tuple(int(k) for k in n), alpha, tuple(map(float, spent)),
                                tuple(map(float, nominal)), tuple(map(float, t)))


def lan_demets_z_boundaries(looks: Sequence[int], alpha: float = 0.05) -> np.ndarray:
    """Exact one-sided Lan-DeMets O'Brien-Fleming z boundaries c_1..c_K for a normal score
    process with *known* variance: P(Z_1 < c_1, ..., Z_{k-1} < c_{k-1}, Z_k >= c_k) equals
    the spending increment at look k, with corr(Z_j, Z_k) = sqrt(n_j / n_k).

    Computed by the numerical recursion of Armitage, McPherson & Rowe (1969) on the score
    scale (sub-density of the continuing paths on a grid, trapezoid rule), each c_k by
    root-finding. ``looks`` are information units (seed counts, or 1..K for equal spacing).
    Reference only: :func:`sequential_boundaries` is what the decisions use.
    """
    n = _check_looks(looks, smallest=1)
    t = n / n[-1]
    spent = np.asarray(obf_spending(t, alpha), dtype=float).reshape(-1)
    inc = np.diff(np.concatenate([[0.0], spent]))
    sig = np.sqrt(np.diff(np.concatenate([[0.0], t])))
    h = float(sig.min()) / 24
    low = -10.0
    c = [float(stats.norm.isf(inc[0]))]

    def grid(b: float) -> tuple[np.ndarray, np.ndarray]:
        m = int(math.ceil((b - low) / h))
        u = np.linspace(b - m * h, b, m + 1)
        w = np.full(u.size, h)
        w[0] = w[-1] = h / 2
        return u, w

    u, w = grid(c[0] * math.sqrt(t[0]))
    f = stats.norm.pdf(u, scale=math.sqrt(t[0]))
    for k in range(1, n.size):
        wf = w * f

        def excess(ck: float, k: int = k, wf: np.ndarray = wf, u: np.ndarray = u) -> float:
            ex = float(np.dot(wf, stats.norm.sf((ck * math.sqrt(t[k]) - u) / sig[k])))
            return math.log(max(ex, 1e-300)) - math.log(inc[k])

        c.append(float(optimize.brentq(excess, -5.0, float(stats.norm.isf(inc[k])),
                                       xtol=1e-10)))
        if k < n.size - 1:
            v, w = grid(c[k] * math.sqrt(t[k]))
            f = (stats.norm.pdf((v[:, None] - u[None, :]) / sig[k]) / sig[k]) @ wf
            u = v
    return np.array(c)


@dataclass(frozen=True)
class SequentialDecision:
    """The decision at one look: ``verdict`` is continue, supported, refuted or (at the
    last planned look without a crossing) inconclusive."""

    look_index: int
    n: int
    t_stat: float
    boundary: float
    verdict: str


def _t_stats(g: np.ndarray, shift: float) -> np.ndarray:
    """Row-wise t statistics of mean(g) + shift against 0; zero-variance rows give ±inf
    (or 0 when the mean is exactly -shift), never NaN."""
    n = g.shape[-1]
    mean = g.mean(axis=-1) + shift
    sd = g.std(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / (sd / math.sqrt(n))
    exact = np.ptp(g, axis=-1) == 0
    return np.where(exact, np.sign(mean) * np.where(mean == 0, 0.0, np.inf), t)


def sequential_decisions(diffs: np.ndarray, looks: Sequence[int], mode: str,
                         alpha: float = 0.05, margin: float = 0.0
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Run the rule of :func:`sequential_decision` over many studies at once.

    ``diffs`` has shape (studies, >= N_max) with each study's paired differences in seed
    order. Returns (verdicts, seeds used): the verdict at the first look that crosses
    (supported or refuted), else inconclusive after the last look with N_max seeds used.
    """
    b = sequential_boundaries(looks, alpha)
    d = np.asarray(diffs, dtype=float)
    if d.ndim != 2 or d.shape[1] < b.looks[-1]:
        raise ValueError("diffs must have shape (studies, >= last look)")
    _check_mode(mode)
    g = -d if mode == "min" else d
    verdict = np.full(d.shape[0], INCONCLUSIVE, dtype=object)
    used = np.full(d.shape[0], b.looks[-1])
    open_ = np.ones(d.shape[0], dtype=bool)
    for n, crit in zip(b.looks, b.t):
        t = _t_stats(g[:, :n], margin)
        up, down = open_ & (t >= crit), open_ & (t <= -crit)
        verdict[up], verdict[down] = SUPPORTED, REFUTED
        used[up | down] = n
        open_ &= ~(up | down)
    return verdict, used


def sequential_decision(diffs_so_far: Sequence[float], look_index: int, looks: Sequence[int],
                        mode: str, alpha: float = 0.05, margin: float = 0.0
                        ) -> SequentialDecision:
    """"Seeds until decided": the decision at planned look ``look_index`` (0-based), with
    ``diffs_so_far`` the first ``looks[look_index]`` paired differences.

    Rule: t = (mean(g) + margin) / (sd(g) / sqrt(n)) on the gains g (margin = 0:
    superiority; margin > 0: non-inferiority), compared with the boundary
    ``c = sequential_boundaries(looks, alpha).t[look_index]``: **supported** if t >= c,
    **refuted** if t <= -c (the mirror test: the alternative significantly better, or the
    guide worse by more than the margin), else **continue**, or **inconclusive** at the
    last look. Each of false-supported and false-refuted has probability <= alpha over the
    whole study (see :func:`sequential_boundaries`). Stop at the first decision; results at
    looks after a decision mean nothing.
    """
    b = sequential_boundaries(looks, alpha)
    if not 0 <= look_index < len(b.looks):
        raise ValueError(f"look_index must be in [0, {len(b.looks)}), got {look_index}")
    g = _gains(diffs_so_far, mode)
    n = b.looks[look_index]
    if g.size != n:
        raise ValueError(f"look {look_index} is planned at {n} seeds, got {g.size}")
    t = float(_t_stats(g[None, :], margin)[0])
    crit = b.t[look_index]
    if t >= crit:
        verdict = SUPPORTED
    elif t <= -crit:
        verdict = REFUTED
    else:
        verdict = INCONCLUSIVE if look_index == len(b.looks) - 1 else CONTINUE
    return SequentialDecision(look_index, n, t, crit, verdict)


# --------------------------------------------------------------------------- 0/1 headlines
def indicator_rate(indicators: Sequence[float]) -> dict[str, float]:
    """A 0/1 headline per run (e.g. ``final_collapsed``): ``collapsed`` (the count of 1s),
    ``runs``, ``rate`` and its exact (Clopper-Pearson) 95 % interval ``ci_low``, ``ci_high``."""
    values = np.asarray(indicators, dtype=float)
    if len(values) == 0 or not np.isin(values, (0.0, 1.0)).all():
        raise ValueError(f"need 0/1 indicators, got {values.tolist()}")
    k, n = int(values.sum()), len(values)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return {"collapsed": float(k), "runs": float(n), "rate": k / n,
            "ci_low": float(ci.low), "ci_high": float(ci.high)}


def indicator_test(a: Sequence[float], b: Sequence[float],
                   alternative: str = "less") -> dict[str, float]:
    """Fisher's exact test of arm A's 0/1 indicators against arm B's, unpaired (a seed does not
    pair two arms' runs in any way the indicator depends on; exact at 30 runs).

    ``alternative="less"``: H1 is that A's odds of a 1 (e.g. collapsing) are lower than B's;
    ``"two-sided"`` as usual.
    Returns the rates, their difference (A - B), the sample odds ratio and the p-value.
    """
    ra, rb = indicator_rate(a), indicator_rate(b)
    table = [[ra["collapsed"], ra["runs"] - ra["collapsed"]],
             [rb["collapsed"], rb["runs"] - rb["collapsed"]]]
    res = stats.fisher_exact(np.asarray(table, dtype=int), alternative=alternative)
    return {"rate_a": ra["rate"], "rate_b": rb["rate"], "rate_diff": ra["rate"] - rb["rate"],
            "odds_ratio": float(res.statistic), "p": float(res.pvalue)}
