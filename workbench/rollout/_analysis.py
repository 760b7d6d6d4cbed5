"""The comparisons behind the report: per-variant numbers, the shadow pairs and the daily looks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..evaluation import proportion_interval
from ._log import VARIANTS, Requests
from ._outcomes import RequestMetric
from ._sequential import msprt, unpaired_looks
from ._stats import latency_quantiles, mean_interval, paired_bootstrap

VARIANT_COLUMNS = ["variant", "version", "requests", "rows", "labelled", "errors", "error_rate", "latency_p50_ms",
                   "latency_p99_ms", "metric", "value", "low", "high", "roc_auc", "auc_low", "auc_high"]


def metric_interval(values: np.ndarray, metric: RequestMetric, level: float = 0.95) -> tuple[float, float, float]:
    """The metric over finite per-request ``values`` with its interval: Wilson for 0/1 values, the normal
    interval of the mean otherwise (RMSE: the root of the mean squared error's interval)."""
    x = values[np.isfinite(values)]
    if metric.proportion:
        return proportion_interval(int(x.sum()), len(x), level)
    mean, lo, hi = mean_interval(x, level)
    if metric.root:
        return tuple(math.sqrt(max(v, 0.0)) if math.isfinite(v) else math.nan for v in (mean, lo, hi))
    return mean, lo, hi


def binary_scores(requests: Requests, rows: pd.DataFrame, labels: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Labels (1 = the positive class, the last of the classes) and positive-class probabilities of the
    labelled, scored rows."""
    pos = requests.classes[-1]
    score = pd.to_numeric(rows[f"proba_{pos}"], errors="coerce").to_numpy(dtype=float)
    y = labels.loc[rows.index]
    ok = y.notna().to_numpy() & np.isfinite(score)
    return (y[ok].astype(str) == str(pos)).to_numpy().astype(int), score[ok]


def _auc(requests: Requests, rows: pd.DataFrame, labels: pd.Series | None) -> tuple[float, float, float]:
    from ..evaluation import auc_interval

    if requests.task != "binary" or labels is None:
        return math.nan, math.nan, math.nan
    y, s = binary_scores(requests, rows, labels)
    if min(y.sum(), len(y) - y.sum()) < 2:
        return math.nan, math.nan, math.nan
    return auc_interval(y, s)


def variant_table(requests: Requests, values: np.ndarray, labels: pd.Series | None, metric: RequestMetric
                  ) -> pd.DataFrame:
    """One row per variant: requests, rows, labelled rows, errors, latency, the metric with its 95%
    interval and, for a binary classifier, ROC-AUC with DeLong's interval."""
    rows = []
    for variant in VARIANTS:
        mine = requests.lines["variant"] == variant
        if not mine.any():
            continue
        part = requests.lines[mine]
        v = values[mine.to_numpy()]
        p50, p99 = latency_quantiles(part.groupby("request_id", sort=False)["latency_ms"].first())
        rows.append([variant, requests.versions.get(variant, ""), part["request_id"].nunique(), len(part),
                     int(np.isfinite(v).sum()), int(part["error"].sum()), float(part["error"].mean()), p50, p99,
                     metric.key, *metric_interval(v, metric), *_auc(requests, part, labels)])
    return pd.DataFrame(rows, columns=VARIANT_COLUMNS)


def shadow_pairs(requests: Requests) -> pd.DataFrame:
    """Champion and shadow rows of the same request, matched by request id and position within it:
    ``champion`` and ``shadow`` hold row positions in ``requests.lines``, ``day`` the champion's day."""
    lines = requests.lines.reset_index(drop=True)
    sides = []
    for variant in ("champion", "shadow"):
        part = lines[lines["variant"] == variant]
        sides.append(pd.DataFrame({"request_id": part["request_id"].to_numpy(),
                                   "pos": part.groupby("request_id").cumcount().to_numpy(),
                                   variant: part.index.to_numpy(), f"day_{variant}": part["day"].to_numpy()}))
    pairs = sides[0].merge(sides[1], on=["request_id", "pos"])
    return pairs.rename(columns={"day_champion": "day"})[["request_id", "champion", "shadow", "day"]]


def agreement(requests: Requests, pairs: pd.DataFrame) -> tuple[str, float]:
    """How often the two models answer alike: the share of equal predicted labels (classification), the
    mean absolute difference of predictions (regression), the mean share of common items (ranking)."""
    a, b = requests.lines.iloc[pairs["champion"]], requests.lines.iloc[pairs["shadow"]]
    if not len(pairs):
        return "agreement", math.nan
    if requests.task == "regression":
        diff = pd.to_numeric(a["prediction"], errors="coerce").to_numpy() - \
            pd.to_numeric(b["prediction"], errors="coerce").to_numpy()
        return "mean |prediction difference|", float(np.nanmean(np.abs(diff)))
    if requests.task == "ranking":
        def ids(v: Any) -> set:
            return {x.get("item") if isinstance(x, dict) else x for x in (v if isinstance(v, list) else [])}
        shares = [len(ids(x) & ids(y)) / max(len(ids(x)), 1) for x, y in zip(a["items"], b["items"])]
        return "share of the champion's items the shadow also recommends", float(np.mean(shares))
    same = a["prediction"].astype(str).to_numpy() == b["prediction"].astype(str).to_numpy()
    return "agreement of predicted labels", float(same.mean())


def shadow_summary(requests: Requests, values: np.ndarray, labels: pd.Series | None, metric: RequestMetric,
                   pairs: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """Agreement, the paired bootstrap of the metric difference, DeLong's paired AUC test (binary) and
    latency of both, over the shadow pairs."""
    from ..evaluation import delong_test

    what, agree = agreement(requests, pairs)
    va, vb = values[pairs["champion"].to_numpy()], values[pairs["shadow"].to_numpy()]
    out: dict[str, Any] = {"pairs": len(pairs), "agreement_label": what, "agreement": agree,
                           "labelled": int((np.isfinite(va) & np.isfinite(vb)).sum()),
                           "bootstrap": paired_bootstrap(va, vb, root=metric.root, seed=seed)}
    lines = requests.lines
    if requests.task == "binary" and labels is not None and out["labelled"]:
        pos = requests.classes[-1]
        y = labels.iloc[pairs["champion"].to_numpy()]
        s_a, s_b = (pd.to_numeric(lines[f"proba_{pos}"].iloc[pairs[side].to_numpy()], errors="coerce").to_numpy(float)
                    for side in ("champion", "shadow"))
        ok = y.notna().to_numpy() & np.isfinite(s_a) & np.isfinite(s_b)
        y_pos = (y[ok].astype(str) == str(pos)).to_numpy().astype(int)
        if min(y_pos.sum(), len(y_pos) - y_pos.sum()) >= 2:
            out["delong"] = delong_test(y_pos, s_a[ok], s_b[ok])
    for side in ("champion", "shadow"):
        part = lines.iloc[pairs[side]]
        out[f"latency_{side}"] = latency_quantiles(part.groupby("request_id", sort=False)["latency_ms"].first())
    return out


def _daily(day_index: np.ndarray, x: np.ndarray, n_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ok = np.isfinite(x)
    d, v = day_index[ok], x[ok]
    return tuple(np.cumsum(np.bincount(d, weights=w, minlength=n_days)) for w in (np.ones(len(v)), v, v * v))


def looks(requests: Requests, values: np.ndarray, basis: str, *, tau: float, alpha: float,
          pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per day: the cumulative labelled counts, the estimate of ``challenger - champion`` (or
    ``shadow - champion``, paired), its variance and the mSPRT / fixed-horizon results at that look."""
    days = requests.days
    index = {d: i for i, d in enumerate(days)}
    lines = requests.lines
    if basis == "shadow":
        d = values[pairs["shadow"].to_numpy()] - values[pairs["champion"].to_numpy()]
        n, s, q = _daily(pairs["day"].map(index).to_numpy(), d, len(days))
        with np.errstate(divide="ignore", invalid="ignore"):
            est = s / n
            var = np.where(n >= 2, np.maximum(q - n * est * est, 0.0) / (n - 1) / n, np.nan)
        n_a = n_b = n
    else:
        day = lines["day"].map(index).to_numpy()
        arms = [(lines["variant"] == v).to_numpy() for v in ("champion", "challenger")]
        (n_a, s_a, q_a), (n_b, s_b, q_b) = (_daily(day[m], values[m], len(days)) for m in arms)
        est, var, n = unpaired_looks(n_a, s_a, q_a, n_b, s_b, q_b)
    res = msprt(est, var, n, tau, alpha)
    return pd.DataFrame({"day": days, "n_champion": n_a.astype(int), "n_challenger": n_b.astype(int),
                         "n": n.astype(int), "estimate": est, "variance": var, "low": res["low"], "high": res["high"],
                         "p_value": res["p_value"], "naive_low": res["naive_low"], "naive_high": res["naive_high"],
                         "naive_p": res["naive_p"]})
