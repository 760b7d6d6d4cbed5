"""The target column: which task it is (binary, multiclass, regression), its classes, and whether
the split and the folds can be made, checked before any training."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import DatasetError

TASKS = ("auto", "classification", "binary", "multiclass", "regression")


def check_task_name(task: Any) -> str:
    key = str(task).strip().lower() if task is not None else "auto"
    if key in ("", "none"):
        key = "auto"
    if key not in TASKS:
        raise DatasetError(f"task must be one of {', '.join(TASKS)} (task={task!r}); fix: task='auto' (chosen from "
                           "the target) or task='regression'")
    return key


def target_values(df: pd.DataFrame, target: str, note: Callable[[str], None]) -> tuple[pd.DataFrame, pd.Series]:
    """Rows with a target (others dropped with a note) and the target column."""
    y_all = df[target]
    n_missing_y = int(y_all.isna().sum())
    if n_missing_y == len(df):
        raise DatasetError(f"target {target!r} is missing in every row; fix: choose another target column")
    if n_missing_y:
        note(f"{n_missing_y} rows with a missing target {target!r} dropped")
        df = df.loc[y_all.notna()]
        y_all = df[target]
    return df, y_all


def _continuous(y: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        return False
    v = y.to_numpy(dtype=float)
    if not np.all(np.mod(v, 1) == 0):
        return True
    return y.nunique() > max(50, len(y) // 20)


def infer_task(y_all: pd.Series, target: str, task: str) -> str:
    """``binary``, ``multiclass`` or ``regression`` from the requested ``task`` and the target's values."""
    if task == "regression":
        if pd.api.types.is_bool_dtype(y_all) or not pd.api.types.is_numeric_dtype(y_all):
            bad = next((v for v in y_all if not _is_number(v)), None)
            raise DatasetError(f"task regression needs a numeric target, but {target!r} holds {bad!r} "
                               f"({y_all.dtype}); fix: choose a numeric target or task='auto'")
        return "regression"
    if task == "auto" and _continuous(y_all):
        return "regression"
    return "binary" if y_all.nunique() == 2 else "multiclass"


def _is_number(v: Any) -> bool:
    try:
        float(v)
        return not isinstance(v, bool)
    except (TypeError, ValueError):
        return False


def regression_target(y_all: pd.Series, target: str) -> np.ndarray:
    y = pd.to_numeric(y_all, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise DatasetError(f"target {target!r} has {int((~np.isfinite(y)).sum())} infinite value(s); fix: remove "
                           "those rows")
    if np.unique(y).size < 2:
        raise DatasetError(f"target {target!r} is constant ({y[0]!r} in all {len(y)} rows); a regressor needs "
                           "variation; fix: choose another target")
    return y


def class_labels(y_all: pd.Series, target: str) -> pd.Series:
    """The target as classes: integer-coded, boolean or text labels."""
    if pd.api.types.is_float_dtype(y_all) and not np.all(np.mod(y_all.to_numpy(dtype=float), 1) == 0):
        raise DatasetError(f"target {target!r} has non-integer numbers ({y_all.nunique()} distinct values): it looks "
                           "continuous, and a classification task was asked for; fix: task='regression' (or 'auto'), "
                           "or choose a categorical target")
    if pd.api.types.is_float_dtype(y_all):
        y_all = y_all.astype("int64")
    if not (pd.api.types.is_integer_dtype(y_all) or pd.api.types.is_bool_dtype(y_all)):
        y_all = y_all.astype(str)
    return y_all


def _need(k: int, test_size: float) -> int:
    """Samples a class needs for a stratified test split and ``k`` folds."""
    return max(2, math.ceil(k / (1 - float(test_size))) + 1)


def classes_of(y_all: pd.Series, target: str, folds: int, test_size: float, positive_label: Any, note
               ) -> tuple[list, Any]:
    """The classes (positive class last for a binary target) and the positive class."""
    counts = y_all.value_counts()
    classes = sorted(counts.index.tolist(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise DatasetError(f"target {target!r} has a single class ({classes[0]!r} in all {len(y_all)} rows); a "
                           "classifier needs at least 2; fix: choose another target or add rows of other classes")
    if len(classes) > max(50, len(y_all) // 20):
        raise DatasetError(f"target {target!r} has {len(classes)} distinct values for {len(y_all)} rows: it looks "
                           "continuous or like an identifier; fix: task='regression' for a numeric target, or "
                           "choose a categorical target")
    rare = counts[counts < _need(folds, test_size)]
    if len(rare):
        listed = ", ".join(f"{k!r}: {v}" for k, v in rare.items())
        fits = [k for k in range(2, folds) if _need(k, test_size) <= rare.min()]
        lower = f"lower folds (folds={fits[-1]}), " if fits else ""
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
                       f"classes: {', '.join(map(repr, classes))}; fix: positive_label= one of them, or an empty "
                       "string to use the minority class")


def strata(y: np.ndarray, regression: bool, bins: int = 10) -> np.ndarray:
    """Labels to stratify on: the classes, or the target's quantile bins for a regression."""
    if not regression:
        return y
    edges = np.unique(np.quantile(y, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, y, side="right")


def make_folds(y_train: np.ndarray, folds: int, seed: int, regression: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k folds (on quantile bins of the target for a regression)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if regression:
        if len(y_train) < 2 * folds:
            raise DatasetError(f"{len(y_train)} training rows are too few for {folds}-fold CV; fix: lower folds or "
                               "test_size")
        s = strata(y_train, True, bins=max(2, min(10, len(y_train) // (2 * folds))))
        if pd.Series(s).value_counts().min() < folds:
            cv = KFold(n_splits=folds, shuffle=True, random_state=seed)
            return [(a, b) for a, b in cv.split(np.zeros(len(y_train)))]
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        return [(a, b) for a, b in cv.split(np.zeros(len(y_train)), s)]
    train_counts = pd.Series(y_train).value_counts()
    if train_counts.min() < folds:
        raise DatasetError(f"after the test split, class {train_counts.idxmin()!r} has {train_counts.min()} training "
                           f"samples, fewer than folds={folds}; fix: lower folds or test_size")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(a, b) for a, b in cv.split(np.zeros(len(y_train)), y_train)]
