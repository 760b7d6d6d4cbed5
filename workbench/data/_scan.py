"""Column profiling out of core: what :func:`column_summary`, :func:`overview` and :func:`missing_patterns`
compute in memory, from one pass over a dataset's record batches, with memory bounded by the batch.

Each batch is read into pandas and typed as the in-memory path types the whole table (``prepare_frame``;
conversions decided once, on a sample, so every batch gets the same kinds). Per column it keeps exact
counts (rows, missing, zeros, infinities), exact moments merged across batches (Chan et al.: count, mean,
second and third central moments: mean, std and skew as in memory to ~1e-12), min and max, exact value
counts while a column has at most ``EXACT_VALUES`` distinct values (then quantiles and histograms are exact
too) and beyond that a KLL sketch (quantiles and histogram bins within its rank error, ``rank_error``),
the ``TOP_KEEP`` most frequent values seen (the top value: a lower bound) and a k-minimum-values sketch
(the distinct count: relative error about 1/sqrt(KMV_K)). Column scans of consecutive parts merge. The
table's scan (missing-value patterns, duplicate rows, memory) is :mod:`._scan_table`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._profile import HIST_BINS, QUANTILES, _hist_from_values, as_float

EXACT_VALUES = 50_000  # exact value counts (and so exact quantiles) up to this many distinct values
TOP_KEEP = 1_000       # most frequent values kept beyond that
KMV_K = 4_096          # k-minimum-values sketch of the distinct count: ~1.6% relative error
SKETCH_K = 800         # KLL accuracy: normalized rank error ~0.4% (99% confidence)


def _merge_moments(a: tuple, b: tuple) -> tuple:
    """Merge (count, mean, M2, M3) of two parts (Chan, Golub and LeVeque; Pébay for M3)."""
    na, ma, m2a, m3a = a
    nb, mb, m2b, m3b = b
    if not na:
        return b
    if not nb:
        return a
    n = na + nb
    d = mb - ma
    m2 = m2a + m2b + d * d * na * nb / n
    m3 = m3a + m3b + d ** 3 * na * nb * (na - nb) / n ** 2 + 3 * d * (na * m2b - nb * m2a) / n
    return n, ma + d * nb / n, m2, m3


def _kmv(old: np.ndarray, values: Any) -> np.ndarray:
    """The ``KMV_K`` smallest distinct 64-bit hashes of ``old`` and ``values`` (distinct values)."""
    hashed = pd.util.hash_array(np.asarray(values)) if len(values) else np.empty(0, np.uint64)
    if len(old) == KMV_K:
        hashed = hashed[hashed < old[-1]]  # only these can enter: the merge stays small
    if len(hashed) > KMV_K:  # distinct values hash apart: the KMV_K smallest without sorting them all
        hashed = np.partition(hashed, KMV_K)[:KMV_K]
    return np.unique(np.concatenate([old, hashed]))[:KMV_K]


def _merge_counts(values: np.ndarray, counts: np.ndarray, v: np.ndarray, c: np.ndarray) -> tuple:
    codes, uniq = pd.factorize(np.concatenate([values, v]))
    return np.asarray(uniq), np.bincount(codes, weights=np.concatenate([counts, c]), minlength=len(uniq)).astype(np.int64)


@dataclass
class ColumnScan:
    """One column's aggregates. ``numeric`` (numbers and dates as floats): moments, extremes, a KLL sketch
    and value counts sorted by value; otherwise value counts in order of first appearance."""

    name: str
    numeric: bool
    rows: int = 0
    missing: int = 0
    zeros: int = 0
    infinite: int = 0
    moments: tuple = (0, 0.0, 0.0, 0.0)
    low: float = math.inf
    high: float = -math.inf
    values: Any = None            # numeric: distinct values (sorted); else a Series value -> count
    counts: Any = None
    exact: bool = True            # value counts complete (False: the TOP_KEEP most frequent only)
    kmv: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    sketch: Any = None
    dtypes: set = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.numeric:
            from datasketches import kll_doubles_sketch

            self.sketch = kll_doubles_sketch(SKETCH_K)
            self.values, self.counts = np.empty(0), np.empty(0, np.int64)
        else:
            self.values = pd.Series([], dtype="int64")

    def add(self, s: pd.Series) -> np.ndarray:
        """Fold in one batch of the column; returns its missing-value mask."""
        self.rows += len(s)
        self.dtypes.add(str(s.dtype))
        return self._add_numeric(as_float(s)) if self.numeric else self._add_other(s)

    def _add_numeric(self, v: np.ndarray) -> np.ndarray:
        nan = np.isnan(v)
        x = v[~nan] if nan.any() else v
        self.missing += int(nan.sum())
        if not len(x):
            return nan
        self.low, self.high = min(self.low, float(x.min())), max(self.high, float(x.max()))
        fin = x[np.isfinite(x)]
        self.infinite += len(x) - len(fin)
        self.zeros += int(np.count_nonzero(fin == 0))
        if len(fin):
            mean = float(fin.mean())
            d = fin - mean
            d2 = d * d
            cube = float((d2 * d).sum())  # not np.dot: BLAS rounds it by its thread count (1 on Dask workers)
            self.moments = _merge_moments(self.moments, (len(fin), mean, float(d2.sum()), cube))
            self.sketch.update(fin)
        codes, uniq = pd.factorize(x)  # a hash table: no sort (values are sorted once, at the end)
        cnt = np.bincount(codes, minlength=len(uniq))
        self.kmv = _kmv(self.kmv, uniq)
        if not self.exact:
            uniq, cnt = _top(uniq, cnt)
        self.values, self.counts = _merge_counts(self.values, self.counts, uniq, cnt)
        if len(self.values) > EXACT_VALUES or not self.exact:
            self.exact = False
            self.values, self.counts = _top(self.values, self.counts)
        return nan

    def merge(self, o: ColumnScan) -> None:
        """Fold in the aggregates of another part of the same column (parts merged in row order)."""
        self.rows, self.missing, self.zeros, self.infinite = (self.rows + o.rows, self.missing + o.missing,
                                                              self.zeros + o.zeros, self.infinite + o.infinite)
        self.moments = _merge_moments(self.moments, o.moments)
        self.low, self.high = min(self.low, o.low), max(self.high, o.high)
        self.kmv = np.unique(np.concatenate([self.kmv, o.kmv]))[:KMV_K]
        self.dtypes |= o.dtypes
        self.exact = self.exact and o.exact
        if self.numeric:
            self.sketch.merge(o.sketch)
            self.values, self.counts = _merge_counts(self.values, self.counts, o.values, o.counts)
            if len(self.values) > EXACT_VALUES or not self.exact:
                self.exact = False
                self.values, self.counts = _top(self.values, self.counts)
            return
        merged = pd.concat([self.values, o.values]).groupby(level=0, sort=False).sum() if len(self.values) else o.values
        if len(merged) > EXACT_VALUES or not self.exact:
            self.exact = False
            merged = merged.sort_values(ascending=False, kind="stable").head(TOP_KEEP)
        self.values = merged

    def __getstate__(self) -> dict:  # the KLL sketch travels as its own bytes
        state = dict(self.__dict__)
        if self.numeric:
            state["sketch"] = self.sketch.serialize()
        return state

    def __setstate__(self, state: dict) -> None:
        if state["numeric"]:
            from datasketches import kll_doubles_sketch

            state["sketch"] = kll_doubles_sketch.deserialize(state["sketch"])
        self.__dict__.update(state)

    def finish(self) -> None:
        """Numeric value counts in ascending order of value (what quantiles and the top value read)."""
        if self.numeric:
            order = np.argsort(self.values, kind="stable")
            self.values, self.counts = self.values[order], self.counts[order]

    def _add_other(self, s: pd.Series) -> np.ndarray:
        codes, uniq = pd.factorize(s, sort=False)
        missing = codes < 0
        self.missing += int(missing.sum())
        counts = np.bincount(codes[~missing], minlength=len(uniq))
        new = pd.Series(counts, index=pd.Index(np.asarray(uniq, dtype=object), tupleize_cols=False))
        self.kmv = _kmv(self.kmv, np.asarray(uniq, dtype=object))
        merged = pd.concat([self.values, new]).groupby(level=0, sort=False).sum() if len(self.values) else new
        if len(merged) > EXACT_VALUES or not self.exact:
            self.exact = False
            merged = merged.sort_values(ascending=False, kind="stable").head(TOP_KEEP)
        self.values = merged
        return missing

    @property
    def n_unique(self) -> int:
        if self.exact:
            return int(len(self.values))
        if len(self.kmv) < KMV_K:
            return int(len(self.kmv))
        return int(round((KMV_K - 1) / (float(self.kmv[-1]) / 2.0 ** 64)))

    @property
    def rank_error(self) -> float:
        """Bound on every quantile's and histogram bin's rank (99% confidence); 0 when counts are exact."""
        return 0.0 if self.exact or not self.numeric else float(self.sketch.normalized_rank_error(False))


def _top(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(values) <= TOP_KEEP:
        return values, counts
    keep = np.argpartition(-counts, TOP_KEEP)[:TOP_KEEP]
    return values[keep], counts[keep]


def _interpolated(values: np.ndarray, counts: np.ndarray, ps: np.ndarray) -> np.ndarray:
    """Quantiles ``ps`` of the values repeated ``counts`` times, interpolated as numpy does."""
    cum = np.cumsum(counts)
    n = int(cum[-1])
    pos = ps * (n - 1)
    a = np.floor(pos).astype(np.int64)
    b = np.minimum(a + 1, n - 1)
    va, vb = values[np.searchsorted(cum, a, side="right")], values[np.searchsorted(cum, b, side="right")]
    return va + (vb - va) * (pos - a)


def numeric_shape(c: ColumnScan) -> dict[str, Any]:
    """Quartiles, deciles, 2% quantiles and histograms: exact from value counts, else from the KLL sketch
    (histogram bins over the exact min and max of the finite values, as in memory)."""
    out: dict[str, Any] = {}
    fin = np.isfinite(c.values)
    if c.exact:
        out.update(zip(("p25", "p50", "p75"), map(float, _interpolated(c.values, c.counts, np.array([.25, .5, .75])))))
        if not fin.any():
            return out
        v, w = c.values[fin], c.counts[fin]
        out["_deciles"] = _interpolated(v, w, np.linspace(0, 1, 11))
        out["_quantiles"] = _interpolated(v, w, np.linspace(0, 1, QUANTILES + 1))
        out["_hist"] = {b: _hist_from_values(v, w, float(v[0]), float(v[-1]), b) for b in HIST_BINS}
        return out
    q = c.sketch.get_quantiles([0.25, 0.5, 0.75])
    out.update(p25=float(q[0]), p50=float(q[1]), p75=float(q[2]))
    lo, hi = c.sketch.get_min_value(), c.sketch.get_max_value()
    out["_deciles"] = np.array(c.sketch.get_quantiles(np.linspace(0, 1, 11)))
    out["_quantiles"] = np.array(c.sketch.get_quantiles(np.linspace(0, 1, QUANTILES + 1)))
    out["_hist"] = {}
    n = c.moments[0]
    for b in HIST_BINS:
        edges = np.array([lo - 0.5, hi + 0.5]) if lo == hi else np.linspace(lo, hi, b + 1)
        cdf = np.concatenate([[0.0], np.asarray(c.sketch.get_cdf(edges[1:-1]))[:-1], [1.0]])
        out["_hist"][b] = (np.round(np.diff(cdf) * n).astype(np.int64), edges)
    return out


def _numeric_row(c: ColumnScan, datetime: bool, integer: bool) -> dict[str, Any]:
    top = int(np.argmax(c.counts))
    st: dict[str, Any] = {"n_unique": c.n_unique, "top": float(c.values[top]), "top_count": int(c.counts[top]),
                          "min": c.low, "max": c.high, "n_infinite": c.infinite, **numeric_shape(c)}
    m, mean, m2, m3 = c.moments
    if m:
        st.update(mean=mean, std=math.sqrt(m2 / (m - 1)) if m > 1 else 0.0, zeros=c.zeros)
        if m > 2 and m2 > 0:
            st["skew"] = (m3 / m) / (m2 / m) ** 1.5 * math.sqrt(m * (m - 1)) / (m - 2)
    if datetime:
        for k in ("top", "min", "max", "p25", "p50", "p75", "mean"):
            if k in st:
                st[k] = pd.Timestamp(int(st[k])) if np.isfinite(st[k]) else st[k]
        for k in ("std", "skew", "zeros", "n_infinite"):
            st.pop(k, None)
        st["kind"] = "datetime"
    else:
        st["kind"] = "boolean" if st["n_unique"] <= 2 else "numeric"
        if integer or float(st["top"]).is_integer():
            st["top"] = int(st["top"]) if np.isfinite(st["top"]) else st["top"]
    return st


def _dtype(c: ColumnScan, planned: str) -> str:
    if len(c.dtypes) == 1:
        return next(iter(c.dtypes))
    return "float64" if c.dtypes <= {"int64", "float64", "Int64"} else planned


def summary_row(c: ColumnScan, planned: str, special: str | None) -> dict[str, Any]:
    """The row ``column_summary`` gives the column in memory (with the ``_`` extras it keeps)."""
    n = c.rows
    row: dict[str, Any] = {"column": c.name, "dtype": _dtype(c, planned), "missing": c.missing,
                           "missing_fraction": c.missing / n if n else 0.0}
    if c.missing == n:
        row.update(kind="empty", n_unique=0)
    elif c.numeric:
        integer = "int" in row["dtype"].lower()
        row.update(_numeric_row(c, planned.startswith("datetime64"), integer))
        if row["kind"] == "boolean":  # grouped as categories, as in memory: its (at most two) values and counts
            values = c.values.astype(np.int64) if integer else c.values
            row["_factorized"] = (None, np.asarray(values, dtype=object), c.counts.astype(np.int64))
    else:
        counts = c.values.to_numpy()
        top = int(np.argmax(counts))
        nu = c.n_unique
        row.update(kind=special or ("boolean" if nu <= 2 else "categorical"), n_unique=nu, top=c.values.index[top],
                   top_count=int(counts[top]),
                   _factorized=(None, np.asarray(c.values.index, dtype=object), counts.astype(np.int64)))
    non_missing = n - c.missing
    row["unique_fraction"] = row["n_unique"] / non_missing if non_missing else 0.0
    row["top_fraction"] = row.get("top_count", 0) / non_missing if non_missing else 0.0
    return row


def _scans_as_numbers(s: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)) \
        or pd.api.types.is_datetime64_any_dtype(s.dtype)
