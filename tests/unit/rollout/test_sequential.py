"""The mixture SPRT: the formula of Johari, Pekelis & Walsh, its confidence sequence, and the goals:
A/A under daily peeking stays at its level (the naive daily test does not), a planted effect is found."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.errors import ParameterError
from workbench.rollout._sequential import half_width, log_mixture_ratio, msprt, peeking_simulation, samples_needed


def johari(xbar: float, n: int, sigma: float, tau: float) -> float:
    """The normal-mixture likelihood ratio as printed in the paper (known sigma, mixing N(0, tau^2))."""
    s2, t2 = sigma**2, tau**2
    return math.sqrt(s2 / (s2 + n * t2)) * math.exp(n**2 * t2 * xbar**2 / (2 * s2 * (s2 + n * t2)))


@pytest.mark.parametrize("xbar, n, sigma, tau_theta", [(0.3, 100, 1.0, 1.0), (0.02, 5000, 0.5, 0.025),
                                                       (-0.1, 400, 2.0, 0.1)])
def test_the_likelihood_ratio_is_the_papers(xbar, n, sigma, tau_theta):
    # the library takes tau in per-request sds and the z statistic; the paper takes tau in metric units
    z = xbar / (sigma / math.sqrt(n))
    got = float(np.exp(log_mixture_ratio(z, n, tau_theta / sigma)))
    assert got == pytest.approx(johari(xbar, n, sigma, tau_theta), rel=1e-10)


def test_worked_example():
    # n = 100, xbar = 0.3, sigma = tau = 1: Lambda = exp(900 / 202) / sqrt(101) = 8.566, p = 0.1167
    res = msprt([0.3], [0.01], [100], tau=1.0)
    assert res["p_value"][0] == pytest.approx(math.sqrt(101) * math.exp(-900 / 202), rel=1e-10)
    assert res["p_value"][0] == pytest.approx(0.11674, abs=1e-5)
    assert res["naive_p"][0] == pytest.approx(0.0026998, abs=1e-6)  # z = 3 looked at once


def test_the_confidence_sequence_is_the_inverted_test():
    est, var, n, tau, alpha = 0.05, 0.0004, 2500, 0.05, 0.05
    w = float(half_width(var, n, tau, alpha))
    for theta in (est - w, est + w):  # on the boundary, the shifted ratio is exactly 1 / alpha
        assert float(np.exp(log_mixture_ratio((est - theta) / math.sqrt(var), n, tau))) == pytest.approx(20.0)
    res = msprt([est, 0.0], [var, var / 2], [n, 2 * n], tau, alpha)
    # the p-value never rises and the interval never widens, whatever the later looks show
    assert res["p_value"][1] == res["p_value"][0] and res["low"][1] == pytest.approx(est - w)
    assert res["high"][1] <= res["high"][0]


def test_looks_without_a_variance_keep_p_at_one():
    res = msprt([np.nan, 0.3, 0.3], [np.nan, 0.0, 0.01], [1, 2, 100], tau=1.0)
    assert res["p_value"][:2].tolist() == [1.0, 1.0] and res["p_value"][2] < 1
    assert res["low"][0] == -np.inf and res["high"][1] == np.inf


@pytest.fixture(scope="module")
def losses() -> np.ndarray:
    """Per-request log-losses of a realistic classifier: p ~ Beta(2, 5), y ~ Bernoulli(p)."""
    rng = np.random.default_rng(1)
    p = rng.beta(2, 5, 20000)
    y = rng.random(20000) < p
    return -np.log(np.where(y, p, 1 - p))


def test_aa_with_daily_peeking_stays_at_its_level_and_the_naive_test_does_not(losses):
    res = peeking_simulation(losses, n_experiments=200, days=14, per_day=500, seed=3)
    assert res.msprt_rate <= 0.05  # measured: 0.005
    assert res.naive_rate >= 0.15 and res.naive_rate >= 3 * max(res.msprt_rate, 0.02)  # measured: 0.245
    assert res.fixed_rate <= 0.1  # one look at the end is a valid test: ~alpha
    assert "mSPRT flags 0.5%" in res.describe() and "daily flags 24.5%" in res.describe()


def test_a_planted_better_challenger_is_found_with_the_right_sign(losses):
    better = peeking_simulation(losses, n_experiments=200, days=14, per_day=500, effect=-0.05, seed=4)
    assert better.msprt_rate >= 0.8 and better.msprt_sign_right == 1.0  # measured: 0.92, every sign right
    worse = peeking_simulation(losses, n_experiments=200, days=14, per_day=500, effect=+0.05, seed=4)
    assert worse.msprt_rate >= 0.8 and worse.msprt_sign_right == 1.0
    assert better.mean_stop_day < 14  # found before the end, on average


def test_samples_needed_is_where_the_interval_excludes_the_point():
    d, unit_var, tau = 0.01, 0.2, 0.05
    n = samples_needed(d, unit_var, 100, tau)
    assert float(half_width(unit_var / n, n, tau)) <= d < float(half_width(unit_var / (n - 1), n - 1, tau))
    assert 10_000 < n < 100_000
    assert samples_needed(d, unit_var, 10**6, tau) == 10**6  # already there
    assert samples_needed(0.0, unit_var, 100, tau) is None and samples_needed(1e-9, unit_var, 100, tau) is None


def test_bad_arguments():
    with pytest.raises(ParameterError, match="tau must be"):
        msprt([0.1], [0.1], [10], tau=0)
    with pytest.raises(ParameterError, match="alpha must"):
        msprt([0.1], [0.1], [10], alpha=1.5)
    with pytest.raises(ParameterError, match="days must be"):
        peeking_simulation([0.1, 0.2], days=0)
