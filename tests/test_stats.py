"""The report's statistics: t-intervals over seeds and the paired verdict rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from lossbench.stats import (INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, cohens_dz, mean_ci,
                             overall_verdict, paired_verdict)


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
