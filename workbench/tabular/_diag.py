"""The chosen model: refit on the train split, held-out test metrics, threshold or interval, diagnostics.

Only the best row is refit (once, on the whole train split; an ensemble refits its members); the
other models' curves are drawn from the out-of-fold predictions the comparison already has.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd

from ..core.parallel import cpu_count
from ..errors import ModelError
from ..evaluation import curve_inputs, f1_threshold, interval_coverage
from ._board import Comparison, fold_scores
from ._ensemble import Ensemble, build_candidate
from ._model import TabularModel
from ._prep import final_step, fit_weighted
from ._task import TabularTask

INTERVAL_LEVEL = 0.9
OVERLAY_TOP = 8


def fit_best(task: TabularTask, comparison: Comparison, name: str | None = None, *,
             threshold: float | str = "f1", threads: int | None = None) -> TabularModel:
    """Refit the best (or the named) leaderboard row on the whole train split and evaluate it on the test split.

    Parameters
    ----------
    threshold : binary targets: ``"f1"`` (default: the F1-optimal threshold on the out-of-fold
        probabilities of the train split, so the test split stays untouched), ``"0.5"``/a number in (0, 1).
    threads : threads for the refit (default: all cores).

    Returns
    -------
    TabularModel with ``meta["test_metrics"]``, ``meta["cv_metrics"]``, ``meta["_test_pred"]`` (test
    probabilities or values) and the run provenance the model card needs. A regression model carries a
    90% prediction interval: the out-of-fold absolute residuals' conformal quantile.
    """
    from threadpoolctl import threadpool_limits

    name = name or comparison.best
    if name not in comparison.oof:
        raise ModelError(f"{name!r} has no successful leaderboard row; choose one of: {', '.join(comparison.ok_models)}")
    est = build_candidate(task, comparison, name, threads or cpu_count())
    t0 = time.perf_counter()
    with threadpool_limits(1):  # OpenMP on a few thousand rows mostly waits; CatBoost/forests use `threads`
        est.fit(task.X_train, task.y_train) if isinstance(est, Ensemble) else fit_weighted(
            est, task.X_train, task.y_train, task.class_weight)
    fit_time = time.perf_counter() - t0
    thr, rule = _threshold(task, comparison.oof[name], threshold)
    model = TabularModel(name=name, estimator=est, numeric=list(task.numeric), categorical=list(task.categorical),
                         classes=list(task.classes), positive_label=task.positive_label, threshold=thr,
                         threshold_rule=rule, id_columns=[c for c, why in task.dropped.items() if why.startswith("ID")],
                         task=task.kind, interval=_interval(task, comparison.oof[name]))
    pred = model.predict_proba(task.X_test) if not task.regression else model.predict(task.X_test)
    test = fold_scores(task, task.y_test, pred, threshold=thr)
    if model.interval:
        lo, hi = model.interval_bounds(pred)
        test["coverage"] = interval_coverage(task.y_test, lo, hi)
    lb = comparison.leaderboard.loc[name]
    cv = {k: {"mean": lb[f"{k}_mean"], "std": lb[f"{k}_std"]} for k in task.metrics}
    model.meta.update(
        target=task.target, dataset=task.dataset, data_fingerprint=task.fingerprint, seed=task.seed,
        metric=task.metric.key, test_score=test[task.metric.key], test_metrics=test, cv_metrics=cv,
        folds=len(task.folds), n_train=len(task.y_train), n_test=len(task.y_test), refit_time_s=fit_time,
        dtypes=task.dtypes, categories=task.categories, dropped_columns=task.dropped,
        description=comparison.candidate(name).description, class_weight=task.class_weight, _test_pred=pred)
    return model


def _threshold(task: TabularTask, oof: np.ndarray, threshold: float | str) -> tuple[float, str]:
    if task.regression:
        return 0.5, ""
    if not task.binary:
        return 0.5, "argmax (multiclass)"
    if threshold in ("f1", "auto", None, ""):
        return f1_threshold(task.y_train == task.classes[1], oof[:, 1]), \
            "F1-optimal on out-of-fold predictions of the train split"
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        value = -1.0
    if not 0 < value < 1:
        raise ModelError(f"threshold must be 'f1' or a number between 0 and 1, got {threshold!r}; fix: -p threshold f1")
    return value, "given"


def _interval(task: TabularTask, oof: np.ndarray) -> dict[str, Any] | None:
    """A symmetric split-conformal interval: the ceil((n+1)·level)/n quantile of |out-of-fold residuals|."""
    if not task.regression:
        return None
    r = np.sort(np.abs(task.y_train - oof))
    n = len(r)
    k = min(n, math.ceil((n + 1) * INTERVAL_LEVEL)) - 1
    return {"level": INTERVAL_LEVEL, "half_width": float(r[k]),
            "method": "split-conformal: the out-of-fold absolute residuals' quantile"}


def holdout_table(model: TabularModel) -> pd.DataFrame:
    """Held-out test metrics of the refit model next to its CV mean ± std."""
    from ..evaluation import metrics_for

    test, cv = model.meta["test_metrics"], model.meta["cv_metrics"]
    metrics = metrics_for(model.task)
    rows = [(m.label, test[k], f"{cv[k]['mean']:.4f} ± {cv[k]['std']:.4f}") for k, m in metrics.items()]
    if "coverage" in test:
        rows.append((f"{model.interval['level']:.0%} interval coverage (± {model.interval['half_width']:.4g})",
                     test["coverage"], f"{model.interval['level']:.2f} by construction"))
    cv_label = "CV (train split)" if model.task == "regression" else "CV (train split, threshold 0.5)"
    out = pd.DataFrame(rows, columns=["metric", "held-out test", cv_label]).set_index("metric")
    out.index.name = (f"{model.name} (regression)" if model.task == "regression"
                      else f"{model.name} (test threshold {model.threshold:.3f}: {model.threshold_rule})")
    return out


def holdout_predictions(task: TabularTask, model: TabularModel) -> pd.DataFrame:
    """The refit model's predictions on the test split: ``row`` (index in the dataset), the true value,
    ``prediction`` and the class probabilities (or the interval)."""
    out = model.predict_frame(task.X_test)
    out.insert(0, task.target, task.y_test)
    out.insert(0, "row", task.X_test.index.to_numpy())
    return out


def overlay_figures(comparison: Comparison, top: int = OVERLAY_TOP) -> list:
    """From out-of-fold predictions of the ``top`` rows: ROC, PR and calibration curves, or predicted vs actual."""
    from ..evaluation import calibration_figure, pr_figure, predicted_actual_figure, roc_figure

    task = comparison.task
    names = comparison.ok_models[:top]
    if not names:
        return []
    if task.regression:
        return [predicted_actual_figure(task.y_train, {n: comparison.oof[n] for n in names},
                                        title=f"Predicted vs actual — out-of-fold, train split, top {len(names)}")]
    series = {}
    for name in names:
        y, s, what = curve_inputs(task.y_train, comparison.oof[name], task.classes)
        series[name] = s
    sub = f" — out-of-fold, train split, {what}, top {len(names)}"
    return [roc_figure(y, series, pos_label=1, title="ROC" + sub), pr_figure(y, series, pos_label=1, title="PR" + sub),
            calibration_figure(y, series, pos_label=1, title="Calibration" + sub)]


def leaderboard_figure(comparison: Comparison):
    """The ranking metric per successful row, mean ± std over folds."""
    from ..evaluation import bar_figure

    lb = comparison.leaderboard[comparison.leaderboard["status"] == "ok"]
    m = comparison.metric
    return bar_figure(lb.index.tolist(), lb[f"{m.key}_mean"].tolist(), lb[f"{m.key}_std"].tolist(),
                      title=f"{m.label} over {len(comparison.task.folds)} folds (mean ± std)", xaxis_title=m.label)


def permutation_importance_table(task: TabularTask, model: TabularModel, n_repeats: int = 5) -> pd.DataFrame:
    """Drop of the ranking metric on the test split when each input column is shuffled (``n_repeats``
    seeded shuffles per column, predicted in one batch per column)."""
    from threadpoolctl import threadpool_limits

    key = task.metric.key
    sign = 1.0 if task.metric.greater_is_better else -1.0
    X, y = task.X_test, task.y_test
    n = len(X)

    def scores(frame: pd.DataFrame, copies: int) -> np.ndarray:
        pred = model.predict(frame) if task.regression else model.predict_proba(frame)
        return np.array([sign * fold_scores(task, y, pred[i * n:(i + 1) * n], threshold=model.threshold)[key]
                         for i in range(copies)])

    rng = np.random.default_rng(task.seed)
    rows = []
    with threadpool_limits(1):
        base = scores(X, 1)[0]
        big = pd.concat([X] * n_repeats, ignore_index=True)
        for col in X.columns:
            shuffled = big.copy()
            shuffled[col] = np.concatenate([X[col].to_numpy()[rng.permutation(n)] for _ in range(n_repeats)])
            drops = base - scores(shuffled, n_repeats)
            rows.append((col, float(drops.mean()), float(drops.std())))
    return pd.DataFrame(rows, columns=["feature", "importance", "std"]).sort_values(
        "importance", ascending=False).reset_index(drop=True)


def native_importance_table(model: TabularModel) -> pd.DataFrame | None:
    """The model's own importance (CatBoost/forest importances, |coefficients|), or None."""
    est = model.estimator
    last = final_step(est)
    if hasattr(last, "feature_importances_"):
        values = np.asarray(last.feature_importances_, dtype=float)
        kind = "CatBoost importance" if last.__class__.__name__.startswith("CatBoost") else "impurity importance"
    elif hasattr(last, "coef_") and np.ndim(last.coef_) <= 2:
        values = np.abs(np.atleast_2d(np.asarray(last.coef_, dtype=float))).mean(axis=0)
        kind = "|coefficient| (standardized inputs)"
    else:
        return None
    try:
        names = (est[:-1].get_feature_names_out() if hasattr(est, "steps") else np.asarray(last.feature_names_in_))
    except (AttributeError, ValueError):
        return None
    if len(names) != len(values):
        return None
    return pd.DataFrame({"feature": names, "importance": values, "kind": kind}).sort_values(
        "importance", ascending=False).reset_index(drop=True)


def diagnostic_figures(task: TabularTask, model: TabularModel, top: int = 20) -> list:
    """Held-out test diagnostics of the refit model: ROC, PR, calibration and the confusion matrix at its
    threshold (classification) or predicted vs actual and residuals with the interval (regression);
    permutation importance and native importance (where the model has one)."""
    from ..evaluation import bar_figure

    figs = _regression_figures(task, model) if task.regression else _classification_figures(task, model)
    repeats = 5 if len(task.features) <= 30 else 3  # wide tables: fewer shuffles per column keep the report fast
    perm = permutation_importance_table(task, model, n_repeats=repeats).head(top)
    figs.append(bar_figure(perm["feature"], perm["importance"], perm["std"], xaxis_title=f"drop in {task.metric.label}",
                           title=f"Permutation importance — {model.name}, test split ({task.metric.label}, "
                                 f"{repeats} repeats)"))
    native = native_importance_table(model)
    if native is not None:
        native = native.head(top)
        figs.append(bar_figure(native["feature"], native["importance"], xaxis_title=native["kind"].iloc[0],
                               title=f"Native importance — {model.name}: {native['kind'].iloc[0]}"))
    return figs


def _classification_figures(task: TabularTask, model: TabularModel) -> list:
    from ..evaluation import calibration_figure, confusion_matrix_figure, pr_figure, roc_figure

    proba = model.meta["_test_pred"]
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
    return figs


def _regression_figures(task: TabularTask, model: TabularModel) -> list:
    from ..evaluation import predicted_actual_figure, residual_figure

    pred = model.meta["_test_pred"]
    lo, hi = model.interval_bounds(pred)
    cov = model.meta["test_metrics"].get("coverage", float("nan"))
    return [predicted_actual_figure(task.y_test, {f"{model.name} (test)": pred},
                                    title=f"Predicted vs actual — {model.name}, held-out test"),
            residual_figure(task.y_test, pred, lower=lo, upper=hi,
                            title=f"Residuals — {model.name}, held-out test, {model.interval['level']:.0%} interval "
                                  f"(coverage {cov:.1%})")]
