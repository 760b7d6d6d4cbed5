"""Tabular task preparation: input validation, the task kind, column typing, the split and the folds.

Everything here runs before any training, so bad input (a missing target, a single class, a class too
rare for the folds, an unknown model name, a metric of the other task kind) is a clear error in
seconds, not after a long fit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..data import stratified_split
from ..errors import DatasetError, ModelError
from ..evaluation import Metric, metrics_for, resolve_metric
from ._fairness import check_binary, fairness_settings, left_out
from ._features import coerce_frame, feature_columns
from ._registry import validate_models
from ._target import check_task_name, class_labels, classes_of, infer_task, make_folds, regression_target, strata, target_values

CLASS_WEIGHTS = ("none", "balanced")


@dataclass
class TabularTask:
    """A validated problem (binary, multiclass or regression): features, target, split and CV folds.

    Built by :func:`prepare_task`; every later step (comparison, tuning, refit, scoring) reads it.
    ``classes`` is empty for a regression.
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
    kind: str = ""
    class_weight: str = "none"
    sensitive: list[str] = field(default_factory=list)
    sensitive_as_feature: bool = True
    groups: pd.DataFrame | None = field(default=None, repr=False)  # the sensitive columns' values, every row
    gap_threshold: float = 0.1
    mitigate: str = "none"

    def __post_init__(self) -> None:
        if not self.kind:
            self.kind = "binary" if len(self.classes) == 2 else "multiclass"

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    @property
    def binary(self) -> bool:
        return self.kind == "binary"

    @property
    def regression(self) -> bool:
        return self.kind == "regression"

    @property
    def metrics(self) -> dict[str, Metric]:
        """Every metric the leaderboard shows for this kind of task."""
        return metrics_for(self.kind)

    def summary(self) -> pd.DataFrame:
        """What will be trained on, as a small table for the report."""
        rows = [("dataset", f"{self.dataset} (fingerprint {self.fingerprint})"), *self._target_rows(),
                ("rows", f"{len(self.y_train)} train / {len(self.y_test)} held-out test"),
                ("features", f"{len(self.numeric)} numeric, {len(self.categorical)} categorical"),
                ("validation", f"{'stratified ' if not self.regression else ''}{len(self.folds)}-fold CV on the train "
                 f"split{' (stratified on target deciles)' if self.regression else ''}, seed {self.seed}"),
                ("models", ", ".join(self.models)), ("ranking metric", self.metric.label)]
        if not self.regression:
            rows.append(("class weights", self.class_weight))
        if self.sensitive:
            rows.append(("sensitive", ", ".join(self.sensitive) + ("" if self.sensitive_as_feature else
                                                                  " (left out of the features)")))
        rows += [(f"dropped {c}", why) for c, why in self.dropped.items()]
        rows += [("note", n) for n in self.notes]
        return pd.DataFrame(rows, columns=["", "value"]).set_index("")

    def _target_rows(self) -> list[tuple[str, str]]:
        if self.regression:
            y = np.concatenate([self.y_train, self.y_test])
            return [("target", f"{self.target}: mean {y.mean():.4g}, std {y.std():.4g}, range {y.min():.4g} to "
                     f"{y.max():.4g}"), ("task", "regression")]
        counts = pd.Series(np.concatenate([self.y_train, self.y_test])).value_counts()
        return [("target", f"{self.target}: " + ", ".join(f"{c} ({counts.get(c, 0)})" for c in self.classes)),
                ("task", "binary, positive class " + repr(self.positive_label) if self.binary
                 else f"multiclass ({len(self.classes)} classes, macro averages)")]


def prepare_task(data: Any, target: str, *, positive_label: Any = None, models: Sequence[str] | None = None,
                 folds: int = 5, seed: int = 0, test_size: float = 0.2, metric: str = "auto", task: str = "auto",
                 class_weight: str | None = "none", sensitive: Sequence[str] | None = None,
                 sensitive_as_feature: bool = True, gap_threshold: float = 0.1, mitigate: str = "none") -> TabularTask:
    """Validate a table for classification or regression and split it; raise before any training on bad input.

    Parameters
    ----------
    data : a :class:`workbench.data.Dataset` or a ``pandas.DataFrame``.
    target : the column to predict.
    positive_label : the positive class of a binary target; ``None``/``""`` picks the minority class.
    models : registry names and presets (``all``, ``fast``, ``default``; see :func:`model_names`).
    folds : CV folds on the train split (>= 2); stratified on the classes, or on the target's deciles.
    seed, test_size : seed of the split, the folds and the models; fraction held out for the test (0 < test_size < 1).
    metric : ranking metric; ``auto``: ROC-AUC for classification, RMSE for regression.
    task : ``auto`` (regression for a numeric target with fractions or many distinct values, else
        classification), ``classification``, ``binary``, ``multiclass`` or ``regression``.
    class_weight : ``none`` or ``balanced`` (classification: classes weighted inversely to their frequency).
    sensitive, sensitive_as_feature, gap_threshold, mitigate : fairness (``_fairness.fairness_settings``);
        ``sensitive_as_feature=True`` (default) keeps those columns as inputs, ``False`` trains without them.

    Notes
    -----
    ID-like and all-missing columns, and rows with a missing target, are dropped with a warning.
    """
    df = data.frame if hasattr(data, "frame") else data
    name = getattr(data, "name", "frame")
    _check_arguments(df, folds, test_size)
    wanted, weight = check_task_name(task), _check_class_weight(class_weight)
    if not target or target not in df.columns:
        raise DatasetError(f"target column {target!r} not in {name!r} (target={target!r}); columns: "
                           f"{', '.join(map(str, df.columns))}; fix: set target to one of them")
    fair = fairness_settings(df, target, name, sensitive, sensitive_as_feature, gap_threshold, mitigate)
    notes: list[str] = []

    def note(msg: str) -> None:
        notes.append(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)

    df, y_all = target_values(df, target, note)
    kind = infer_task(y_all, target, wanted)
    if wanted in ("binary", "multiclass") and kind != wanted:
        raise DatasetError(f"task {wanted} asked for (task={task!r}), but target {target!r} has {y_all.nunique()} "
                           "classes; fix: task='auto'")
    check_binary(kind, fair["sensitive"])
    metric_ = _metric(metric, kind)
    models = validate_models(models, task=kind)
    y, classes, pos, weight = _target(y_all, target, kind, folds, test_size, positive_label, weight, note)
    numeric, categorical, dropped = feature_columns(df.drop(columns=left_out(fair)), target, name)
    dropped.update({c: "sensitive, left out of the features (sensitive_as_feature=False)" for c in left_out(fair)})
    X = coerce_frame(df, numeric, categorical)
    X_train, X_test, y_train, y_test, fold_idx = _split(X, y, kind, float(test_size), seed, folds)
    cats = {c: sorted(X_train[c].dropna().unique().tolist()) for c in categorical}
    dtypes = {c: str(df[c].dtype) for c in [*numeric, *categorical]}
    return TabularTask(X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, target=target,
                       classes=classes, positive_label=pos, numeric=numeric, categorical=categorical,
                       folds=fold_idx, seed=seed, metric=metric_, models=models, dataset=name,
                       fingerprint=getattr(data, "fingerprint", ""), dropped=dropped, notes=notes,
                       categories=cats, dtypes=dtypes, kind=kind, class_weight=weight, **fair,
                       groups=df[fair["sensitive"]] if fair["sensitive"] else None)


def _split(X: pd.DataFrame, y: np.ndarray, kind: str, test_size: float, seed: int, folds: int) -> tuple:
    """The stratified train/test split and the CV folds of the train split."""
    tr, te = stratified_split(strata(y, kind == "regression"), test_size=test_size, seed=seed)
    return X.iloc[tr], X.iloc[te], y[tr], y[te], make_folds(y[tr], folds, seed, kind == "regression")


def _target(y_all: pd.Series, target: str, kind: str, folds: int, test_size: float, positive_label: Any, weight: str,
            note) -> tuple[np.ndarray, list, Any, str]:
    """The target values, classes, positive class and class weighting of the task."""
    if kind == "regression":
        if positive_label not in (None, ""):
            note(f"positive_label {positive_label!r} ignored: {target!r} is a regression target")
        if weight != "none":
            note("class_weight ignored: a regression has no classes")
        return regression_target(y_all, target), [], None, "none"
    y_all = class_labels(y_all, target)
    classes, pos = classes_of(y_all, target, folds, test_size, positive_label, note)
    return y_all.to_numpy(), classes, pos, weight


def _metric(metric: Any, kind: str) -> Metric:
    if metric in (None, "", "auto"):
        return resolve_metric("rmse" if kind == "regression" else "roc_auc")
    try:
        return resolve_metric(str(metric), task=kind)
    except ModelError:
        resolve_metric(str(metric))  # unknown everywhere: that error; else the task-kind one below
        raise


def _check_class_weight(value: Any) -> str:
    key = "none" if value in (None, "", False) else str(value).strip().lower()
    if key not in CLASS_WEIGHTS:
        raise DatasetError(f"class_weight must be one of {', '.join(CLASS_WEIGHTS)} (class_weight={value!r}); "
                           "e.g. class_weight='balanced'")
    return key


def _check_arguments(df: Any, folds: Any, test_size: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DatasetError(f"data must be a Dataset or a pandas DataFrame, got {type(df).__name__}")
    if not isinstance(folds, (int, np.integer)) or isinstance(folds, bool) or folds < 2:
        raise DatasetError(f"folds must be an integer >= 2 (folds={folds!r}); e.g. folds=5")
    if not isinstance(test_size, (int, float)) or not 0 < float(test_size) < 1:
        raise DatasetError(f"test_size must be a fraction between 0 and 1 (test_size={test_size!r}); e.g. test_size=0.2")


__all__ = ["TabularTask", "prepare_task", "coerce_frame", "CLASS_WEIGHTS"]
