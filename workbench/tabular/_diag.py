"""The chosen model: refit on the train split, held-out test metrics, threshold and diagnostics.

Only the best model is refit (once, on the whole train split); the other models' curves are drawn
from the out-of-fold probabilities the comparison already has, so nothing else is refit.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from ..core.parallel import cpu_count
from ..evaluation import METRICS, classification_metrics, curve_inputs, f1_threshold
from ._cv import Comparison
from ._model import TabularModel
from ._models import build_model
from ._task import TabularTask


def fit_best(task: TabularTask, comparison: Comparison, name: str | None = None, *,
             threshold: float | str = "f1", threads: int | None = None) -> TabularModel:
    """Refit the best (or the named) model on the whole train split and evaluate it on the test split.

    Parameters
    ----------
    threshold : ``"f1"`` (default: the F1-optimal threshold on the out-of-fold probabilities of the
        train split, so the test split stays untouched) or a number in (0, 1). Binary targets only.
    threads : threads for the refit (default: all cores).

    Returns
    -------
    TabularModel with ``meta["test_metrics"]`` (at the chosen threshold), ``meta["cv_metrics"]``,
    ``meta["_test_proba"]`` and the run provenance needed by the sidecar.
    """
    from threadpoolctl import threadpool_limits

    name = name or comparison.best
    threads = threads or cpu_count()
    est = build_model(name, task.numeric, task.categorical, seed=task.seed, threads=threads)
    t0 = time.perf_counter()
    with threadpool_limits(1):  # OpenMP on a few thousand rows mostly waits; CatBoost/forests use `threads`
        est.fit(task.X_train, task.y_train)
    fit_time = time.perf_counter() - t0
    rule, thr = "argmax (multiclass)", 0.5
    if task.binary:
        if threshold == "f1":
            oof = comparison.oof[name][:, 1]
            thr = f1_threshold(task.y_train == task.classes[1], oof)
            rule = "F1-optimal on out-of-fold predictions of the train split"
        else:
            thr, rule = float(threshold), "given"
    model = TabularModel(name=name, estimator=est, numeric=list(task.numeric), categorical=list(task.categorical),
                         classes=list(task.classes), positive_label=task.positive_label, threshold=thr,
                         threshold_rule=rule, id_columns=[c for c, why in task.dropped.items() if why.startswith("ID")])
    proba = model.predict_proba(task.X_test)
    test = classification_metrics(task.y_test, proba, task.classes, threshold=thr)
    lb = comparison.leaderboard.loc[name]
    cv = {k: {"mean": lb[f"{k}_mean"], "std": lb[f"{k}_std"]} for k in METRICS}
    model.meta.update(
        target=task.target, dataset=task.dataset, data_fingerprint=task.fingerprint, seed=task.seed,
        metric=task.metric.key, test_score=test[task.metric.key], test_metrics=test, cv_metrics=cv,
        folds=len(task.folds), n_train=len(task.y_train), n_test=len(task.y_test), refit_time_s=fit_time,
        dtypes=task.dtypes, categories=task.categories, dropped_columns=task.dropped,
        _test_proba=proba)
    return model


def holdout_table(model: TabularModel) -> pd.DataFrame:
    """Held-out test metrics of the refit model next to its CV mean ± std."""
    test, cv = model.meta["test_metrics"], model.meta["cv_metrics"]
    rows = [(METRICS[k].label, test[k], f"{cv[k]['mean']:.4f} ± {cv[k]['std']:.4f}") for k in METRICS]
    out = pd.DataFrame(rows, columns=["metric", "held-out test", "CV (train split, threshold 0.5)"]).set_index("metric")
    out.index.name = f"{model.name} (test threshold {model.threshold:.3f}: {model.threshold_rule})"
    return out


def holdout_predictions(task: TabularTask, model: TabularModel) -> pd.DataFrame:
    """The refit model's predictions on the test split: ``row`` (index in the dataset), the true label,
    ``prediction`` and the class probabilities."""
    out = model.predict_frame(task.X_test)
    out.insert(0, task.target, task.y_test)
    out.insert(0, "row", task.X_test.index.to_numpy())
    return out


def overlay_figures(comparison: Comparison) -> list:
    """ROC, PR and calibration curves of every successful model, from out-of-fold predictions."""
    from ..evaluation import calibration_figure, pr_figure, roc_figure

    task = comparison.task
    series = {}
    y = None
    for name in comparison.ok_models:
        y, s, what = curve_inputs(task.y_train, comparison.oof[name], task.classes)
        series[name] = s
    if y is None:
        return []
    sub = f" — out-of-fold, train split, {what}"
    return [roc_figure(y, series, pos_label=1, title="ROC" + sub), pr_figure(y, series, pos_label=1, title="PR" + sub),
            calibration_figure(y, series, pos_label=1, title="Calibration" + sub)]


def leaderboard_figure(comparison: Comparison):
    """The ranking metric per model, mean ± std over folds."""
    from ..evaluation import bar_figure

    lb = comparison.leaderboard[comparison.leaderboard["status"] == "ok"]
    m = comparison.metric
    return bar_figure(lb.index.tolist(), lb[f"{m.key}_mean"].tolist(), lb[f"{m.key}_std"].tolist(),
                      title=f"{m.label} over {len(comparison.task.folds)} folds (mean ± std)", xaxis_title=m.label)


def permutation_importance_table(task: TabularTask, model: TabularModel, n_repeats: int = 5) -> pd.DataFrame:
    """Drop of the ranking metric on the test split when each input column is shuffled."""
    from sklearn.inspection import permutation_importance
    from threadpoolctl import threadpool_limits

    key = task.metric.key
    sign = 1.0 if task.metric.greater_is_better else -1.0

    def scorer(est: Any, X: pd.DataFrame, y: np.ndarray) -> float:
        return sign * classification_metrics(y, model.predict_proba(X), task.classes, threshold=model.threshold)[key]

    with threadpool_limits(1):
        r = permutation_importance(model.estimator, task.X_test, task.y_test, scoring=scorer, n_repeats=n_repeats,
                                   random_state=task.seed, n_jobs=1)
    return pd.DataFrame({"feature": task.X_test.columns, "importance": r.importances_mean,
                         "std": r.importances_std}).sort_values("importance", ascending=False).reset_index(drop=True)


def native_importance_table(model: TabularModel) -> pd.DataFrame | None:
    """The model's own importance (CatBoost/forest importances, |coefficients|), or None."""
    est = model.estimator
    last = est.steps[-1][1] if hasattr(est, "steps") else est
    if hasattr(last, "feature_importances_"):
        values = np.asarray(last.feature_importances_, dtype=float)
        kind = "CatBoost importance" if last.__class__.__name__.startswith("CatBoost") else "impurity importance"
    elif hasattr(last, "coef_"):
        values = np.abs(np.asarray(last.coef_, dtype=float)).mean(axis=0)
        kind = "|coefficient| (standardized inputs)"
    else:
        return None
    names = (est[:-1].get_feature_names_out() if hasattr(est, "steps") else np.asarray(last.feature_names_in_))
    if len(names) != len(values):
        return None
    return pd.DataFrame({"feature": names, "importance": values, "kind": kind}).sort_values(
        "importance", ascending=False).reset_index(drop=True)


def diagnostic_figures(task: TabularTask, model: TabularModel, top: int = 20) -> list:
    """Held-out test diagnostics of the refit model: ROC, PR, calibration, confusion matrix at its
    threshold, permutation importance and native importance (where the model has one)."""
    from ..evaluation import bar_figure, calibration_figure, confusion_matrix_figure, pr_figure, roc_figure

    proba = model.meta["_test_proba"]
    y, s, what = curve_inputs(task.y_test, proba, task.classes)
    series = {f"{model.name} (test)": s}
    sub = f" — {model.name}, held-out test, {what}"
    figs = [roc_figure(y, series, pos_label=1, title="ROC" + sub), pr_figure(y, series, pos_label=1, title="PR" + sub),
            calibration_figure(y, series, pos_label=1, title="Calibration" + sub)]
    thr = (f"threshold {model.threshold:.3f} ({model.threshold_rule})" if task.binary else "most probable class")
    pred = model.predict(task.X_test, proba)
    figs.append(confusion_matrix_figure([str(v) for v in task.y_test], [str(v) for v in pred],
                                        labels=[str(c) for c in task.classes],
                                        title=f"Confusion matrix — {model.name}, test, {thr}"))
    perm = permutation_importance_table(task, model).head(top)
    figs.append(bar_figure(perm["feature"], perm["importance"], perm["std"], xaxis_title=f"drop in {task.metric.label}",
                           title=f"Permutation importance — {model.name}, test split ({task.metric.label}, 5 repeats)"))
    native = native_importance_table(model)
    if native is not None:
        native = native.head(top)
        figs.append(bar_figure(native["feature"], native["importance"], xaxis_title=native["kind"].iloc[0],
                               title=f"Native importance — {model.name}: {native['kind'].iloc[0]}"))
    return figs
