"""Tabular task preparation: input validation, column typing and the train/test split and folds.

Everything here runs before any training, so bad input (a missing target, a single class, a class too
rare for the folds, an unknown model name) is a clear error in seconds, not after a long fit.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data import id_like, stratified_split
from ..errors import DatasetError
from ..evaluation import Metric, resolve_metric
from ._models import validate_models


# ------------------------------------------------------------------------------------------ the task
@dataclass
class TabularTask:
    """A validated classification problem: features, target, train/test split and CV folds.

    Built by :func:`prepare_task`; every later step (comparison, refit, scoring) reads it.
    """

    X_train: pd.DataFrame
    y_train: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    target: str
    classes: list
    positive_label: Any
    numeric: list[str]
    categorical: list[str]
    folds: list[tuple[np.ndarray, np.ndarray]]
    seed: int
    metric: Metric
    models: list[str]
    dataset: str = ""
    fingerprint: str = ""
    dropped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    def summary(self) -> pd.DataFrame:
        """What will be trained on, as a small table for the report."""
        counts = pd.Series(np.concatenate([self.y_train, self.y_test])).value_counts()
        rows = [
            ("dataset", f"{self.dataset} (fingerprint {self.fingerprint})"),
            ("target", f"{self.target}: " + ", ".join(f"{c} ({counts.get(c, 0)})" for c in self.classes)),
            ("task", "binary, positive class " + repr(self.positive_label) if self.binary
             else f"multiclass ({len(self.classes)} classes, macro averages)"),
            ("rows", f"{len(self.y_train)} train / {len(self.y_test)} held-out test"),
            ("features", f"{len(self.numeric)} numeric, {len(self.categorical)} categorical"),
            ("validation", f"stratified {len(self.folds)}-fold CV on the train split, seed {self.seed}"),
            ("models", ", ".join(self.models)),
            ("ranking metric", self.metric.label),
        ]
        rows += [(f"dropped {c}", why) for c, why in self.dropped.items()]
        rows += [("note", n) for n in self.notes]
        return pd.DataFrame(rows, columns=["", "value"]).set_index("")


def coerce_frame(df: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """The feature columns in a fixed order: numerics as float, categoricals as ``str`` objects with
    missing values kept as NaN. Training and scoring both go through it, so a model sees the same
    types from a registry frame, a CSV or a Parquet file."""
    out = {}
    for c in numeric:
        out[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    for c in categorical:
        s = df[c]
        mask = s.isna().to_numpy()
        if pd.api.types.is_float_dtype(s) and np.all(np.mod(s.dropna().to_numpy(dtype=float), 1) == 0):
            s = s.astype("Int64")  # 1.0 read from a CSV with gaps is the category "1", as in training
        vals = np.where(mask, np.nan, s.astype(str).to_numpy(dtype=object)).astype(object)
        out[c] = pd.Series(vals, index=df.index, dtype=object)
    return pd.DataFrame(out, index=df.index, columns=[*numeric, *categorical])


def _resolve_positive(classes: list, positive_label: Any, target: str) -> tuple[Any, str | None]:
    if len(classes) != 2:
        return None, (f"positive_label {positive_label!r} ignored: the target has {len(classes)} classes, "
                      "so metrics are macro averages" if positive_label not in (None, "") else None)
    if positive_label in (None, ""):
        return None, None
    for c in classes:
        if c == positive_label or str(c) == str(positive_label):
            return c, None
    raise DatasetError(f"positive_label {positive_label!r} is not a class of target {target!r}; "
                       f"classes: {', '.join(map(repr, classes))}; fix: pass one of them "
                       "(-p positive_label ...) or an empty string to use the minority class")


def prepare_task(data: Any, target: str, *, positive_label: Any = None, models: Sequence[str] | None = None,
                 folds: int = 5, seed: int = 0, test_size: float = 0.2, metric: str = "roc_auc",
                 ) -> TabularTask:
    """Validate a table for classification and split it; raise before any training on bad input.

    Parameters
    ----------
    data : a :class:`workbench.data.Dataset` or a ``pandas.DataFrame``.
    target : the column to predict.
    positive_label : the positive class of a binary target; ``None``/``""`` picks the minority class.
    models : registry names (see :func:`model_names`); default: :data:`DEFAULT_MODELS`.
    folds : stratified CV folds on the train split (>= 2).
    seed : seed of the split, the folds and the models.
    test_size : fraction held out for the final test (0 < test_size < 1).
    metric : ranking metric (see :data:`workbench.evaluation.METRICS`).

    Notes
    -----
    ID-like columns (unique per row: row numbers, identifiers) and all-missing columns are dropped with
    a warning; rows with a missing target are dropped with a warning.
    """
    df = data.frame if hasattr(data, "frame") else data
    name = getattr(data, "name", "frame")
    _check_arguments(df, folds, test_size)
    metric_ = resolve_metric(metric)
    models = validate_models(models)
    if not target or target not in df.columns:
        raise DatasetError(f"target column {target!r} not in {name!r}; columns: {', '.join(map(str, df.columns))}; "
                           "fix: -p target <one of them>")
    notes: list[str] = []

    def note(msg: str) -> None:
        notes.append(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)

    df, y_all = _target_values(df, target, note)
    classes, pos = _classes(y_all, target, folds, test_size, positive_label, note)
    numeric, categorical, dropped = _feature_columns(df, target, name)
    X = coerce_frame(df, numeric, categorical)
    y = y_all.to_numpy()
    tr, te = stratified_split(y, test_size=float(test_size), seed=seed)
    X_train, X_test, y_train, y_test = X.iloc[tr], X.iloc[te], y[tr], y[te]
    fold_idx = _folds(y_train, folds, seed)
    cats = {c: sorted(X_train[c].dropna().unique().tolist()) for c in categorical}
    dtypes = {c: str(df[c].dtype) for c in [*numeric, *categorical]}
    return TabularTask(X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, target=target,
                       classes=classes, positive_label=pos, numeric=numeric, categorical=categorical,
                       folds=fold_idx, seed=seed, metric=metric_, models=models, dataset=name,
                       fingerprint=getattr(data, "fingerprint", ""), dropped=dropped, notes=notes,
                       categories=cats, dtypes=dtypes)


def _check_arguments(df: Any, folds: Any, test_size: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DatasetError(f"data must be a Dataset or a pandas DataFrame, got {type(df).__name__}")
    if not isinstance(folds, (int, np.integer)) or isinstance(folds, bool) or folds < 2:
        raise DatasetError(f"folds must be an integer >= 2, got {folds!r}; fix: -p folds 5")
    if not isinstance(test_size, (int, float)) or not 0 < float(test_size) < 1:
        raise DatasetError(f"test_size must be a fraction between 0 and 1, got {test_size!r}; fix: -p test_size 0.2")


def _target_values(df: pd.DataFrame, target: str, note) -> tuple[pd.DataFrame, pd.Series]:
    """Rows with a target (others dropped with a note) and the target as classes: integer-coded,
    boolean or text labels."""
    y_all = df[target]
    n_missing_y = int(y_all.isna().sum())
    if n_missing_y == len(df):
        raise DatasetError(f"target {target!r} is missing in every row; fix: choose another target column")
    if n_missing_y:
        note(f"{n_missing_y} rows with a missing target {target!r} dropped")
        df = df.loc[y_all.notna()]
        y_all = df[target]
    if pd.api.types.is_float_dtype(y_all) and not np.all(np.mod(y_all.to_numpy(dtype=float), 1) == 0):
        raise DatasetError(f"target {target!r} has non-integer numbers ({y_all.nunique()} distinct values): it looks "
                           "continuous, and compare_models classifies; fix: choose a categorical target or bin it")
    if pd.api.types.is_float_dtype(y_all):
        y_all = y_all.astype("int64")
    if not (pd.api.types.is_integer_dtype(y_all) or pd.api.types.is_bool_dtype(y_all)):
        y_all = y_all.astype(str)
    return df, y_all


def _need(k: int, test_size: float) -> int:
    """Samples a class needs for a stratified test split and ``k`` folds."""
    return max(2, math.ceil(k / (1 - float(test_size))) + 1)


def _classes(y_all: pd.Series, target: str, folds: int, test_size: float, positive_label: Any, note
             ) -> tuple[list, Any]:
    """The classes (positive class last for a binary target) and the positive class."""
    counts = y_all.value_counts()
    classes = sorted(counts.index.tolist(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise DatasetError(f"target {target!r} has a single class ({classes[0]!r} in all {len(y_all)} rows); a "
                           "classifier needs at least 2; fix: choose another target or add rows of other classes")
    if len(classes) > max(50, len(y_all) // 20):
        raise DatasetError(f"target {target!r} has {len(classes)} distinct values for {len(y_all)} rows: it looks "
                           "continuous or like an identifier; fix: choose a categorical target")
    rare = counts[counts < _need(folds, test_size)]
    if len(rare):
        listed = ", ".join(f"{k!r}: {v}" for k, v in rare.items())
        fits = [k for k in range(2, folds) if _need(k, test_size) <= rare.min()]
        lower = f"lower folds (-p folds {fits[-1]}), " if fits else ""
        raise DatasetError(
            f"target {target!r} has classes too rare for stratified {folds}-fold CV after a {test_size:g} test split: "
            f"{listed} sample(s); each class needs at least {_need(folds, test_size)}; fix: {lower}drop or merge "
            "the rare classes, or add rows")
    pos, msg = _resolve_positive(classes, positive_label, target)
    if msg:
        note(msg)
    if len(classes) == 2 and pos is None:
        pos = counts.idxmin()
        note(f"positive_label not given: using the minority class {pos!r} ({counts[pos]} of {len(y_all)} rows)")
    if pos is not None:  # positive class last, so predict_proba[:, 1] is its probability
        classes = [c for c in classes if c != pos] + [pos]
    return classes, pos


def _feature_columns(df: pd.DataFrame, target: str, name: str) -> tuple[list[str], list[str], dict[str, str]]:
    """Numeric and categorical feature columns, and the dropped ones with the reason."""
    dropped: dict[str, str] = {}
    numeric: list[str] = []
    categorical: list[str] = []
    for c in df.columns:
        if c == target:
            continue
        s = df[c]
        if s.isna().all():
            dropped[c] = "all values missing"
            continue
        why = id_like(s, str(c))
        if why:
            dropped[c] = f"ID-like: {why}"
            continue
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            categorical.append(c)
        else:
            numeric.append(c)
    for c, why in dropped.items():
        warnings.warn(f"column {c!r} dropped ({why})", UserWarning, stacklevel=3)
    if not numeric and not categorical:
        raise DatasetError(f"no usable feature columns in {name!r} besides the target {target!r} "
                           f"(dropped: {dropped or 'none'}); fix: check the file")
    return numeric, categorical, dropped


def _folds(y_train: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    train_counts = pd.Series(y_train).value_counts()
    if train_counts.min() < folds:
        raise DatasetError(f"after the test split, class {train_counts.idxmin()!r} has {train_counts.min()} training "
                           f"samples, fewer than folds={folds}; fix: lower folds or test_size")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(a, b) for a, b in cv.split(np.zeros(len(y_train)), y_train)]
