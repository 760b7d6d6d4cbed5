"""Per-column drift statistics, exact and vectorized: one sort per numeric column and side, one
factorization per categorical column.

Numbers (and datetimes): two-sample Kolmogorov-Smirnov, normalised Wasserstein distance (in
reference standard deviations), PSI on reference deciles, the share of current values outside the
reference range, and a shared 40-bin histogram. Categories (and booleans): chi-square on the 2 x K
table (sparse categories pooled), Jensen-Shannon distance, PSI, and the categories the reference
never had. Missing values are compared separately (two-proportion z-test).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..data import as_float

EPS = 1e-4  # floor of a bin's share in PSI
PLOT_BINS = 40
PLOT_CATEGORIES = 12


# ----------------------------------------------------------------------------- numbers


def _sorted_finite(s: pd.Series) -> np.ndarray:
    v = as_float(s)
    return np.sort(v[np.isfinite(v)])


def _ks_p(x: np.ndarray, y: np.ndarray, d: float) -> float:
    from scipy import stats

    n, m = len(x), len(y)
    if max(n, m) <= 10_000:  # exact (or scipy's choice) where affordable
        return float(stats.ks_2samp(x, y).pvalue)
    return float(stats.kstwo.sf(d, round(n * m / (n + m))))


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    p = np.maximum(p / max(p.sum(), 1), EPS)
    q = np.maximum(q / max(q.sum(), 1), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def _histogram(x: np.ndarray, y: np.ndarray, bins: int) -> dict[str, Any]:
    lo, hi = float(min(x[0], y[0])), float(max(x[-1], y[-1]))
    edges = np.array([lo - 0.5, hi + 0.5]) if lo == hi else np.linspace(lo, hi, bins + 1)

    def counts(v: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(v, edges, side="left")
        idx[-1] = len(v)
        return np.diff(idx)

    return {"numeric": True, "edges": edges, "reference": counts(x) / len(x), "current": counts(y) / len(y)}


def numeric_stats(ref: pd.Series, cur: pd.Series) -> dict[str, Any]:
    """KS statistic and p-value, normalised Wasserstein distance, PSI, out-of-range share and a
    shared histogram of two numeric (or datetime) columns; empty dict when a side has no values."""
    x, y = _sorted_finite(ref), _sorted_finite(cur)
    n, m = len(x), len(y)
    if not n or not m:
        return {"n_reference": n, "n_current": m}
    u = np.sort(np.concatenate([x, y]), kind="stable")  # two sorted runs: a linear merge
    step = np.diff(u)
    last = np.flatnonzero(step > 0)  # the last of each run of equal values: both ECDFs are exact there
    cx = np.searchsorted(x, u[last], side="right")
    gap = np.abs(cx / n - (last + 1 - cx) / m)
    d = float(gap.max()) if len(gap) else 0.0
    w = float(np.dot(gap, step[last])) if len(gap) else 0.0
    scale = float(np.std(x)) or float(np.std(u)) or 1.0
    cuts = np.unique(x[np.minimum((np.arange(1, 10) / 10 * n).astype(int), n - 1)])
    px = np.diff(np.concatenate([[0], np.searchsorted(x, cuts, side="right"), [n]]))
    py = np.diff(np.concatenate([[0], np.searchsorted(y, cuts, side="right"), [m]]))
    outside = np.searchsorted(y, x[0], side="left") + m - np.searchsorted(y, x[-1], side="right")
    return {"n_reference": n, "n_current": m, "ks": d, "ks_p": _ks_p(x, y, d), "wasserstein": w / scale,
            "psi": _psi(px.astype(float), py.astype(float)), "out_of_range": float(outside / m),
            "plot": _histogram(x, y, PLOT_BINS)}


# ----------------------------------------------------------------------------- categories


def _codes(ref: pd.Series, cur: pd.Series) -> tuple[np.ndarray, np.ndarray, list]:
    """Counts per category of both sides (reference categories first, then new ones) and labels:
    each side factorized once, the (few) distinct values matched."""
    rc, ru = pd.factorize(ref, sort=False)
    cc, cu = pd.factorize(cur, sort=False)
    where = pd.Index(ru).get_indexer(cu)
    fresh = np.flatnonzero(where < 0)
    where[fresh] = len(ru) + np.arange(len(fresh))
    labels = list(ru) + [cu[i] for i in fresh]
    a = np.bincount(rc[rc >= 0], minlength=len(labels)).astype(float)
    b = np.bincount(where[cc[cc >= 0]], minlength=len(labels)).astype(float)
    return a, b, labels


def _chi2(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x K table, categories with an expected count under 5
    pooled into one."""
    from scipy import stats

    keep = (a + b) > 0
    a, b = a[keep], b[keep]
    n = a.sum() + b.sum()
    expected_min = np.minimum(a.sum(), b.sum()) * (a + b) / n
    sparse = expected_min < 5
    if sparse.any():
        a = np.append(a[~sparse], a[sparse].sum())
        b = np.append(b[~sparse], b[sparse].sum())
        keep = (a + b) > 0
        a, b = a[keep], b[keep]
    if len(a) < 2:
        return 0.0, 1.0
    res = stats.chi2_contingency(np.vstack([a, b]))
    return float(res.statistic), float(res.pvalue)


def _jensen_shannon(a: np.ndarray, b: np.ndarray) -> float:
    p, q = a / a.sum(), b / b.sum()
    mid = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log(x[nz] / mid[nz])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def _category_plot(a: np.ndarray, b: np.ndarray, labels: list) -> dict[str, Any]:
    pa, pb = a / a.sum(), b / b.sum()
    order = np.argsort(-(pa + pb), kind="stable")
    top, rest = order[:PLOT_CATEGORIES], order[PLOT_CATEGORIES:]
    names = [str(labels[i]) for i in top]
    ref, cur = list(pa[top]), list(pb[top])
    if len(rest):
        names.append(f"({len(rest)} others)")
        ref.append(float(pa[rest].sum()))
        cur.append(float(pb[rest].sum()))
    return {"numeric": False, "categories": names, "reference": np.array(ref), "current": np.array(cur)}


def categorical_stats(ref: pd.Series, cur: pd.Series) -> dict[str, Any]:
    """Chi-square statistic and p-value, Jensen-Shannon distance, PSI, new categories and the top
    category shares of two categorical columns; empty dict when a side has no values."""
    a, b, labels = _codes(ref, cur)
    n, m = int(a.sum()), int(b.sum())
    if not n or not m:
        return {"n_reference": n, "n_current": m}
    chi2, p = _chi2(a, b)
    new = np.flatnonzero(a == 0)
    new = new[b[new] > 0]
    new_sorted = new[np.argsort(-b[new], kind="stable")]
    return {"n_reference": n, "n_current": m, "chi2": chi2, "chi2_p": p, "jensen_shannon": _jensen_shannon(a, b),
            "psi": _psi(a, b), "new_share": float(b[new].sum() / m), "new_count": int(b[new].sum()),
            "new_values": [labels[i] for i in new_sorted[:5]], "plot": _category_plot(a, b, labels)}


# ----------------------------------------------------------------------------- missing values, corrections


def missing_test(missing_ref: int, rows_ref: int, missing_cur: int, rows_cur: int) -> float:
    """Two-sided p-value of a two-proportion z-test that both missing shares are equal."""
    from scipy.stats import norm

    if not rows_ref or not rows_cur:
        return float("nan")
    p1, p2 = missing_ref / rows_ref, missing_cur / rows_cur
    pooled = (missing_ref + missing_cur) / (rows_ref + rows_cur)
    se = math.sqrt(pooled * (1 - pooled) * (1 / rows_ref + 1 / rows_cur))
    if se == 0:
        return 1.0 if p1 == p2 else 0.0
    return float(2 * norm.sf(abs(p2 - p1) / se))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaN stays NaN). Under no drift at all, the chance that
    any adjusted value falls below alpha is at most alpha."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if not len(ok):
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    k = len(order)
    ranked = p[order] * k / np.arange(1, k + 1)
    out[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return out
