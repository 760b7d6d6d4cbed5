"""Fixed-sample statistics: the SRM check, per-variant intervals, the paired bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2, norm

from workbench.errors import ParameterError
from workbench.evaluation import proportion_interval
from workbench.rollout._stats import latency_quantiles, mean_interval, paired_bootstrap, srm_test


def test_a_45_55_split_of_10000_requests_is_a_sample_ratio_mismatch():
    res = srm_test({"champion": 4500, "challenger": 5500}, [0.5, 0.5])
    # chi-square = 2 * 500^2 / 5000 = 100 on one degree of freedom
    assert res.statistic == pytest.approx(100.0) and res.p_value == pytest.approx(chi2.sf(100, 1), rel=1e-9)
    assert res.p_value < 1e-20 and res.flagged
    assert "SAMPLE RATIO MISMATCH" in res.describe() and "45.00%" in res.describe()


def test_a_50_3_to_49_7_split_is_not():
    res = srm_test({"champion": 5030, "challenger": 4970}, [0.5, 0.5])
    assert res.statistic == pytest.approx(0.36) and res.p_value == pytest.approx(0.548506, abs=1e-6)
    assert not res.flagged and res.describe().startswith("no sample ratio mismatch")


def test_the_configured_shares_are_the_expectation():
    # a 10% canary exactly on target; the same counts against 50/50 are a gross mismatch
    assert srm_test([1000, 9000], [0.9, 0.1]).p_value < 1e-100
    ok = srm_test([9000, 1000], [0.9, 0.1])
    assert ok.statistic == 0.0 and ok.p_value == 1.0
    # the threshold is configurable
    assert srm_test([5100, 4900], [0.5, 0.5], alpha=0.05).flagged and not srm_test([5100, 4900], [0.5, 0.5]).flagged


@pytest.mark.parametrize("counts, shares, match", [
    ([10, 10], [0.5, 0.4], "add up to 1"),
    ([10, 10, 5], [0.5, 0.5], "one share per variant"),
    ([10, -1], [0.5, 0.5], "whole numbers >= 0"),
    ([0, 0], [0.5, 0.5], "positive total"),
])
def test_bad_srm_input_is_a_clear_error(counts, shares, match):
    with pytest.raises(ParameterError, match=match):
        srm_test(counts, shares)


def test_intervals_of_one_variant():
    x = np.arange(1, 101, dtype=float)  # mean 50.5, sd 29.011
    mean, lo, hi = mean_interval(np.append(x, np.nan))  # missing values are not requests
    half = norm.ppf(0.975) * x.std(ddof=1) / 10
    assert (mean, lo, hi) == pytest.approx((50.5, 50.5 - half, 50.5 + half))
    # Wilson's interval for 81/263 (Newcombe 1998, method 3): 0.2553 to 0.3662
    p, lo, hi = proportion_interval(81, 263)
    assert p == pytest.approx(81 / 263) and (lo, hi) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert all(math.isnan(v) for v in proportion_interval(0, 0))


def test_the_paired_bootstrap_matches_the_paired_normal_interval():
    rng = np.random.default_rng(3)
    a = rng.exponential(0.4, 5000)  # per-request losses of the champion
    b = a - 0.01 + rng.normal(0, 0.05, 5000)  # the challenger: the same requests, a little better
    est, lo, hi = paired_bootstrap(a, b, seed=1)
    d = b - a
    half = 1.959964 * d.std(ddof=1) / math.sqrt(len(d))
    assert est == pytest.approx(d.mean(), abs=1e-12)
    assert lo == pytest.approx(d.mean() - half, abs=0.1 * half) and hi == pytest.approx(d.mean() + half, abs=0.1 * half)
    assert hi < 0  # the planted improvement is found
    # ignoring the pairing (independent samples) would be far wider
    assert hi - lo < 0.25 * 2 * 1.96 * math.sqrt(a.var() / len(a) + b.var() / len(b))
    # same seed, same interval
    assert paired_bootstrap(a, b, seed=1) == (est, lo, hi)


def test_the_paired_bootstrap_of_rmse_compares_roots():
    a = np.array([1.0, 4.0, 9.0, 16.0])  # squared errors: RMSE sqrt(7.5)
    b = np.array([1.0, 1.0, 4.0, 4.0])  # RMSE sqrt(2.5)
    est, lo, hi = paired_bootstrap(a, b, root=True, n_resamples=500)
    assert est == pytest.approx(math.sqrt(2.5) - math.sqrt(7.5)) and lo <= est <= hi
    with pytest.raises(ParameterError, match="same length"):
        paired_bootstrap(a, b[:3])


def test_latency_quantiles():
    assert latency_quantiles(np.arange(1, 101)) == pytest.approx((50.5, 99.01))
