"""Column profiling shared by every domain (exploration, drift): vectorized per-column statistics,
no plotting, no display. Preparing awkward columns, column kinds, summaries, overview, missing
patterns and the seeded sample that expensive statistics use."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.parallel import parallel_map

KINDS = ("numeric", "boolean", "categorical", "datetime", "mixed", "empty")


# ----------------------------------------------------------------------------- preparing a frame


def _dedupe_names(columns: list[str]) -> tuple[list[str], list[str]]:
    seen: dict[str, int] = {}
    out, notes = [], []
    for c in columns:
        if c in seen:
            seen[c] += 1
            new = f"{c} ({seen[c]})"
            while new in seen:
                seen[c] += 1
                new = f"{c} ({seen[c]})"
            notes.append(f"column name {c!r} appears more than once: the copy is shown as {new!r}")
            seen[new] = 1
            out.append(new)
        else:
            seen[c] = 1
            out.append(c)
    return out, notes


def _looks_like_dates(s: pd.Series) -> bool:
    head = s.iloc[:2000].dropna().head(200)  # the first 200 values, without copying a long column
    if len(head) < 200 and len(s) > 2000:
        head = s.dropna().head(200)
    if head.empty:
        return False
    text = head.astype(str)
    lengths = text.str.len()
    if lengths.min() < 8 or lengths.max() > 35 or not text.str.contains(r"[-/:]", regex=True).all():
        return False
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    return bool(parsed.notna().all())


def prepare_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """A frame every statistic can digest, the original dtype kind per column, and notes.

    Duplicate column labels are renamed, object columns holding mixed Python types become text,
    object columns of numbers become numeric, ISO-formatted date strings become datetimes and
    timedeltas become seconds. The input frame is not changed.
    """
    names, notes = _dedupe_names([str(c) for c in df.columns])
    out = df.copy(deep=False)
    out.columns = names
    special: dict[str, str] = {}
    for c in names:
        s = out[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[c] = s.dt.tz_convert(None)
        elif pd.api.types.is_timedelta64_dtype(s.dtype):
            out[c] = s.dt.total_seconds()
            notes.append(f"{c!r} holds durations: shown in seconds")
        elif s.dtype == object:
            inferred = pd.api.types.infer_dtype(s, skipna=True)
            if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
                out[c] = pd.to_numeric(s, errors="coerce")
            elif inferred == "boolean":
                out[c] = s.astype("boolean")
            elif inferred in ("datetime", "datetime64", "date"):
                out[c] = pd.to_datetime(s, errors="coerce", utc=True).dt.tz_convert(None)
            elif inferred == "string":
                if _looks_like_dates(s):
                    out[c] = pd.to_datetime(s, format="ISO8601", errors="coerce", utc=True).dt.tz_convert(None)
                    notes.append(f"{c!r} holds date strings: parsed as datetimes")
            elif inferred != "empty":
                types = sorted({type(v).__name__ for v in s.dropna().head(5000)})
                out[c] = s.where(s.isna(), s.astype(str))
                special[c] = "mixed"
                what = f"mixes value types ({', '.join(types)})" if len(types) > 1 else f"holds {types[0]} values"
                notes.append(f"{c!r} {what}: treated as text")
        elif pd.api.types.is_string_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
            if _looks_like_dates(s):
                out[c] = pd.to_datetime(s, format="ISO8601", errors="coerce", utc=True).dt.tz_convert(None)
                notes.append(f"{c!r} holds date strings: parsed as datetimes")
    return out, special, notes


def similar_names(columns: list[str]) -> list[tuple[str, str]]:
    """Pairs of distinct column names that look the same (case, spaces, unicode normalization)."""
    def norm(c: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", c).casefold().replace("_", " ").split())
    groups: dict[str, list[str]] = {}
    for c in columns:
        groups.setdefault(norm(c), []).append(c)
    return [(g[0], other) for g in groups.values() if len(g) > 1 for other in g[1:]]


# ----------------------------------------------------------------------------- per-column summaries


def as_float(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        v = s.to_numpy(dtype="datetime64[ns]").view("int64").astype("float64")
        v[s.isna().to_numpy()] = np.nan
        return v
    return s.to_numpy(dtype="float64", na_value=np.nan)


def _counted_stats(x: np.ndarray, lo: int, hi: int) -> dict[str, Any]:
    """Like :func:`_sorted_stats` for integer values in a small range, from one ``bincount``."""
    counts = np.bincount((x - lo).astype(np.int64), minlength=hi - lo + 1)
    n = len(x)
    cum = np.cumsum(counts)

    def q(p: float) -> float:  # linear interpolation between order statistics, as numpy does
        pos = p * (n - 1)
        a, b = int(np.floor(pos)), min(int(np.floor(pos)) + 1, n - 1)
        va, vb = np.searchsorted(cum, a, side="right"), np.searchsorted(cum, b, side="right")
        return float(lo + va + (vb - va) * (pos - a))

    top = int(np.argmax(counts))
    out: dict[str, Any] = {"n_unique": int(np.count_nonzero(counts)), "top": float(lo + top),
                           "top_count": int(counts[top]), "min": float(lo), "max": float(hi),
                           "p25": q(0.25), "p50": q(0.5), "p75": q(0.75), "n_infinite": 0,
                           "_deciles": np.array([q(p) for p in np.linspace(0, 1, 11)]),
                           "_quantiles": np.array([q(p) for p in np.linspace(0, 1, QUANTILES + 1)])}
    values = np.flatnonzero(counts)
    out["_hist"] = {b: _hist_from_values(lo + values.astype(float), counts[values], lo, hi, b) for b in HIST_BINS}
    out.update(_moments(x))
    return out


HIST_BINS = (40, 50)  # the distributions grid and the column explorer
QUANTILES = 50  # quantile bins of the leakage check


def _edges(lo: float, hi: float, bins: int) -> np.ndarray:
    return np.array([lo - 0.5, hi + 0.5]) if lo == hi else np.linspace(lo, hi, bins + 1)


def _hist_from_sorted(x: np.ndarray, lo: float, hi: float, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.histogram(x, bins, range=(lo, hi))`` of sorted ``x``, by binary search of the edges."""
    edges = _edges(lo, hi, bins)
    idx = np.searchsorted(x, edges, side="left")
    idx[-1] = np.searchsorted(x, edges[-1], side="right")
    return np.diff(idx), edges


def _hist_from_values(values: np.ndarray, weights: np.ndarray, lo: float, hi: float, bins: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The same histogram from distinct ``values`` with their counts."""
    edges = _edges(lo, hi, bins)
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(idx, weights=weights, minlength=len(edges) - 1).astype(np.int64), edges


def _moments(finite: np.ndarray) -> dict[str, Any]:
    m = len(finite)
    if not m:
        return {}
    mean = float(finite.mean())
    d = finite - mean
    d2 = d * d
    m2 = float(d2.sum()) / m
    out = {"mean": mean, "std": float(np.sqrt(m2 * m / (m - 1))) if m > 1 else 0.0,
           "zeros": int(np.count_nonzero(finite == 0))}
    if m > 2 and m2 > 0:
        g1 = float(np.dot(d2, d)) / m / m2 ** 1.5
        out["skew"] = g1 * np.sqrt(m * (m - 1)) / (m - 2)
    return out


def _sorted_stats(x: np.ndarray, keep_order: bool = False) -> dict[str, Any]:
    """Stats of the non-missing float values ``x`` from one sort: quantiles, uniques, mode, moments;
    with ``keep_order``, also the sorting permutation as ``_order`` (when ``x`` was sorted, not counted)."""
    n = len(x)
    if n > 1000:  # integers in a small range: counting is much cheaper than sorting
        lo, hi = float(x.min()), float(x.max())
        if np.isfinite(lo) and np.isfinite(hi) and hi - lo <= max(4 * n, 1 << 16) and lo == int(lo) \
                and np.array_equal(x, np.floor(x)):
            return _counted_stats(x, int(lo), int(hi))
    order = np.argsort(x) if keep_order else None  # the same sorted values, and ranks or bins later for free
    x = x[order] if keep_order else np.sort(x)
    change = np.flatnonzero(x[1:] != x[:-1])
    starts = np.concatenate(([0], change + 1))
    lengths = np.diff(np.concatenate((starts, [n])))
    top = int(np.argmax(lengths))
    qs = {}
    for name, p in (("p25", 0.25), ("p50", 0.5), ("p75", 0.75)):
        pos = p * (n - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n - 1)
        qs[name] = float(x[lo] + (x[hi] - x[lo]) * (pos - lo)) if np.isfinite(x[lo]) and np.isfinite(x[hi]) \
            else float(x[lo])
    finite = x[np.isfinite(x)]
    out: dict[str, Any] = {"n_unique": len(starts), "top": x[starts[top]], "top_count": int(lengths[top]),
                           "min": float(x[0]), "max": float(x[-1]), **qs,
                           "n_infinite": int(n - len(finite))}
    if len(finite):  # decile and 2% quantile edges of the finite values, for bins later (no second pass)
        for key, k in (("_deciles", 10), ("_quantiles", QUANTILES)):
            pos = np.linspace(0, 1, k + 1) * (len(finite) - 1)
            lo = np.floor(pos).astype(int)
            hi = np.minimum(lo + 1, len(finite) - 1)
            out[key] = finite[lo] + (finite[hi] - finite[lo]) * (pos - lo)
        out["_hist"] = {b: _hist_from_sorted(finite, float(finite[0]), float(finite[-1]), b) for b in HIST_BINS}
    out.update(_moments(finite))
    if order is not None:
        out["_order"] = order
    return out


def _summarize(c: str, s: pd.Series, n: int, special: dict[str, str], keep_order: bool = False) -> dict[str, Any]:
    is_num = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
    is_dt = pd.api.types.is_datetime64_any_dtype(s.dtype)
    if is_num or is_dt:  # missing values from the float copy or the codes: no separate isna pass
        v = as_float(s)
        missing = np.isnan(v)
    else:
        codes, uniq = pd.factorize(s, sort=False)
        missing = (codes := np.asarray(codes, dtype=np.int32)) < 0
    n_missing = int(np.count_nonzero(missing))
    row: dict[str, Any] = {"column": c, "dtype": str(s.dtype), "missing": n_missing,
                           "missing_fraction": n_missing / n if n else 0.0, **({"_missing": missing} if n_missing else {})}
    if n_missing == n:
        row.update(kind="empty", n_unique=0)
    elif is_num or is_dt:
        st = _sorted_stats(v[~missing] if n_missing else v, keep_order)
        if n_missing and "_order" in st:  # positions in the column, not among its non-missing values
            st["_order"] = np.flatnonzero(~missing)[st["_order"]]
        if is_dt:
            for k in ("top", "min", "max", "p25", "p50", "p75", "mean"):
                if k in st:
                    st[k] = pd.Timestamp(int(st[k])) if np.isfinite(st[k]) else st[k]
            for k in ("std", "skew", "zeros", "n_infinite"):
                st.pop(k, None)
            row["kind"] = "datetime"
        else:
            row["kind"] = "boolean" if st["n_unique"] <= 2 else "numeric"
            if pd.api.types.is_integer_dtype(s.dtype) or float(st["top"]).is_integer():
                st["top"] = int(st["top"]) if np.isfinite(st["top"]) else st["top"]
        row.update(st)
    else:
        counts = np.bincount(codes[~missing] if n_missing else codes, minlength=len(uniq))
        top = int(np.argmax(counts))
        nu = int(np.count_nonzero(counts))  # a categorical dtype may also list unused categories
        row.update(kind=special.get(c) or ("boolean" if nu <= 2 else "categorical"),
                   n_unique=nu, top=uniq[top], top_count=int(counts[top]), _factorized=(codes, uniq, counts))
    non_missing = n - n_missing
    row["unique_fraction"] = row["n_unique"] / non_missing if non_missing else 0.0
    row["top_fraction"] = row.get("top_count", 0) / non_missing if non_missing else 0.0
    return row


SUMMARY_COLUMNS = ["column", "kind", "dtype", "missing", "missing_fraction", "n_unique", "unique_fraction", "top",
                   "top_count", "top_fraction", "mean", "std", "min", "p25", "p50", "p75", "max", "skew", "zeros",
                   "n_infinite"]


def column_summary(df: pd.DataFrame, special: dict[str, str] | None = None,
                   extras: dict[str, dict] | None = None, keep_order: bool = False) -> pd.DataFrame:
    """One row per column: kind, dtype, missing, uniques, most frequent value and numeric stats.

    Runs on all rows: one sort (or count) per numeric/datetime column, one factorization per other
    column, columns in parallel threads. When ``extras`` is a dict, it receives what later steps
    reuse: ``extras["deciles"][column]`` and ``extras["quantiles"][column]`` (numeric bin edges: 10
    and 50 equal-count bins of the finite values), ``extras["hist"][column][bins]``
    (histogram counts and edges of the finite values), ``extras["factorized"][column]`` (codes,
    unique values, counts), ``extras["missing"][column]`` (the missing-value mask of a column with
    any) and, with ``keep_order``, ``extras["order"][column]``: the rows of a sorted numeric column in
    ascending order of value, missing values left out (for ranks and quantile bins without sorting again).
    """
    special = special or {}
    n = len(df)
    rows = parallel_map(lambda c: _summarize(c, df[c], n, special, keep_order), list(df.columns), heavy=n >= 50_000)
    side = {key: {r["column"]: r.pop(f"_{key}") for r in rows if f"_{key}" in r}
            for key in ("deciles", "quantiles", "factorized", "hist", "missing", "order")}
    if extras is not None:
        extras.update(side)
    return pd.DataFrame(rows).reindex(columns=SUMMARY_COLUMNS).set_index("column")


def memory_bytes(s: pd.Series, factorized: tuple | None = None) -> int:
    """``s.memory_usage(deep=True, index=False)``; an object column with its factorization (codes, uniques,
    counts) sizes each distinct value once, times its count (not every row's object: seconds)."""
    if factorized is None or s.dtype != object:
        return int(s.memory_usage(deep=True, index=False))
    codes, uniq, counts = factorized
    sizes = np.fromiter((v.__sizeof__() for v in uniq), dtype=np.int64, count=len(uniq))
    values = s.to_numpy()
    missing = sum(v.__sizeof__() for v in values[codes < 0])  # None, NaN, NaT: whatever objects they are
    return int(values.nbytes + int(sizes @ counts) + missing)


def duplicate_rows(df: pd.DataFrame, summary: pd.DataFrame, factorized: dict[str, tuple]) -> int:
    """Rows equal to an earlier row, from one 64-bit hash per row of those whose value in the most varied
    column repeats (no other row can be one); factorized text columns hashed as their integer codes."""
    n, k = df.shape
    if n < 2 or not k:
        return 0
    cols = [factorized[c][0] if c in factorized else df[c] for c in df.columns]
    first = cols[list(df.columns).index(summary["n_unique"].astype(float).idxmax())]
    rows = np.flatnonzero(pd.Series(first, copy=False).duplicated(keep=False).to_numpy())
    if len(rows) < 2:
        return 0
    part = {i: (v[rows] if isinstance(v, np.ndarray) else v.iloc[rows]) for i, v in enumerate(cols)}
    hashed = pd.util.hash_pandas_object(pd.DataFrame(part, copy=False), index=False)
    return int(hashed.duplicated().sum())


def overview(df: pd.DataFrame, summary: pd.DataFrame, factorized: dict[str, tuple] | None = None
             ) -> dict[str, Any]:
    """Rows, columns, kinds, dtypes, memory, duplicate rows and missing cells (all rows); see
    :func:`duplicate_rows`."""
    n, k = df.shape
    factorized = factorized or {}
    dup = duplicate_rows(df, summary, factorized)
    missing = int(summary["missing"].sum())
    return {
        "rows": n, "columns": k,
        "memory_mb": sum(memory_bytes(df[c], factorized.get(c)) for c in df.columns) / 2 ** 20,
        "duplicate_rows": dup, "duplicate_fraction": dup / n if n else 0.0,
        "missing_cells": missing, "missing_fraction": missing / (n * k) if n and k else 0.0,
        "kinds": summary["kind"].value_counts().to_dict(),
        "dtypes": {str(t): int(c) for t, c in df.dtypes.astype(str).value_counts().items()},
    }


def missing_patterns(df: pd.DataFrame, top: int = 10, masks: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """The most frequent combinations of missing columns (rows with no missing value included); ``masks``
    (column: missing-value mask, exactly the columns with any: see :func:`column_summary`) saves a pass."""
    if masks is None:
        masks = {c: m for c in df.columns if (m := df[c].isna().to_numpy()).any()}
    cols = [c for c in df.columns if c in masks]
    if not cols:
        return pd.DataFrame(columns=["missing columns", "rows", "fraction"])
    if len(cols) <= 62:
        keys = np.zeros(len(df), dtype=np.int64)
        for j, c in enumerate(cols):
            keys |= masks[c].astype(np.int64) << j
    else:
        mask = np.column_stack([masks[c] for c in cols])
        keys = np.array([b.tobytes() for b in np.packbits(mask, axis=1)], dtype=object)
    codes, uniq = pd.factorize(keys)
    first = np.empty(len(uniq), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # last write wins: the first occurrence
    counts = np.bincount(codes)
    rows = []
    for u in np.argsort(-counts, kind="stable")[:top]:
        names = [c for c in cols if masks[c][first[u]]]
        rows.append({"missing columns": ", ".join(names) if names else "(none)", "rows": int(counts[u]),
                     "fraction": counts[u] / len(df)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class SampleInfo:
    """How the expensive statistics were computed: on ``n_sample`` of ``n_rows`` rows, seed ``seed``."""

    n_rows: int
    n_sample: int
    seed: int

    @property
    def fraction(self) -> float:
        return self.n_sample / self.n_rows if self.n_rows else 1.0

    @property
    def sampled(self) -> bool:
        return self.n_sample < self.n_rows

    def describe(self) -> str:
        if not self.sampled:
            return f"All statistics use all {self.n_rows:,} rows."
        return (f"Correlations, associations and leakage checks use a seeded random sample of "
                f"{self.n_sample:,} of {self.n_rows:,} rows ({self.fraction:.1%}, seed {self.seed}); "
                "counts, missing values, summaries, distributions and target rates use all rows.")


def heavy_sample(df: pd.DataFrame, max_rows: int, seed: int) -> tuple[pd.DataFrame, SampleInfo]:
    """All of ``df`` when it has at most ``max_rows`` rows, else a seeded random sample of that size."""
    n = len(df)
    if max_rows <= 0 or n <= max_rows:
        return df, SampleInfo(n, n, seed)
    idx = np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))
    return df.iloc[idx], SampleInfo(n, max_rows, seed)
