"""Relations between columns and with the target, for :mod:`workbench.explore`: target kinds and
rates with intervals (all rows), and the expensive statistics run on the seeded sample: correlations,
Cramér's V and single-column leakage scores."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.parallel import parallel_map
from ..data._profile import as_float

# ----------------------------------------------------------------------------- target


@dataclass(frozen=True)
class TargetInfo:
    """What kind of target a column is: ``binary``, ``multiclass``, ``numeric``, ``constant``, ``empty``."""

    name: str
    kind: str
    positive: Any = None
    classes: int = 0
    message: str = ""


_POSITIVE = ("yes", "y", "true", "1", "1.0", "positive", "pos", "churn", "churned", "default", "fraud", "t")


def target_info(s: pd.Series, counts: pd.Series | None = None) -> TargetInfo:
    """Classify a target column; for a binary one pick the positive label (1, True, "Yes", else the rarer).
    ``counts`` (value -> rows, of all rows when ``s`` is a sample) replaces ``s.value_counts()``."""
    name = str(s.name)
    vc = s.value_counts(dropna=True) if counts is None else counts[counts > 0].sort_values(ascending=False,
                                                                                         kind="stable")
    if vc.empty:
        return TargetInfo(name, "empty", message=f"target {name!r} is all missing: target analysis skipped")
    if len(vc) == 1:
        return TargetInfo(name, "constant", classes=1,
                          message=f"target {name!r} has a single value ({vc.index[0]!r}): target analysis skipped")
    if len(vc) == 2:
        labels = list(vc.index)
        pos = next((v for v in labels if str(v).strip().lower() in _POSITIVE), None)
        if pos is None:
            pos = vc.index[-1]
        return TargetInfo(name, "binary", positive=pos, classes=2)
    numeric = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
    if numeric and (len(vc) > 20 or not pd.api.types.is_integer_dtype(s.dtype)):
        return TargetInfo(name, "numeric", message=f"target {name!r} is numeric: showing its mean by group")
    return TargetInfo(name, "multiclass", classes=len(vc),
                      message=f"target {name!r} has {len(vc)} classes, not 2: target rates need a binary target; "
                              "showing its class distribution instead")


def target_vector(s: pd.Series, info: TargetInfo) -> np.ndarray:
    """The target as floats: 1/0 for a binary target (NaN where missing), values for a numeric one."""
    if info.kind == "binary":
        y = (s == info.positive).to_numpy(dtype="float64", na_value=0.0)
        y[s.isna().to_numpy()] = np.nan
        return y
    return s.to_numpy(dtype="float64", na_value=np.nan)


def wilson_interval(k: np.ndarray, n: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval of ``k`` successes in ``n`` trials (vectorized)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z * z / n
        center = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return center - half, center + half


def bin_codes(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value for sorted ``edges`` (``searchsorted(edges[1:-1], v, "right")``: the
    first bin holds everything below ``edges[1]``, the last everything from ``edges[-2]`` on; NaN
    gets an arbitrary bin, callers mark missing values): one comparison per inner edge, counted in
    bytes, which beats a binary search per row."""
    inner = edges[1:-1]
    if len(inner) >= 255:
        return np.searchsorted(inner, v, side="right").astype(np.int64)
    codes = np.zeros(len(v), dtype=np.uint8)
    for e in inner:
        codes += v >= e
    return codes.astype(np.int64)


def sorted_bin_codes(v: np.ndarray, edges: np.ndarray, order: np.ndarray) -> np.ndarray:
    """:func:`bin_codes` from ``order``, the rows of the non-missing values of ``v`` in ascending order:
    each inner edge is found by binary search in the sorted values, and the bins are written back
    in one pass (rows left out of ``order`` get bin 0)."""
    xs = v[order]
    cuts = np.searchsorted(xs, edges[1:-1], side="left")
    sizes = np.diff(np.concatenate(([0], cuts, [len(xs)])))
    codes = np.zeros(len(v), dtype=np.int64)
    codes[order] = np.repeat(np.arange(len(sizes)), sizes)
    return codes


def bin_labels(edges: np.ndarray, kind: str) -> list[str]:
    """Labels of the bins between sorted unique ``edges`` (``[a, b)``, the last ``[a, b]``)."""
    fmt = (lambda x: str(pd.Timestamp(int(x)).date())) if kind == "datetime" else (lambda x: f"{x:.4g}")
    if len(edges) == 1:
        return [fmt(edges[0])]
    return [f"[{fmt(a)}, {fmt(b)}{']' if i == len(edges) - 2 else ')'}"
            for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]


def group_codes(s: pd.Series, kind: str, bins: int = 10, top: int = 15, edges: np.ndarray | None = None,
                factorized: tuple | None = None, order: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Integer group per row and the group labels: quantile bins for numbers (or the given bin
    ``edges``; ``order``, the rows of the non-missing values in ascending order, saves comparing
    every row with every edge), the ``top`` most frequent values (the rest as "(other)") for
    categories (reusing ``factorized`` = (codes, uniques, counts) when given); "(missing)" as its
    own group."""
    if kind in ("numeric", "datetime"):
        v = as_float(s)
        if edges is None:
            finite = v[np.isfinite(v)]
            edges = np.quantile(finite, np.linspace(0, 1, bins + 1)) if finite.size else np.array([0.0])
        edges = np.unique(edges)
        many = order is not None and len(edges) > 17  # a few comparisons beat writing every row back in order
        codes = sorted_bin_codes(v, edges, order) if many else bin_codes(v, edges)
        labels = bin_labels(edges, kind)
        missing = np.isnan(v)
        if missing.any():
            codes[missing] = len(labels)
            labels.append("(missing)")
        return codes, labels
    if factorized is None:
        codes, uniq = pd.factorize(s, sort=False)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniq))
    else:
        codes, uniq, counts = factorized
    keep = np.argsort(-counts, kind="stable")[:top]
    keep = keep[counts[keep] > 0]
    labels = [str(uniq[i])[:40] for i in keep] + (["(other)"] if np.count_nonzero(counts) > len(keep) else [])
    remap = np.full(len(uniq) + 1, len(keep), dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    if counts.sum() < len(codes):  # missing values (code -1) become the last group
        remap[-1] = len(labels)
        labels.append("(missing)")
    return remap[codes], labels


def target_by_group(s: pd.Series, kind: str, y: np.ndarray, target_kind: str, bins: int = 10,
                    top: int = 15, edges: np.ndarray | None = None, factorized: tuple | None = None,
                    order: np.ndarray | None = None) -> pd.DataFrame:
    """Target rate (binary, with a Wilson interval) or mean (numeric, normal interval) per group
    (groups as :func:`group_codes` makes them)."""
    codes, labels = group_codes(s, kind, bins=bins, top=top, edges=edges, factorized=factorized, order=order)
    ok = ~np.isnan(y)
    codes, yv = codes[ok], y[ok]
    k = len(labels)
    n = np.bincount(codes, minlength=k).astype(float)
    total = np.bincount(codes, weights=yv, minlength=k)
    squares = np.bincount(codes, weights=yv * yv, minlength=k) if target_kind != "binary" else None
    return rate_table(labels, n, total, squares, target_kind)


def rate_table(labels: list[str], n: np.ndarray, total: np.ndarray, squares: np.ndarray | None,
               target_kind: str) -> pd.DataFrame:
    """The table of :func:`target_by_group` from per-group rows ``n``, target sums and sums of squares."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = total / n
        if target_kind == "binary":
            lo, hi = wilson_interval(total, n)
        else:
            var = np.maximum(squares / n - rate ** 2, 0) * n / np.maximum(n - 1, 1)
            half = 1.96 * np.sqrt(var / n)
            lo, hi = rate - half, rate + half
    out = pd.DataFrame({"group": labels, "rows": n.astype(int), "rate": rate, "low": lo, "high": hi})
    return out[out["rows"] > 0].reset_index(drop=True)


# ----------------------------------------------------------------------------- heavy statistics


def _small_int_offset(x: np.ndarray) -> int | None:
    """The minimum of ``x`` when every value is an integer in a range counting can cover, else None."""
    if len(x) <= 1000:
        return None
    lo, hi = float(x.min()), float(x.max())
    if np.isfinite(lo) and np.isfinite(hi) and hi - lo <= max(4 * len(x), 1 << 16) and lo == int(lo) \
            and np.array_equal(x, np.floor(x)):
        return int(lo)
    return None


def average_ranks(v: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Ranks 1..n of the non-missing values of ``v`` (ties get their average rank), NaN stays NaN.
    Integers in a small range are ranked by counting (one ``bincount``), others by one sort, or
    none when ``order`` (the rows of the non-missing values in ascending order) is given."""
    out = np.full(len(v), np.nan)
    if order is None:
        ok = np.flatnonzero(~np.isnan(v))
        x = v[ok]
        if x.size == 0:
            return out
        lo = _small_int_offset(x)
        if lo is not None:
            idx = (x - lo).astype(np.int64)
            counts = np.bincount(idx)
            out[ok] = (np.cumsum(counts) - (counts - 1) / 2)[idx]  # rows before the value + (count + 1) / 2
            return out
        order = ok[np.argsort(x)]  # ties get their average rank below, so the sort need not be stable
    sv = v[order]
    change = np.concatenate(([True], sv[1:] != sv[:-1]))
    starts = np.flatnonzero(change)
    sizes = np.diff(np.concatenate((starts, [len(sv)])))
    out[order] = np.repeat(starts + (sizes + 1) / 2, sizes)
    return out


def pairwise_pearson(values: list[np.ndarray], block: int = 1 << 14) -> np.ndarray:
    """Pearson's r of every pair of columns over the rows where both have a value (what pandas'
    ``DataFrame.corr`` computes pair by pair), from four matrix products per block of rows: the
    pairwise counts, sums, sums of squares and cross products of the mean-centred columns."""
    k, n = len(values), len(values[0])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column has no mean
        centers = np.nan_to_num(np.array([np.nanmean(v) if len(v) else 0.0 for v in values]))
    count, total, square, cross = (np.zeros((k, k)) for _ in range(4))
    for start in range(0, n, block):
        x = np.column_stack([v[start:start + block] for v in values]) - centers
        present = ~np.isnan(x)
        x[~present] = 0.0
        m = present.astype(np.float64)
        count += m.T @ m          # rows where both i and j are present
        total += x.T @ m          # [i, j]: sum of column i over those rows
        square += (x * x).T @ m   # [i, j]: sum of squares of column i over those rows
        cross += x.T @ x          # zero wherever either is missing
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = cross - total * total.T / count
        var = square - total * total / count  # [i, j]: spread of column i over the rows shared with j
        r = cov / np.sqrt(var * var.T)
    flat = (var <= 1e-12 * square) | (var.T <= 1e-12 * square.T) | (count < 2)  # constant there, or < 2 rows
    r[flat] = np.nan
    np.clip(r, -1.0, 1.0, out=r)
    diag = np.diag_indices(k)
    r[diag] = np.where(flat[diag], np.nan, 1.0)
    return r


def numeric_correlation(df: pd.DataFrame, columns: list[str], method: str = "spearman",
                        orders: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Pairwise correlation (pairwise-complete rows, as ``DataFrame.corr``); Spearman ranks each column
    once, on its own non-missing values (from ``orders[column]``, its rows in ascending order of
    value, when given), then takes Pearson's correlation of the ranks."""
    orders = orders or {}

    def values(c: str) -> np.ndarray:
        v = as_float(df[c])
        return average_ranks(v, orders.get(c)) if method == "spearman" else v

    values = parallel_map(values, columns, heavy=len(df) >= 50_000)
    return pd.DataFrame(pairwise_pearson(values), index=columns, columns=columns)


def cramers_v_matrix(df: pd.DataFrame, columns: list[str], factorized: dict[str, tuple] | None = None
                     ) -> pd.DataFrame:
    """Bias-corrected Cramér's V between categorical columns (rows missing either value dropped);
    ``factorized`` (codes, uniques, counts per column, of exactly ``df``'s rows) saves factorizing."""
    factorized = factorized or {}
    codes = {}
    for c in columns:  # missing values get the last code: their row and column of a table are dropped
        cd, uniq = factorized[c][:2] if c in factorized else pd.factorize(df[c])
        cd = np.asarray(cd, dtype=np.int64)
        codes[c] = (np.where(cd < 0, len(uniq), cd), len(uniq))
    k = len(columns)
    out = np.eye(k)
    for i in range(k):
        a, ka = codes[columns[i]]
        for j in range(i + 1, k):
            b, kb = codes[columns[j]]
            table = np.bincount(a * (kb + 1) + b, minlength=(ka + 1) * (kb + 1)).reshape(ka + 1, kb + 1)
            out[i, j] = out[j, i] = _cramers_v(table[:ka, :kb].astype(float))
    return pd.DataFrame(out, index=columns, columns=columns)


def _cramers_v(table: np.ndarray) -> float:
    """Bias-corrected Cramér's V of a contingency table (rows missing either value not in it)."""
    n = float(table.sum())
    if n < 2:
        return float("nan")
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]
    r, c = table.shape
    if r < 2 or c < 2:
        return 0.0
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    phi2 = float(((table - expected) ** 2 / expected).sum()) / n
    phi2c = max(0.0, phi2 - (r - 1) * (c - 1) / (n - 1))
    rc, cc = r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)
    d = min(rc - 1, cc - 1)
    return float(np.sqrt(phi2c / d)) if d > 0 else 0.0


def grouped_auc(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    """AUC when every row of group ``i`` has score ``score[i]``, from per-group positive and negative
    counts: O(groups) instead of ranking every row. Groups with equal scores count as ties."""
    uniq, inv = np.unique(score, return_inverse=True)
    p = np.bincount(inv, weights=pos, minlength=len(uniq))
    q = np.bincount(inv, weights=neg, minlength=len(uniq))
    n1, n0 = p.sum(), q.sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    below = np.concatenate(([0.0], np.cumsum(q)[:-1]))
    return float((p * (below + 0.5 * q)).sum() / (n1 * n0))


@dataclass(frozen=True)
class _Split:
    """The leakage check's rows: ``part`` 0 (fit), 1 (evaluate) or 2 (no target) per row, the target
    per row (class codes or numbers, 0 where missing), and what does not depend on the column."""

    part: np.ndarray
    y: np.ndarray
    evaluate: np.ndarray  # row numbers of the evaluation half
    prior: float = 0.0    # mean target of the fitting half (binary, numeric)
    total: float = 0.0    # sum of squares about the evaluation half's mean (numeric)
    classes: int = 0      # multiclass


def _split(ys: pd.Series, info: TargetInfo, seed: int) -> _Split | None:
    keep = ys.notna().to_numpy()
    fit = np.random.default_rng(seed).random(int(keep.sum())) < 0.5
    if fit.sum() < 2 or (~fit).sum() < 2:
        return None
    part = np.full(len(ys), 2, dtype=np.int64)
    part[keep] = ~fit
    rows = np.flatnonzero(keep)
    if info.kind == "multiclass":
        y = np.where(keep, np.asarray(pd.factorize(ys)[0]), 0).astype(np.int64)
        return _Split(part, y, rows[~fit], classes=int(y.max()) + 1)
    y = np.where(keep, target_vector(ys, info), 0.0)
    ev = y[rows[~fit]]
    return _Split(part, y, rows[~fit], prior=float(y[rows[fit]].mean()), total=float(((ev - ev.mean()) ** 2).sum()))


def _group_score(codes: np.ndarray, k: int, sp: _Split, kind: str) -> tuple[str, float]:
    """Held-out score of predicting the target by the fitted mean (or majority class) of each group;
    per-group counts and sums of both halves come from one ``bincount`` over all rows."""
    key = codes * 3 + sp.part
    if kind == "multiclass":
        nc = sp.classes
        table = np.bincount(key * nc + sp.y, minlength=3 * k * nc).reshape(k, 3, nc)
        fit, ev = table[:, 0], table[:, 1]
        pred = np.where(fit.sum(1) > 0, fit.argmax(1), fit.sum(0).argmax())
        return "accuracy", float(ev[np.arange(k), pred].sum() / ev.sum())
    cnt = np.bincount(key, minlength=3 * k).reshape(k, 3)
    sums = np.bincount(key, weights=sp.y, minlength=3 * k).reshape(k, 3)
    n_fit = cnt[:, 0].astype(float)
    means = (sums[:, 0] + sp.prior) / (n_fit + 1)
    means[n_fit == 0] = sp.prior
    if kind == "binary":
        return "AUC", grouped_auc(means, sums[:, 1], cnt[:, 1] - sums[:, 1])
    resid = float(((sp.y[sp.evaluate] - means[codes[sp.evaluate]]) ** 2).sum())
    return "R²", 1 - resid / sp.total if sp.total > 0 else float("nan")


def single_column_scores(df: pd.DataFrame, kinds: dict[str, str], target: str, info: TargetInfo,
                         seed: int = 0, bins: int = 50, edges: dict[str, np.ndarray] | None = None,
                         factorized: dict[str, tuple] | None = None, orders: dict[str, np.ndarray] | None = None
                         ) -> pd.DataFrame:
    """How well each column alone predicts the target on held-out rows.

    Each column becomes groups (categories, or ``bins`` quantile bins: ``edges[column]`` when given,
    e.g. the summary's quantiles of all rows, else quantiles of ``df``'s rows with a target); the
    per-group target mean is fitted on a random half and scored on the other half: AUC for a binary
    target, accuracy for a multiclass one, R² for a numeric one. Values seen only in the fitting half
    (IDs) score as chance. ``factorized`` (codes, uniques, counts per column, of exactly ``df``'s rows)
    saves factorizing categories again, and ``orders`` (rows in ascending order of value, of exactly
    ``df``'s rows) comparing every value with every bin edge.
    """
    edges, factorized, orders = edges or {}, factorized or {}, orders or {}
    ys = df[target]
    sp = _split(ys, info, seed)
    cols = [c for c, kind in kinds.items() if c != target and kind != "empty"]
    if sp is None or not cols:
        return pd.DataFrame(columns=["column", "metric", "score"])
    keep = sp.part < 2

    def score(c: str) -> dict[str, Any]:
        e = edges.get(c)
        if e is None and kinds[c] in ("numeric", "datetime") and not keep.all():  # bins of the rows with a target
            v = as_float(df[c])[keep]
            finite = v[np.isfinite(v)]
            e = np.quantile(finite, np.linspace(0, 1, bins + 1)) if finite.size else np.array([0.0])
        codes, labels = group_codes(df[c], kinds[c], bins=bins, top=10 ** 9, edges=e, factorized=factorized.get(c),
                                    order=orders.get(c))
        metric, value = _group_score(codes, len(labels), sp, info.kind)
        return {"column": c, "metric": metric, "score": value}

    rows = parallel_map(score, cols, heavy=len(df) >= 20_000)
    return pd.DataFrame(rows, columns=["column", "metric", "score"])
