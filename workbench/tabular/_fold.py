"""One (model, fold) fit, and the fold data shared between models.

A scikit-learn pipeline's preprocessing depends only on its columns and settings, so it is fitted
once per fold and setting (in the parent process) and every model with that preprocessing fits on the
same transformed arrays; models without a pipeline (CatBoost) get the fold's raw frames.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

import numpy as np

from ._prep import fit_weighted


def predict_oof(estimator: Any, X: Any, classes: list, regression: bool) -> np.ndarray:
    """Out-of-fold predictions: values, or probabilities with columns in ``classes`` order."""
    if regression:
        return np.asarray(estimator.predict(X), dtype=float).ravel()
    proba = np.asarray(estimator.predict_proba(X), dtype=float)
    order = [list(estimator.classes_).index(c) for c in classes]
    return proba[:, order]


def score(y: np.ndarray, pred: np.ndarray, classes: list, regression: bool, threshold: float = 0.5) -> dict[str, float]:
    """Every metric of the task's kind for one set of predictions (probabilities or values)."""
    from ..evaluation import classification_metrics, regression_metrics

    if regression:
        return regression_metrics(y, pred)
    return classification_metrics(y, pred, classes, threshold=threshold)


def fit_fold(name: str, fold: int, estimator: Any, X_tr: Any, y_tr: np.ndarray, X_va: Any, classes: list,
             regression: bool, class_weight: str = "none", threads: int = 1, y_va: np.ndarray | None = None
             ) -> dict[str, Any]:
    """One (model, fold) fit in a worker: out-of-fold predictions, their scores (with ``y_va``) and
    timings, or the error."""
    import warnings

    from threadpoolctl import threadpool_limits

    out: dict[str, Any] = {"model": name, "fold": fold, "error": None}
    try:
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            fit_weighted(estimator, X_tr, y_tr, class_weight)
            t1 = time.perf_counter()
            pred = predict_oof(estimator, X_va, classes, regression)
            t2 = time.perf_counter()
        if not np.isfinite(pred).all():
            raise ValueError("the model predicted non-finite values")
        out.update(pred=pred, fit_time=t1 - t0, predict_time=t2 - t1)
        if y_va is not None:  # scored here, in parallel, not in the parent that feeds the workers
            out["scores"] = score(y_va, pred, classes, regression)
    except Exception as e:  # a failing model is a row in the leaderboard, not a lost comparison
        tb = traceback.format_exception_only(type(e), e)
        out["error"] = "".join(tb).strip().splitlines()[-1][:500]
    return out


def warm_up() -> None:
    """Import what the fits need (a fresh worker spends seconds on it), so timing starts with the fit."""
    import time as _time

    import sklearn.ensemble  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import threadpoolctl  # noqa: F401
    try:
        import catboost  # noqa: F401
    except ImportError:  # pragma: no cover - catboost is a dependency
        pass
    _time.sleep(0.05)  # long enough for every idle worker to take one


class FoldData:
    """The fold data per (preprocessing, fold), computed on first use and shared by the models."""

    def __init__(self, task: Any):
        self.task = task
        self._cache: dict[tuple[str, int], tuple[Any, Any]] = {}

    def split(self, estimator: Any, k: int) -> tuple[Any, Any, Any]:
        """``(final_estimator, X_train_fold, X_valid_fold)`` for fold ``k``: the pipeline's model on
        transformed arrays, or the whole estimator on the raw frames."""
        from joblib import hash as joblib_hash
        from sklearn.base import clone

        task = self.task
        tr, va = task.folds[k]
        steps = getattr(estimator, "steps", None)
        if not steps or len(steps) != 2:
            return estimator, task.X_train.iloc[tr], task.X_train.iloc[va]
        prep = estimator[:-1]
        key = (joblib_hash(prep), k)
        if key not in self._cache:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = clone(prep)
                a = fitted.fit_transform(task.X_train.iloc[tr])
                self._cache[key] = (np.ascontiguousarray(a, dtype=float),
                                    np.ascontiguousarray(fitted.transform(task.X_train.iloc[va]), dtype=float))
        a, b = self._cache[key]
        return estimator.steps[-1][1], a, b
