"""The report's statistics: t-intervals over seeds, the paired verdict rule, typed claims,
Holm, bootstrap, probability of improvement, power and the sequential design."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
from scipy import stats as st

from lossbench.stats import (CONTINUE, INCONCLUSIVE, NOT_SUPPORTED, REFUTED, SUPPORTED,
                             bootstrap_ci, claim_test, claim_verdict, cohens_dz, equivalence,
                             holm, holm_adjust, indicator_rate, indicator_test,
                             lan_demets_z_boundaries, mean_ci,
                             non_inferiority, obf_spending, one_sided_t_pvalue,
                             overall_verdict, paired_differences, paired_power, paired_verdict,
                             prob_improvement, seeds_needed, sequential_boundaries,
                             sequential_decision, sequential_decisions, superiority)


def test_mean_ci_is_the_t_interval():
    x = [1.0, 2.0, 4.0, 3.5, 2.5]
    ci = mean_ci(x)
    lo, hi = st.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=st.sem(x))
    assert ci.n == 5 and ci.mean == pytest.approx(2.6)
    assert (ci.low, ci.high) == (pytest.approx(lo), pytest.approx(hi))


def test_mean_ci_of_one_value_has_no_bounds():
    ci = mean_ci([3.0])
    assert ci.mean == 3.0 and math.isnan(ci.low) and math.isnan(ci.high)
    with pytest.raises(ValueError):
        mean_ci([])


def test_cohens_dz():
    d = np.array([1.0, 2.0, 3.0])
    assert cohens_dz(d) == pytest.approx(2.0 / 1.0)
    assert cohens_dz([1.0, 1.0]) == math.inf and math.isnan(cohens_dz([0.0, 0.0]))


@pytest.mark.parametrize("mode, shift, verdict", [
    ("min", -1.0, SUPPORTED),      # paired loss lower and lower is better
    ("min", +1.0, NOT_SUPPORTED),
    ("max", +1.0, SUPPORTED),
    ("max", -1.0, NOT_SUPPORTED),
    ("min", 0.0, INCONCLUSIVE),    # noise only
])
def test_paired_verdict_direction(mode, shift, verdict):
    rng = np.random.default_rng(0)
    alt = rng.normal(10, 3, 8)              # large between-seed spread ...
    noise = np.array([0.1, -0.2, 0.15, -0.05, 0.2, -0.1, -0.15, 0.05])  # mean 0
    paired = alt + shift + noise                  # ... that pairing removes
    r = paired_verdict(paired, alt, mode)
    assert r.verdict == verdict
    assert r.n == 8
    diff = paired - alt
    assert r.mean_diff == pytest.approx(diff.mean())
    assert r.d_z == pytest.approx(diff.mean() / diff.std(ddof=1))
    assert r.p_value == pytest.approx(st.ttest_rel(paired, alt).pvalue)


def test_pairing_matters():
    """Unpaired the spread hides a consistent 0.5 gain; paired by seed it is clear."""
    alt = np.array([5.0, 9.0, 13.0, 7.0, 11.0])
    paired = alt - 0.5 + np.array([0.01, -0.02, 0.0, 0.02, -0.01])
    assert st.ttest_ind(paired, alt).pvalue > 0.5
    assert paired_verdict(paired, alt, "min").verdict == SUPPORTED


def test_degenerate_samples_are_inconclusive():
    assert paired_verdict([1.0], [2.0], "min").verdict == INCONCLUSIVE
    assert paired_verdict([], [], "min").verdict == INCONCLUSIVE
    r = paired_verdict([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], "min")  # constant diff: no variance
    assert r.verdict == INCONCLUSIVE and math.isnan(r.p_value) and r.d_z == -math.inf
    with pytest.raises(ValueError, match="length"):
        paired_verdict([1.0, 2.0], [1.0], "min")
    with pytest.raises(ValueError, match="mode"):
        paired_verdict([1.0, 2.0], [1.0, 2.0], "lower")


def test_overall_verdict():
    assert overall_verdict([SUPPORTED, SUPPORTED]) == SUPPORTED
    assert overall_verdict([SUPPORTED, INCONCLUSIVE]) == INCONCLUSIVE
    assert overall_verdict([SUPPORTED, NOT_SUPPORTED]) == NOT_SUPPORTED
    assert overall_verdict([]) == INCONCLUSIVE


# --------------------------------------------------------------------------- typed claims
D = np.array([-0.31, -0.12, -0.45, 0.05, -0.22, -0.38, -0.09, -0.27])  # guide - alt, "min"


@pytest.mark.parametrize("mode", ["min", "max"])
def test_superiority_is_the_one_sided_paired_t_test(mode):
    d = D if mode == "min" else -D           # the guide is better in both cases
    gain = -d if mode == "min" else d
    r = superiority(d, mode)
    assert r.claim_type == "superiority" and r.n == 8 and r.margin == 0.0
    assert r.p_value == pytest.approx(st.ttest_1samp(gain, 0.0, alternative="greater").pvalue)
    assert r.p_refute == pytest.approx(st.ttest_1samp(gain, 0.0, alternative="less").pvalue)
    assert r.p_value < 0.05 and r.verdict == SUPPORTED
    assert r.mean_diff == pytest.approx(d.mean())
    assert r.cohens_dz == pytest.approx(d.mean() / d.std(ddof=1))
    assert r.oriented_dz == pytest.approx(gain.mean() / gain.std(ddof=1))
    lo, hi = st.t.interval(0.90, 7, loc=d.mean(), scale=st.sem(d))
    assert r.ci_level == pytest.approx(0.90)
    assert (r.ci_low, r.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    # the verdict can be read off the (1 - 2 alpha) interval: it excludes 0 on the good side
    assert (r.ci_high < 0) if mode == "min" else (r.ci_low > 0)
    # the same data, wrong way round: the alternative is significantly better
    assert superiority(-d, mode).verdict == REFUTED


def test_superiority_inconclusive_between():
    d = np.array([-0.3, 0.2, -0.1, 0.25, -0.15])
    r = superiority(d, "min")
    assert r.verdict == INCONCLUSIVE and r.p_value >= 0.05 and r.p_refute >= 0.05
    assert r.ci_low < 0 < r.ci_high
    assert r.p_value + r.p_refute == pytest.approx(1.0)


def test_non_inferiority_is_the_shifted_t_test():
    d = np.array([0.04, -0.02, 0.06, 0.01, 0.03, -0.01, 0.05, 0.02])  # guide slightly worse
    m = 0.1
    r = non_inferiority(d, "min", m)
    gain = -d
    assert r.p_value == pytest.approx(st.ttest_1samp(gain, -m, alternative="greater").pvalue)
    assert r.p_refute == pytest.approx(st.ttest_1samp(gain, -m, alternative="less").pvalue)
    assert r.verdict == SUPPORTED and r.ci_high < m          # not worse by more than 0.1
    assert superiority(d, "min").verdict == REFUTED           # though it is not better
    # worse by clearly more than the margin: refuted; with a wide margin: supported
    assert non_inferiority(d + 0.2, "min", m).verdict == REFUTED
    assert non_inferiority(d + 0.2, "min", 0.5).verdict == SUPPORTED
    # "max": the same differences mean the guide is better, so non-inferior at any margin
    assert non_inferiority(d, "max", 0.01).verdict == SUPPORTED
    with pytest.raises(ValueError, match="margin"):
        non_inferiority(d, "min", 0.0)


def test_equivalence_is_tost():
    d = np.array([0.01, -0.02, 0.015, 0.0, -0.01, 0.02, -0.005, 0.01])
    m = 0.05
    r = equivalence(d, m)
    p_low = st.ttest_1samp(d, -m, alternative="greater").pvalue
    p_high = st.ttest_1samp(d, m, alternative="less").pvalue
    assert r.p_value == pytest.approx(max(p_low, p_high))
    assert r.verdict == SUPPORTED and -m < r.ci_low and r.ci_high < m
    # a margin inside the noise: the 90 % interval sticks out, but not entirely: inconclusive
    narrow = equivalence(d, 0.005)
    assert narrow.verdict == INCONCLUSIVE and narrow.ci_low < 0.005 < narrow.ci_high
    # the difference is significantly beyond the margin: refuted (interval entirely outside)
    far = equivalence(d + 0.2, m)
    assert far.verdict == REFUTED and far.ci_low > m
    assert far.p_refute == pytest.approx(st.ttest_1samp(d + 0.2, m, alternative="greater").pvalue)
    assert equivalence(d - 0.2, m).verdict == REFUTED
    assert claim_test(d, "min", "equivalence", m) == r


def test_identical_runs_do_not_produce_nan():
    """CE and KL divergence give identical runs: d_i = 0 exactly."""
    zeros = np.zeros(5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eq = equivalence(zeros, 0.01)
        sup = superiority(zeros, "min")
        ni = non_inferiority(zeros, "min", 0.01)
    assert eq.verdict == SUPPORTED and eq.p_value == 0.0
    assert (eq.ci_low, eq.ci_high) == (0.0, 0.0) and eq.reason
    assert sup.verdict == INCONCLUSIVE and sup.p_value == 1.0 and sup.p_refute == 1.0
    assert sup.cohens_dz == 0.0 and sup.oriented_dz == 0.0
    assert ni.verdict == SUPPORTED and ni.p_value == 0.0
    for r in (eq, sup, ni):
        assert not any(math.isnan(x) for x in (r.p_value, r.p_refute, r.ci_low, r.ci_high,
                                               r.cohens_dz))
    # a constant non-zero difference is exact too
    assert superiority(np.full(4, -0.5), "min").verdict == SUPPORTED
    assert superiority(np.full(4, -0.5), "max").verdict == REFUTED
    assert equivalence(np.full(4, 0.5), 0.1).verdict == REFUTED


def test_too_few_seeds_is_inconclusive_with_a_reason():
    for d in ([], [-1.0]):
        r = superiority(d, "min")
        assert r.verdict == INCONCLUSIVE and "at least 2" in r.reason and math.isnan(r.p_value)
    with pytest.raises(ValueError, match="mode"):
        superiority(D, "lower")
    with pytest.raises(ValueError, match="claim_type"):
        claim_test(D, "min", "better")
    with pytest.raises(ValueError, match="length"):
        paired_differences([1.0, 2.0], [1.0])
    assert list(paired_differences([3.0, 1.0], [1.0, 1.5])) == [2.0, -0.5]


def test_one_sided_t_pvalue_matches_scipy():
    x = np.array([0.3, -0.1, 0.5, 0.2, 0.05])
    for mu0 in (-0.2, 0.0, 0.4):
        for alt in ("greater", "less"):
            assert one_sided_t_pvalue(x, mu0, alt) == pytest.approx(
                st.ttest_1samp(x, mu0, alternative=alt).pvalue)


# --------------------------------------------------------------------------- Holm
def test_holm_known_values():
    # by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04,
    # running maximum 0.02, 0.03, 0.06, 0.06 (statsmodels multipletests(method="holm"))
    adj = holm([0.01, 0.04, 0.03, 0.005])
    assert adj == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])          # capped at 1
    assert holm([0.02]) == pytest.approx([0.02])                  # one test: unchanged
    assert holm([]).size == 0
    out = holm([0.01, math.nan, 0.02])                             # NaN: no test, not counted
    assert math.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.02])
    with pytest.raises(ValueError):
        holm([1.5])


def test_holm_is_monotone_and_at_least_the_raw_p():
    p = np.random.default_rng(3).uniform(0, 0.2, 12)
    adj = holm(p)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0) and np.all(adj >= p) and np.all(adj <= 1)
    # Holm is uniformly at least as powerful as Bonferroni
    assert np.all(adj <= np.minimum(1, p * p.size) + 1e-12)


def _with_p(r, p, p_refute):
    return dataclasses.replace(r, p_value=p, p_refute=p_refute)


def test_claim_verdict_applies_holm():
    base = superiority(D, "min")
    comps = [_with_p(base, 0.01, 0.99), _with_p(base, 0.04, 0.96), _with_p(base, 0.03, 0.97)]
    assert [c.verdict for c in comps] == [SUPPORTED] * 3   # raw: each below 0.05
    cv = claim_verdict(comps)
    assert [c.p_adjusted for c in cv.comparisons] == pytest.approx([0.03, 0.06, 0.06])
    assert [c.verdict for c in cv.comparisons] == [SUPPORTED, INCONCLUSIVE, INCONCLUSIVE]
    assert cv.verdict == INCONCLUSIVE
    assert claim_verdict([_with_p(base, 0.001, 0.999), _with_p(base, 0.02, 0.98)]).verdict \
        == SUPPORTED
    # a refutation has to survive Holm over the refutation p-values too
    refuted = [_with_p(base, 0.001, 0.999), _with_p(base, 0.99, 0.01)]
    assert claim_verdict(refuted).verdict == REFUTED
    assert holm_adjust(refuted)[1].p_refute_adjusted == pytest.approx(0.02)
    weak = [_with_p(base, 0.3, 0.7), _with_p(base, 0.7, 0.03), _with_p(base, 0.7, 0.04)]
    assert claim_verdict(weak).verdict == INCONCLUSIVE             # 0.03 * 3 > 0.05
    assert claim_verdict([]).verdict == INCONCLUSIVE
    assert claim_verdict([base, superiority([-1.0], "min")]).verdict == INCONCLUSIVE


def test_claim_verdict_on_real_comparisons():
    rng = np.random.default_rng(11)
    better = [superiority(rng.normal(-1, 0.5, 10), "min") for _ in range(3)]
    assert claim_verdict(better).verdict == SUPPORTED
    assert claim_verdict(better + [superiority(rng.normal(1, 0.5, 10), "min")]).verdict \
        == REFUTED


# --------------------------------------------------------------------------- bootstrap
def test_bootstrap_ci_is_scipys_bca():
    d = np.array([-0.31, -0.12, -0.45, 0.05, -0.22, -0.38, -0.09, -0.27, -0.6, 0.1])
    ci = bootstrap_ci(d, 0.9, seed=7)
    ref = st.bootstrap((d,), np.mean, confidence_level=0.9, method="BCa",
                       rng=np.random.default_rng(7)).confidence_interval
    assert (ci.low, ci.high) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert ci.mean == pytest.approx(d.mean()) and ci.n == 10
    assert bootstrap_ci(d, 0.9, seed=7) == ci                     # reproducible
    assert ci.low < d.mean() < ci.high


def test_bootstrap_ci_degenerate():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ci = bootstrap_ci(np.zeros(6))
    assert (ci.low, ci.mean, ci.high) == (0.0, 0.0, 0.0)
    one = bootstrap_ci([0.3])
    assert one.mean == 0.3 and math.isnan(one.low)
    with pytest.raises(ValueError):
        bootstrap_ci([])


# --------------------------------------------------------------------------- P(improvement)
def test_prob_improvement_is_mann_whitney_u_over_nm():
    guide = np.array([0.50, 0.42, 0.47, 0.45, 0.50])
    alt = np.array([0.52, 0.50, 0.55, 0.44])                      # one tie at 0.50 (twice)
    n = guide.size * alt.size
    u_max = st.mannwhitneyu(guide, alt).statistic                 # counts guide > alt
    u_min = st.mannwhitneyu(-guide, -alt).statistic               # counts guide < alt
    assert prob_improvement(guide, alt, "max") == pytest.approx(u_max / n)
    assert prob_improvement(guide, alt, "min") == pytest.approx(u_min / n)
    # by hand for "min": pairs with guide < alt, plus half the 2 ties
    wins = sum(g < a for g in guide for a in alt) + 0.5 * sum(g == a for g in guide for a in alt)
    assert prob_improvement(guide, alt, "min") == pytest.approx(wins / n)
    assert prob_improvement(guide, alt, "min") + prob_improvement(guide, alt, "max") \
        == pytest.approx(1.0)
    assert prob_improvement([1.0, 1.0], [1.0], "min") == 0.5


# --------------------------------------------------------------------------- power
def test_seeds_needed_matches_gpower():
    # G*Power, "t tests - Means: difference from constant (one sample case)", d = 0.6,
    # power 0.8: one-sided alpha 0.05 -> n = 19 (actual power 0.808); two-sided 0.05 -> 24
    assert seeds_needed(0.6) == 19
    assert seeds_needed(0.6, alpha=0.025) == 24
    assert paired_power(0.6, 19) == pytest.approx(0.8079, abs=5e-4)
    assert paired_power(0.6, 18) < 0.8 <= paired_power(0.6, 19)
    ref = st.nct.sf(st.t.isf(0.05, 18), 18, 0.6 * math.sqrt(19))
    assert paired_power(0.6, 19) == pytest.approx(ref)
    # non-inferiority: the margin adds to the effect
    assert seeds_needed(0.0, claim_type="non_inferiority", margin_dz=0.6) == 19


def test_seeds_needed_unreachable():
    assert seeds_needed(0.0) is None
    assert seeds_needed(-0.5) is None
    assert seeds_needed(0.01) is None                               # needs > 10 000 seeds
    assert seeds_needed(0.6, claim_type="equivalence", margin_dz=0.5) is None
    assert seeds_needed(3.0) == 3                                    # huge effect: tiny n


def _simulated_power(n, delta, claim_type, margin=0.0, studies=20000, seed=5):
    x = np.random.default_rng(seed).normal(delta, 1.0, (studies, n))
    tc = st.t.isf(0.05, n - 1)
    mean, se = x.mean(1), x.std(1, ddof=1) / math.sqrt(n)
    if claim_type == "superiority":
        return np.mean(mean / se >= tc)
    return np.mean(((mean + margin) / se >= tc) & ((mean - margin) / se <= -tc))


@pytest.mark.parametrize("n, delta, claim_type, margin", [
    (19, 0.6, "superiority", 0.0),
    (36, 0.0, "equivalence", 0.5),
    (30, 0.2, "equivalence", 0.6),
])
def test_paired_power_agrees_with_simulation(n, delta, claim_type, margin):
    exact = paired_power(delta, n, claim_type=claim_type, margin_dz=margin)
    sim = _simulated_power(n, delta, claim_type, margin)
    assert sim == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / 20000))


def test_seeds_needed_for_equivalence():
    n = seeds_needed(0.0, claim_type="equivalence", margin_dz=0.5)
    assert n == 36       # normal approximation (TOSTER) says 35; the exact t-based TOST needs 36
    assert paired_power(0.0, n - 1, claim_type="equivalence", margin_dz=0.5) < 0.8
    assert paired_power(0.0, n, claim_type="equivalence", margin_dz=0.5) >= 0.8


# --------------------------------------------------------------------------- sequential
LOOKS = list(range(5, 55, 5))


def test_lan_demets_z_boundaries_match_the_literature():
    # K = 5 equally spaced, one-sided alpha 0.025, O'Brien-Fleming-type spending
    # (Jennison & Turnbull 2000 / gsDesign sfLDOF): 4.877, 3.357, 2.680, 2.290, 2.031
    c = lan_demets_z_boundaries([1, 2, 3, 4, 5], 0.025)
    assert c == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=1.5e-3)
    # and the crossing probability is alpha under the exact multivariate normal
    t = np.arange(1, 6) / 5
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    stay = st.multivariate_normal.cdf(c, cov=cov, abseps=1e-7, releps=1e-7, rng=1)
    assert 1 - stay == pytest.approx(0.025, abs=2e-5)


def test_sequential_boundaries_spend_alpha():
    b = sequential_boundaries(LOOKS, 0.05)
    assert b.spent[-1] == pytest.approx(0.05) and sum(b.nominal) == pytest.approx(0.05)
    assert b.spent[0] == pytest.approx(2 * st.norm.sf(st.norm.isf(0.025) / math.sqrt(0.1)))
    assert b.spent == pytest.approx(list(obf_spending(np.array(LOOKS) / 50, 0.05)))
    assert b.t == pytest.approx([st.t.isf(p, n - 1) for p, n in zip(b.nominal, LOOKS)])
    assert all(x > y for x, y in zip(b.t, b.t[1:]))              # strict early, lenient late
    with pytest.raises(ValueError):
        sequential_boundaries([10, 5])


def _null_and_naive(studies=20000, seed=2024):
    d = np.random.default_rng(seed).normal(0.0, 1.0, (studies, 50))   # true difference 0
    verdicts, used = sequential_decisions(d, LOOKS, "min", 0.05)
    n = np.array(LOOKS)
    cs, cs2 = np.cumsum(-d, 1)[:, n - 1], np.cumsum(d * d, 1)[:, n - 1]
    t = (cs / n) / np.sqrt((cs2 - cs * cs / n) / (n - 1) / n)
    naive = np.any(t >= st.t.isf(0.05, n - 1), axis=1)  # a one-sided t-test at every look
    return verdicts, used, naive


def test_sequential_rule_keeps_alpha_under_the_null_and_naive_peeking_does_not():
    verdicts, used, naive = _null_and_naive()
    false_supported = np.mean(verdicts == SUPPORTED)
    false_refuted = np.mean(verdicts == REFUTED)
    assert false_supported <= 0.05 and false_refuted <= 0.05
    assert false_supported < 0.03           # by design about 0.022: clearly below alpha
    assert np.mean(naive) > 0.10            # peeking at 10 looks: about 0.17
    assert np.all(used[verdicts == INCONCLUSIVE] == 50)


def test_sequential_rule_has_power():
    d = np.random.default_rng(7).normal(-0.8, 1.0, (5000, 50))     # d_z = 0.8, "min"
    verdicts, used = sequential_decisions(d, LOOKS, "min")
    assert np.mean(verdicts == SUPPORTED) > 0.99
    assert np.mean(verdicts == REFUTED) == 0.0
    assert used.mean() < 30                                       # stops early, ~22 seeds


def test_sequential_decision_agrees_with_the_vectorised_rule():
    rng = np.random.default_rng(9)
    d = rng.normal(-0.5, 1.0, (200, 50)) * rng.uniform(0.2, 3.0, (200, 1))
    verdicts, used = sequential_decisions(d, LOOKS, "min")
    for row, v, u in zip(d, verdicts, used):
        for k, n in enumerate(LOOKS):
            dec = sequential_decision(row[:n], k, LOOKS, "min")
            if dec.verdict != CONTINUE:
                break
        assert (dec.verdict, dec.n) == (v, u)


def test_sequential_decision_details():
    b = sequential_boundaries(LOOKS)
    d = np.random.default_rng(1).normal(0.0, 1.0, 20)
    dec = sequential_decision(d, 3, LOOKS, "max")
    assert dec.t_stat == pytest.approx(st.ttest_1samp(d, 0.0).statistic)
    assert dec.boundary == b.t[3] and dec.n == 20
    # identical runs never decide, and end inconclusive at the last look
    assert sequential_decision(np.zeros(5), 0, LOOKS, "min").verdict == CONTINUE
    assert sequential_decision(np.zeros(50), 9, LOOKS, "min").verdict == INCONCLUSIVE
    assert sequential_decision(np.full(5, -0.1), 0, LOOKS, "min").verdict == SUPPORTED
    # non-inferiority: the margin shifts the statistic
    assert sequential_decision(np.full(5, 0.1), 0, LOOKS, "min", margin=0.2).verdict \
        == SUPPORTED
    with pytest.raises(ValueError, match="planned"):
        sequential_decision(d[:19], 3, LOOKS, "min")


def test_indicator_rate_and_fishers_exact_test():
    r = indicator_rate([1] * 3 + [0] * 27)
    assert (r["collapsed"], r["runs"], r["rate"]) == (3, 30, 0.1)
    assert r["ci_low"] == pytest.approx(0.0211, abs=1e-4)  # Clopper-Pearson 3/30
    assert r["ci_high"] == pytest.approx(0.2653, abs=1e-4)
    wgan, gan = [0] * 30, [1] * 10 + [0] * 20
    t = indicator_test(wgan, gan)
    # one-sided: P(no collapse among wgan's 30 | 10 collapses in 60 runs), hypergeometric
    assert t["p"] == pytest.approx(math.comb(30, 10) / math.comb(60, 10))
    assert t["rate_diff"] == pytest.approx(-1 / 3) and t["odds_ratio"] == 0.0
    assert indicator_test(gan, wgan)["p"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="0/1"):
        indicator_rate([0.5])
