"""Column drift from out-of-core aggregates (``data._aggregates``): the same verdicts as
``compare_columns``, computed from exact counts and moments and from KLL sketches.

KS and Wasserstein are read off the two KLL sketches: the CDFs at a grid of both sketches' quantiles
(each off by at most the sketch's normalized rank error), and the quantile functions on 1,000 ranks.
The decision takes the error into account: the KS statistic used for the p-value is the sketched
statistic minus both sketches' rank errors (a KS distance within the error counts as none), and the
report states the bound (``ks_error``). Category counts, missing shares and moments are exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data._aggregates import ColumnAggregate, TableProfile
from ._column_drift import ColumnDrift, _fill, decide_columns
from ._config import Thresholds
from ._stats import PLOT_BINS, _category_plot, _chi2, _jensen_shannon, _psi, missing_test

GRID = 1000


def _ks_p(d: float, n: int, m: int) -> float:
    from scipy import stats

    return float(stats.kstwo.sf(d, round(n * m / (n + m)))) if d > 0 else 1.0


def sketch_numeric(a: ColumnAggregate, b: ColumnAggregate) -> dict[str, Any]:
    """KS (and its error bound), normalised Wasserstein, PSI on reference deciles, out-of-range share and a
    40-bin histogram, from two numeric aggregates."""
    n, m = a.count, b.count
    if not n or not m:
        return {"n_reference": n, "n_current": m}
    ranks = (np.arange(GRID) + 0.5) / GRID
    qa, qb = np.asarray(a.sketch.get_quantiles(ranks)), np.asarray(b.sketch.get_quantiles(ranks))
    points = np.unique(np.concatenate([qa, qb, [a.low, a.high, b.low, b.high]]))
    ca, cb = np.asarray(a.sketch.get_cdf(points))[:-1], np.asarray(b.sketch.get_cdf(points))[:-1]
    d = float(np.abs(ca - cb).max())
    error = a.rank_error + b.rank_error
    scale = a.std or 1.0
    cuts = np.unique(np.asarray(a.sketch.get_quantiles(np.arange(1, 10) / 10)))
    px = np.diff(np.concatenate([[0.0], np.asarray(a.sketch.get_cdf(cuts))[:-1], [1.0]])) * n
    py = np.diff(np.concatenate([[0.0], np.asarray(b.sketch.get_cdf(cuts))[:-1], [1.0]])) * m
    below = float(b.sketch.get_rank(a.low)) if b.low < a.low else 0.0
    above = 1.0 - float(b.sketch.get_rank(a.high)) if b.high > a.high else 0.0
    lo, hi = min(a.low, b.low), max(a.high, b.high)
    edges = np.array([lo - 0.5, hi + 0.5]) if lo == hi else np.linspace(lo, hi, PLOT_BINS + 1)

    def hist(s: Any) -> np.ndarray:
        cdf = np.concatenate([[0.0], np.asarray(s.get_cdf(edges[1:-1]))[:-1], [1.0]])
        return np.diff(cdf)

    return {"n_reference": n, "n_current": m, "ks": d, "ks_error": error, "ks_p": _ks_p(max(0.0, d - error), n, m),
            "wasserstein": float(np.mean(np.abs(qa - qb))) / scale, "psi": _psi(px, py),
            "out_of_range": below + above, "plot": {"numeric": True, "edges": edges, "reference": hist(a.sketch),
                                                    "current": hist(b.sketch)}}


def counts_categorical(a: ColumnAggregate, b: ColumnAggregate) -> dict[str, Any]:
    """The exact categorical statistics of ``_stats.categorical_stats`` from value counts."""
    labels = list(a.counts) + [k for k in b.counts if k not in a.counts]
    x = np.array([a.counts.get(k, 0) for k in labels], dtype=float)
    y = np.array([b.counts.get(k, 0) for k in labels], dtype=float)
    n, m = int(x.sum()), int(y.sum())
    if not n or not m:
        return {"n_reference": n, "n_current": m}
    chi2, p = _chi2(x, y)
    new = np.flatnonzero((x == 0) & (y > 0))
    new = new[np.argsort(-y[new], kind="stable")]
    return {"n_reference": n, "n_current": m, "chi2": chi2, "chi2_p": p, "jensen_shannon": _jensen_shannon(x, y),
            "psi": _psi(x, y), "new_share": float(y[new].sum() / m), "new_count": int(y[new].sum()),
            "new_values": [labels[i] for i in new[:5]], "plot": _category_plot(x, y, labels)}


def compare_profiles(ref: TableProfile, cur: TableProfile, thresholds: Thresholds | None = None,
                     columns: list[str] | None = None) -> list[ColumnDrift]:
    """The verdict of every column present in both profiles, as ``compare_columns`` gives it in memory."""
    t = thresholds or Thresholds()
    cols = [c for c in (columns or list(ref.columns)) if c in ref.columns and c in cur.columns]
    out = []
    for col in cols:
        a, b = ref.columns[col], cur.columns[col]
        numeric = a.numeric and b.numeric
        raw = sketch_numeric(a, b) if numeric else counts_categorical(a, b)
        c = ColumnDrift(column=col, kind="numeric" if numeric else "categorical")
        _fill(c, raw, t)
        c.ks_error = raw.get("ks_error", 0.0)  # type: ignore[attr-defined]
        c.missing_reference = a.missing / a.rows if a.rows else 0.0
        c.missing_current = b.missing / b.rows if b.rows else 0.0
        c.missing_p = missing_test(a.missing, a.rows, b.missing, b.rows)
        out.append(c)
    return decide_columns(out, t)


def profile_table(results: list[ColumnDrift]) -> Any:
    """``results_table`` plus ``ks_error``: the bound on each sketched KS statistic (0: exact)."""
    from ._column_drift import results_table

    table = results_table(results)
    table["ks_error"] = [getattr(c, "ks_error", 0.0) for c in results]
    return table


ENGINES = ("auto", "pandas", "dask", "sketch")


def out_of_core(reference: Any, current: Any, engine: str, max_rows: int, seed: int,
                shift: dict | None, scheduler: str = "") -> tuple[tuple[TableProfile, TableProfile] | None, Any, Any]:
    """``(profiles, reference, current)``: with an out-of-core engine, both datasets' profiles (every row;
    on the Dask cluster at ``scheduler`` when given, see ``profile_dataset``) and a seeded sample of
    ``max_rows`` of each in place of the table; else ``(None, reference, current)``."""
    from ..data._aggregates import dataset_rows, profile_dataset, sample_dataset
    from ..errors import ParameterError

    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(ENGINES)} (engine={engine!r})")
    if scheduler and engine == "pandas":
        raise ParameterError("scheduler profiles Parquet datasets out of core: use engine 'auto', 'dask' or 'sketch', "
                             "or set scheduler to ''")
    paths = all(isinstance(s, (str, Path)) for s in (reference, current))
    rows = [dataset_rows(s) if paths else None for s in (reference, current)]
    if engine == "pandas" or (engine == "auto" and not (None not in rows and max_rows and max(rows) > max_rows)):  # type: ignore[type-var]
        return None, *(_whole(s) for s in (reference, current))
    if None in rows:
        raise ParameterError(f"engine {engine!r} takes Parquet datasets (a file, folder or glob) for reference and "
                             "current; give paths, or engine 'pandas'")
    if shift:
        raise ParameterError("shift (what-if) needs the table in memory; use engine 'pandas' or leave shift empty")
    profiles = (profile_dataset(reference, scheduler=scheduler), profile_dataset(current, scheduler=scheduler))
    size = max_rows or 1_000_000
    return profiles, sample_dataset(reference, size, seed), sample_dataset(current, size, seed + 1)


def _whole(data: Any) -> Any:
    """A Parquet dataset folder or glob read whole (in memory); anything else as it is (``load_side`` reads it)."""
    from ..data._aggregates import dataset_rows, sample_dataset

    text = str(data) if isinstance(data, (str, Path)) else ""
    if text and (Path(text).is_dir() or any(ch in text for ch in "*?[")) and dataset_rows(text) is not None:
        return sample_dataset(text, 0)
    return data
