"""Fairness of a binary classifier by group: per-group rates with 95% intervals and the parity gaps.

Per group of each sensitive column (and per intersection of all of them with at least
:data:`MIN_GROUP_ROWS` rows): selection rate, true- and false-positive rate and precision, each with
its Wilson interval (:func:`proportion_interval`), and ROC-AUC with DeLong's interval
(:func:`auc_interval`). The gaps follow fairlearn's definitions: the demographic-parity difference is
the largest minus the smallest selection rate over the groups (ratio: smallest / largest); the
equalized-odds difference is the larger of the TPR and FPR differences (ratio: the smaller of the two
ratios). The headline ``dp_difference``/``eo_difference`` is the worst over the single columns.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import ModelError
from ._delong import auc_interval

MIN_GROUP_ROWS = 30
"""An intersection of sensitive values needs at least this many rows to get a row (and a say in its gaps)."""
GAP_THRESHOLD = 0.1
"""Default gap (difference of rates) above which a report warns."""
RATES = ("selection_rate", "tpr", "fpr", "precision")
RATE_LABELS = {"selection_rate": "selection rate", "tpr": "TPR", "fpr": "FPR", "precision": "precision",
               "roc_auc": "ROC-AUC"}
INTERSECTION = " × "


def proportion_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """A proportion and its Wilson score interval (``scipy.stats.binomtest``); NaNs when ``n`` is 0."""
    from scipy.stats import binomtest

    if n <= 0:
        return math.nan, math.nan, math.nan
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return successes / n, float(ci.low), float(ci.high)


def _counts(y: np.ndarray, pred: np.ndarray) -> dict[str, tuple[int, int]]:
    """(successes, trials) of each rate."""
    tp = int(np.sum(pred & y))
    return {"selection_rate": (int(pred.sum()), len(pred)), "tpr": (tp, int(y.sum())),
            "fpr": (int(np.sum(pred & ~y)), int((~y).sum())), "precision": (tp, int(pred.sum()))}


def _group_row(y: np.ndarray, pred: np.ndarray, score: np.ndarray | None, level: float) -> dict[str, Any]:
    row: dict[str, Any] = {"rows": len(y), "positives": int(y.sum())}
    for key, (k, n) in _counts(y, pred).items():
        row[key], row[f"{key}_low"], row[f"{key}_high"] = proportion_interval(k, n, level)
    auc = (math.nan,) * 3
    if score is not None and min(int(y.sum()), int((~y).sum())) >= 2:
        auc = auc_interval(y, score, level)
    row["roc_auc"], row["roc_auc_low"], row["roc_auc_high"] = auc
    return row


def _check(y: Any, pred: Any, groups: Any) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    frame = groups.to_frame() if isinstance(groups, pd.Series) else pd.DataFrame(groups)
    if not (len(y) == len(pred) == len(frame)):
        raise ModelError(f"labels, predictions and sensitive values need one per row: {len(y)}, {len(pred)}, "
                         f"{len(frame)}")
    if frame.shape[1] == 0:
        raise ModelError("no sensitive columns given; e.g. sensitive=['female', 'senior_citizen']")
    return y, pred, frame.reset_index(drop=True).astype(str)


def _labels(frame: pd.DataFrame) -> list[tuple[str, pd.Series, bool]]:
    """(feature name, group label per row, intersection?) for each column and, with 2+ columns, their intersection."""
    out = [(str(c), frame[c], False) for c in frame.columns]
    if frame.shape[1] > 1:
        joint = frame.agg(INTERSECTION.join, axis=1)
        out.append((INTERSECTION.join(map(str, frame.columns)), joint, True))
    return out


def group_table(y: Any, pred: Any, groups: Any, score: Any = None, *, min_rows: int = MIN_GROUP_ROWS,
                level: float = 0.95) -> pd.DataFrame:
    """One row per (feature, group): rows, positives, each rate with its interval and ROC-AUC with DeLong's.

    ``y`` and ``pred`` are 0/1 (1 = the positive class), ``score`` the positive-class probability
    (optional: no ROC-AUC without it), ``groups`` a table (or one column) of sensitive values. Each
    column's groups all get a row; intersections only with at least ``min_rows`` rows.
    """
    y, pred, frame = _check(y, pred, groups)
    s = None if score is None else np.asarray(score, dtype=float)
    rows = []
    for feature, labels, joint in _labels(frame):
        for value, idx in labels.groupby(labels, sort=True).groups.items():
            idx = np.asarray(idx)
            if joint and len(idx) < min_rows:
                continue
            rows.append({"feature": feature, "group": value,
                         **_group_row(y[idx], pred[idx], None if s is None else s[idx], level)})
    return pd.DataFrame(rows)


def _gap(values: pd.Series) -> tuple[float, float]:
    v = values.dropna()
    if v.empty:
        return math.nan, math.nan
    hi, lo = float(v.max()), float(v.min())
    return hi - lo, (lo / hi if hi > 0 else math.nan)


def fairness_gaps(y: Any, pred: Any, groups: Any, *, min_rows: int = MIN_GROUP_ROWS) -> pd.DataFrame:
    """Per feature (each column, then the intersection): demographic-parity and equalized-odds difference and ratio.

    An intersection's gaps count only its groups with at least ``min_rows`` rows.
    """
    y, pred, frame = _check(y, pred, groups)
    rows = []
    for feature, labels, joint in _labels(frame):
        rates = []
        for _, idx in labels.groupby(labels, sort=True).groups.items():
            idx = np.asarray(idx)
            if joint and len(idx) < min_rows:
                continue
            c = _counts(y[idx], pred[idx])
            rates.append({k: (c[k][0] / c[k][1] if c[k][1] else math.nan) for k in ("selection_rate", "tpr", "fpr")})
        r = pd.DataFrame(rates)
        dp, dp_ratio = _gap(r["selection_rate"]) if len(r) else (math.nan, math.nan)
        tpr, tpr_ratio = _gap(r["tpr"]) if len(r) else (math.nan, math.nan)
        fpr, fpr_ratio = _gap(r["fpr"]) if len(r) else (math.nan, math.nan)
        rows.append({"feature": feature, "groups": len(r), "dp_difference": dp, "dp_ratio": dp_ratio,
                     "eo_difference": max(tpr, fpr), "eo_ratio": min(tpr_ratio, fpr_ratio)})
    return pd.DataFrame(rows)


def headline_gaps(gaps: pd.DataFrame, columns: Sequence[str]) -> dict[str, float]:
    """``dp_difference``/``eo_difference`` (the worst over the single columns) and each column's own."""
    single = gaps[gaps["feature"].isin([str(c) for c in columns])]
    out = {"dp_difference": float(single["dp_difference"].max()), "eo_difference": float(single["eo_difference"].max())}
    for _, r in single.iterrows():
        out[f"dp_difference_{r['feature']}"] = float(r["dp_difference"])
        out[f"eo_difference_{r['feature']}"] = float(r["eo_difference"])
    return out


def gap_warnings(gaps: pd.DataFrame, threshold: float = GAP_THRESHOLD) -> list[str]:
    """One sentence per feature and gap above ``threshold``."""
    out = []
    for _, r in gaps.iterrows():
        for key, label in (("dp_difference", "demographic-parity"), ("eo_difference", "equalized-odds")):
            if r[key] > threshold:
                out.append(f"{label} difference for {r['feature']} is {r[key]:.3f}, above the threshold "
                           f"{threshold:g}")
    return out


def fairness_figure(table: pd.DataFrame, title: str = "Rates by group (95% intervals)"):
    """Small multiples, one per rate and ROC-AUC: a bar per (feature, group) of :func:`group_table` with its
    interval as an error bar."""
    import plotly.graph_objects as go

    from ._figures import grid_axis, grid_layout

    keys = [k for k in (*RATES, "roc_auc") if table[k].notna().any()]
    layout, _ = grid_layout([RATE_LABELS[k] for k in keys], ncols=min(3, len(keys)), row_px=60 + 22 * len(table),
                            title=title)
    names = [f"{f} = {g}" for f, g in zip(table["feature"], table["group"])]
    fig = go.Figure(layout=layout)
    for i, k in enumerate(keys):
        a = grid_axis(i)
        v = table[k].to_numpy(dtype=float)
        err = dict(type="data", symmetric=False, array=table[f"{k}_high"].to_numpy(dtype=float) - v,
                   arrayminus=v - table[f"{k}_low"].to_numpy(dtype=float))
        fig.add_trace(go.Bar(y=names, x=v, orientation="h", error_x=err, xaxis=f"x{a}", yaxis=f"y{a}", name=k))
        fig.layout[f"yaxis{a}"].update(autorange="reversed", showticklabels=i % 3 == 0)
    return fig


__all__ = ["MIN_GROUP_ROWS", "GAP_THRESHOLD", "RATES", "RATE_LABELS", "proportion_interval", "group_table",
           "fairness_gaps", "headline_gaps", "gap_warnings", "fairness_figure"]
