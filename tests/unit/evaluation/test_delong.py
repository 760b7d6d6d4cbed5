"""DeLong's ROC-AUC covariance (fast midrank algorithm) against the definition, scipy and known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, norm
from sklearn.metrics import roc_auc_score

from workbench.errors import ModelError
from workbench.evaluation import auc_interval, delong_covariance, delong_test


def definition(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. (1988) as written: every positive against every negative, O(m n)."""
    y = y.astype(bool)
    v10, v01, aucs = [], [], []
    for s in scores:
        x, z = s[y], s[~y]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        aucs.append(psi.mean())
        v10.append(psi.mean(axis=1))  # one per positive
        v01.append(psi.mean(axis=0))  # one per negative
    m, n = int(y.sum()), int((~y).sum())
    s10, s01 = np.cov(np.array(v10)), np.cov(np.array(v01))
    return np.array(aucs), np.atleast_2d(s10 / m + s01 / n)


@pytest.fixture
def correlated():
    rng = np.random.default_rng(7)
    n = 400
    y = (rng.random(n) < 0.3).astype(int)
    a = y * 1.0 + rng.normal(0, 1.0, n)
    b = a + rng.normal(0, 0.6, n)  # b is a noisier copy of a: correlated, lower AUC
    return y, np.round(a, 1), np.round(b, 1)  # rounding plants ties


def test_fast_covariance_equals_the_definition_with_ties(correlated):
    y, a, b = correlated
    aucs, cov = delong_covariance(y, [a, b])
    ref_aucs, ref_cov = definition(y, [a, b])
    np.testing.assert_allclose(aucs, ref_aucs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-10, atol=1e-15)
    assert aucs[0] == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    u = mannwhitneyu(a[y == 1], a[y == 0]).statistic  # AUC = U / (m n)
    assert aucs[0] == pytest.approx(u / (y.sum() * (1 - y).sum()), abs=1e-12)


def test_the_test_of_two_correlated_aucs(correlated):
    y, a, b = correlated
    t = delong_test(y, a, b)
    ref_aucs, ref_cov = definition(y, [a, b])
    se = math.sqrt(ref_cov[0, 0] + ref_cov[1, 1] - 2 * ref_cov[0, 1])
    z = (ref_aucs[1] - ref_aucs[0]) / se
    assert t.difference == pytest.approx(ref_aucs[1] - ref_aucs[0], abs=1e-12) and t.difference < 0
    assert t.z == pytest.approx(z, rel=1e-9) and t.p_value == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9)
    assert t.p_value < 0.05  # the noisier copy is detectably worse on 400 rows
    assert t.low == pytest.approx(t.difference - 1.959964 * se, rel=1e-6) and t.high < 0
    assert (t.n_positive, t.n_negative) == (int(y.sum()), int((1 - y).sum()))
    # swapping the models flips the sign and keeps the p-value
    s = delong_test(y, b, a)
    assert s.difference == pytest.approx(-t.difference) and s.p_value == pytest.approx(t.p_value)


def test_correlation_makes_the_paired_test_sharper_than_independent_samples(correlated):
    y, a, b = correlated
    aucs, cov = delong_covariance(y, [a, b])
    assert cov[0, 1] > 0  # same rows, related scores: the AUCs move together
    paired_se = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert paired_se < math.sqrt(cov[0, 0] + cov[1, 1]) / 2


def test_a_tiny_example_by_hand():
    # positives 0.9, 0.4; negatives 0.5, 0.1: pairs won 1, 1, 0, 1 -> AUC 3/4
    y = np.array([1, 1, 0, 0])
    s = np.array([0.9, 0.4, 0.5, 0.1])
    aucs, cov = delong_covariance(y, s)
    # per positive: V10 = (1, 0.5); per negative: V01 = (0.5, 1); var = 0.125/2 + 0.125/2
    assert aucs[0] == 0.75 and cov[0, 0] == pytest.approx(0.125)
    auc, lo, hi = auc_interval(y, s)
    assert (auc, hi) == (0.75, 1.0) and lo == pytest.approx(0.75 - 1.959964 * math.sqrt(0.125), rel=1e-6)


def test_identical_models_differ_by_nothing(correlated):
    y, a, _ = correlated
    t = delong_test(y, a, a.copy())
    assert (t.difference, t.z, t.p_value) == (0.0, 0.0, 1.0)


@pytest.mark.parametrize("y, s, match", [
    ([1, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], "at least 2 positives and 2 negatives"),
    ([1, 2, 0, 0], [0.1, 0.2, 0.3, 0.4], "0/1 or booleans"),
    ([1, 1, 0, 0], [0.1, np.nan, 0.3, 0.4], "NaN"),
    ([1, 1, 0, 0], [0.1, 0.3, 0.4], "one value per label"),
])
def test_bad_input_is_a_clear_error(y, s, match):
    with pytest.raises(ModelError, match=match):
        delong_covariance(np.array(y), [np.array(s)])
