"""A fitted tabular model with its column contract (classifier or regressor, single model or ensemble).

Saving and loading through the saved-model contract live in :mod:`._persist`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..models import probability_frame
from ._features import coerce_frame
from ._records import missing_columns


@dataclass
class TabularModel:
    """A fitted model plus the column contract it was trained with.

    ``predict_proba`` (classification), ``predict`` and ``predict_frame`` take a raw table: required
    feature columns are selected and typed as in training, extra columns are ignored, row order is kept.
    A regression model may carry a prediction ``interval`` (``level``, ``half_width``): ``predict_frame``
    then adds ``interval_lower`` and ``interval_upper``.
    """

    name: str
    estimator: Any
    numeric: list[str]
    categorical: list[str]
    classes: list
    positive_label: Any = None
    threshold: float = 0.5
    threshold_rule: str = "0.5"
    id_columns: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    task: str = ""
    interval: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.task:
            self.task = "binary" if len(self.classes) == 2 else "multiclass" if self.classes else "regression"

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    def check_columns(self, df: pd.DataFrame) -> None:
        """Raise :class:`ModelError` naming every required column ``df`` lacks."""
        error = missing_columns(self.features, list(df.columns))
        if error is not None:
            raise error

    def unseen_categories(self, df: pd.DataFrame) -> dict[str, int]:
        """Per categorical column, how many rows hold a category not seen in training."""
        seen = self.meta.get("categories", {})
        X = coerce_frame(df, [], [c for c in self.categorical if c in seen])
        out = {c: int((X[c].notna() & ~X[c].isin(seen[c])).sum()) for c in X.columns}
        return {c: n for c, n in out.items() if n}

    def _frame(self, df: pd.DataFrame) -> pd.DataFrame:
        self.check_columns(df)
        return coerce_frame(df, self.numeric, self.categorical)

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in :attr:`classes` order (positive class last if binary)."""
        if self.regression:
            raise ModelError(f"{self.name!r} is a regression model: it has no class probabilities; use predict")
        proba = np.asarray(self.estimator.predict_proba(self._frame(df)), dtype=float)
        order = [list(self.estimator.classes_).index(c) for c in self.classes]
        return proba[:, order]

    def predict(self, df: pd.DataFrame, proba: np.ndarray | None = None) -> np.ndarray:
        """Values (regression); labels: binary at :attr:`threshold` on the positive class, else the most
        probable class."""
        if self.regression:
            return np.asarray(self.estimator.predict(self._frame(df)), dtype=float).ravel()
        proba = self.predict_proba(df) if proba is None else proba
        cls = np.asarray(self.classes, dtype=object)
        if len(self.classes) == 2:
            return np.where(proba[:, 1] >= self.threshold, cls[1], cls[0])
        return cls[np.argmax(proba, axis=1)]

    def interval_bounds(self, pred: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Lower and upper bounds of the prediction interval around ``pred`` (None without an interval)."""
        if not self.interval:
            return None, None
        h = float(self.interval["half_width"])
        return pred - h, pred + h

    def predict_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """ID columns present in ``df``, ``prediction``, ``proba_<class>`` per class (or the interval
        bounds of a regression) and ``error``, in row order."""
        keys = {c: df[c].to_numpy() for c in self.id_columns if c in df.columns}
        if not self.regression:
            proba = self.predict_proba(df)
            return probability_frame(keys, proba, self.classes, predictions=self.predict(df, proba))
        pred = self.predict(df)
        out = pd.DataFrame({k: list(v) for k, v in keys.items()}, index=range(len(pred)))
        out["prediction"] = pred
        lo, hi = self.interval_bounds(pred)
        if lo is not None:
            out["interval_lower"], out["interval_upper"] = lo, hi
        out["error"] = None
        return out

    @property
    def output_columns(self) -> list[str]:
        if self.regression:
            return [*self.id_columns, "prediction", *(["interval_lower", "interval_upper"] if self.interval else []),
                    "error"]
        return [*self.id_columns, "prediction", *[f"proba_{c}" for c in self.classes], "error"]


def _infinite_rows(model: TabularModel, df: pd.DataFrame) -> tuple[np.ndarray, list[str | None]]:
    """Rows with a numeric value too large for a float (``1e400`` reads as infinity), and why, per row:
    scikit-learn refuses the whole table for one such cell, so those rows get an error instead."""
    n = len(df)
    if not model.numeric or n == 0:
        return np.zeros(n, dtype=bool), [None] * n
    X = coerce_frame(df, model.numeric, []).to_numpy(dtype=float)
    inf = np.isinf(X)
    bad = inf.any(axis=1)
    why: list[str | None] = [None] * n
    for i in np.flatnonzero(bad).tolist():
        cols = [model.numeric[j] for j in np.flatnonzero(inf[i]).tolist()]
        why[i] = f"no prediction: numeric value too large (infinite) in {', '.join(cols)}"
    return bad, why


def score_frame(model: TabularModel, df: pd.DataFrame) -> pd.DataFrame:
    """Predictions for every row of ``df`` (order kept); warns about categories unseen in training. A row
    with an infinite numeric value gets no prediction and an ``error`` naming the column."""
    model.check_columns(df)
    unseen = model.unseen_categories(df)
    if unseen:
        warnings.warn("categories not seen in training (scored as unknown): "
                      + ", ".join(f"{c}: {n} row(s)" for c, n in unseen.items()), UserWarning, stacklevel=2)
    bad, why = _infinite_rows(model, df)
    if not bad.any():
        return model.predict_frame(df)
    rows = df.reset_index(drop=True)
    ids = [c for c in model.id_columns if c in rows.columns]
    if bad.all():
        columns = [c for c in model.output_columns if c not in model.id_columns or c in ids]
        out = pd.DataFrame({c: rows[c] if c in ids else None for c in columns}, index=rows.index)
    else:
        good = model.predict_frame(rows[~bad])
        good.index = np.flatnonzero(~bad)
        out = good.reindex(rows.index)
        out.loc[bad, ids] = rows.loc[bad, ids]
        out["prediction"] = out["prediction"].astype(object).where(~bad, None)
    out["error"] = np.array(why, dtype=object)
    return out
