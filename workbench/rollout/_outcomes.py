"""Per-request metrics: what one answered request scored once its label arrived.

Classification: ``log_loss`` (``-log p(true class)``), ``brier`` (binary: ``(p_positive - y)^2``;
multiclass: the sum over classes, as :mod:`workbench.evaluation` defines them) and ``accuracy`` (the
logged prediction equals the label). Regression: ``rmse`` (tested on squared errors, shown as their
root) and ``mae``. Ranking (recommenders): ``hit_rate``, hit@k: 1 when any recommended item was
interacted with by that user within a window after the request. Each is a mean over requests, so the
sequential test compares means of per-request values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import DatasetError, ParameterError

TASK_METRICS = {"binary": ("log_loss", "brier", "accuracy"), "multiclass": ("log_loss", "brier", "accuracy"),
                "regression": ("rmse", "mae"), "ranking": ("hit_rate",)}


@dataclass(frozen=True)
class RequestMetric:
    """A metric that is a (root of a) mean of per-request values."""

    key: str
    label: str
    greater_is_better: bool
    unit: str  # what one request contributes, for the sequential test's axis
    proportion: bool = False  # per-request values are 0/1: Wilson intervals
    root: bool = False  # the metric is sqrt(mean of the values): RMSE

    def summarize(self, mean: float) -> float:
        return math.sqrt(mean) if self.root and mean >= 0 else mean


_METRICS = {m.key: m for m in [
    RequestMetric("log_loss", "log-loss", False, "log-loss"),
    RequestMetric("brier", "Brier", False, "Brier score"),
    RequestMetric("accuracy", "accuracy", True, "correct (0/1)", proportion=True),
    RequestMetric("rmse", "RMSE", False, "squared error", root=True),
    RequestMetric("mae", "MAE", False, "absolute error"),
    RequestMetric("hit_rate", "hit rate", True, "hit (0/1)", proportion=True),
]}
_ALIASES = {"logloss": "log_loss", "brier_score": "brier", "acc": "accuracy", "hit": "hit_rate", "hitrate": "hit_rate",
            "hit_at_k": "hit_rate", "hits": "hit_rate"}


def request_metric(name: str, task: str) -> RequestMetric:
    """The per-request metric called ``name`` for a ``task`` (``auto``: log-loss, RMSE or hit rate)."""
    allowed = TASK_METRICS[task]
    key = str(name or "auto").strip().lower().replace("-", "_").replace(" ", "_")
    key = allowed[0] if key == "auto" else _ALIASES.get(key, key)
    if key not in allowed:
        why = (" ROC-AUC is not a mean over requests, so no sequential test runs on it; it is shown beside, with "
               "DeLong intervals." if key in ("roc_auc", "auc") else "")
        raise ParameterError(f"metric {name!r} does not fit a {task} model's requests; expected one of: "
                             f"{', '.join(allowed)} (or auto).{why}")
    return _METRICS[key]


def request_values(frame: pd.DataFrame, labels: pd.Series, metric: RequestMetric, classes: Sequence) -> np.ndarray:
    """One value per row of ``frame`` (logged outputs) against ``labels`` (aligned; NaN = not labelled yet);
    NaN where a row has no label or no prediction (an error)."""
    n = len(frame)
    known = labels.notna().to_numpy()
    if metric.key in ("rmse", "mae"):
        pred = pd.to_numeric(frame["prediction"], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float)
        err = pred - y
        return err * err if metric.key == "rmse" else np.abs(err)
    if metric.key == "accuracy":
        pred = frame["prediction"].astype(object).to_numpy()
        ok = known & frame["prediction"].notna().to_numpy()
        out = np.full(n, np.nan)
        out[ok] = (pred[ok].astype(str) == labels.to_numpy()[ok].astype(str)).astype(float)
        return out
    classes = [str(c) for c in classes]
    proba = frame[[f"proba_{c}" for c in classes]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    y = labels.astype(object).where(labels.notna(), None).map(lambda v: None if v is None else str(v)).to_numpy()
    hot = np.stack([y == c for c in classes], axis=1).astype(float)
    out = np.full(n, np.nan)
    ok = known & np.isfinite(proba).all(axis=1)
    if metric.key == "log_loss":
        p_true = np.clip((proba * hot).sum(axis=1), 1e-15, 1.0)
        out[ok] = -np.log(p_true[ok])
    elif len(classes) == 2:
        out[ok] = (proba[ok, 1] - hot[ok, 1]) ** 2
    else:
        out[ok] = ((proba[ok] - hot[ok]) ** 2).sum(axis=1)
    return out


def check_labels(labels: pd.Series, classes: Sequence) -> None:
    """Every known label must be one of the model's classes (compared as text)."""
    seen = set(labels.dropna().astype(str).unique())
    unknown = sorted(seen - {str(c) for c in classes})
    if unknown:
        raise DatasetError(f"the labels hold values the model does not predict: {unknown[:5]}; the model's classes "
                           f"are {[str(c) for c in classes]}; check label_column")


def _item_lists(items: pd.Series, k: int | None) -> list[list]:
    out = []
    for v in items.tolist():
        seq = v if isinstance(v, (list, tuple)) else []
        ids = [x.get("item") if isinstance(x, dict) else x for x in seq]
        out.append(ids[:k] if k else ids)
    return out


def hit_at_k(users: Any, ts: Any, items: Any, interactions: pd.DataFrame, *, user_column: str, item_column: str,
             time_column: str, window: pd.Timedelta, k: int | None = None) -> np.ndarray:
    """hit@k per recommendation request: 1 when the user interacted with any of the first ``k`` recommended
    items within ``window`` after the request, 0 when not, NaN when the window is not over yet (no
    interaction in ``interactions`` is later than the window's end, and none hit yet).

    ``items`` holds each request's recommended items, as plain ids or as the dicts
    ``workbench serve`` logs (``{"rank", "item", "score"}``).
    """
    ts = pd.to_datetime(pd.Series(ts).reset_index(drop=True), utc=True)
    lists = _item_lists(pd.Series(items).reset_index(drop=True), k)
    inter = interactions[[user_column, item_column, time_column]].copy()
    inter[time_column] = pd.to_datetime(inter[time_column], utc=True, errors="coerce")
    if inter[time_column].isna().all():
        raise DatasetError(f"the interactions' {time_column!r} column holds no readable times")
    shown = pd.DataFrame({"request": np.repeat(np.arange(len(lists)), [len(x) for x in lists]),
                          "user": np.repeat(np.asarray(users, dtype=object), [len(x) for x in lists]),
                          "item": [i for x in lists for i in x]})
    shown["user"], shown["item"] = shown["user"].map(key_text), shown["item"].map(key_text)
    inter = pd.DataFrame({"user": inter[user_column].map(key_text), "item": inter[item_column].map(key_text),
                          "t": inter[time_column]})
    pairs = shown.merge(inter, on=["user", "item"])
    start = ts.iloc[pairs["request"].to_numpy()].reset_index(drop=True)
    within = ((pairs["t"] >= start) & (pairs["t"] <= start + window)).to_numpy()
    hits = np.zeros(len(lists))
    hits[np.unique(pairs["request"].to_numpy()[within])] = 1.0
    still_open = (ts + window > inter["t"].max()).to_numpy()  # a miss may still turn into a hit
    hits[still_open & (hits == 0)] = np.nan
    return hits


def key_text(v: Any) -> str | None:
    """A join key as text, the same for ``7``, ``7.0`` and ``"7"`` (JSON and CSV disagree on types)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (np.integer,)):
        return str(int(v))
    return str(v)


def key_texts(values: pd.Series) -> pd.Series:
    """:func:`key_text` of a whole column (vectorised for integer and text columns)."""
    if pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any():
        return values.astype("int64").astype(str).astype(object)
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values.dtype):
        return values.astype(object).where(values.notna(), None)
    return values.map(key_text).astype(object)
