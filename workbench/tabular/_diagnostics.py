"""Held-out diagnostics of the refit model: its test metrics next to the CV ones, its test predictions,
the test curves and confusion matrix (or residuals with the interval), and permutation and native
importance. :class:`~workbench.tabular.BestModel` offers them as its sections."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..evaluation import curve_inputs, fmt_mean, metrics_for
from ._board import fold_scores
from ._fitted import TabularModel
from ._prep import final_step
from ._task import TabularTask


def holdout_table(model: TabularModel) -> pd.DataFrame:
    """Held-out test metrics of the refit model next to its CV mean ± std."""
    test, cv = model.meta["test_metrics"], model.meta["cv_metrics"]
    metrics = metrics_for(model.task)
    rows = [(m.label, test[k], fmt_mean(cv[k]["mean"], cv[k]["std"])) for k, m in metrics.items()]
    if "coverage" in test:
        rows.append((f"{model.interval['level']:.0%} interval coverage (± {model.interval['half_width']:.4g})",
                     test["coverage"], f"{model.interval['level']:.2f} by construction"))
    cv_label = "CV (train split)" if model.task == "regression" else "CV (train split, threshold 0.5)"
    out = pd.DataFrame(rows, columns=["metric", "held-out test", cv_label]).set_index("metric")
    out.index.name = (f"{model.name} (regression)" if model.task == "regression"
                      else f"{model.name} (test threshold {model.threshold:.3f}: {model.threshold_rule})")
    return out


def test_predictions(task: TabularTask, model: TabularModel) -> pd.DataFrame:
    """The refit model's predictions on the test split: ``row`` (index in the dataset), the true value,
    ``prediction`` and the class probabilities (or the interval)."""
    out = model.predict_frame(task.X_test)
    out.insert(0, task.target, task.y_test)
    out.insert(0, "row", task.X_test.index.to_numpy())
    return out


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


def diagnostic_figures(task: TabularTask, model: TabularModel, pred: np.ndarray, top: int = 20) -> list:
    """Held-out test diagnostics of the refit model: ROC, PR, calibration and the confusion matrix at its
    threshold (classification) or predicted vs actual and residuals with the interval (regression);
    permutation importance and native importance (where the model has one). ``pred``: the model's test
    probabilities (classification) or values (regression)."""
    from ..evaluation import bar_figure

    figs = _regression_figures(task, model, pred) if task.regression else _classification_figures(task, model, pred)
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


def _classification_figures(task: TabularTask, model: TabularModel, proba: np.ndarray) -> list:
    from ..evaluation import calibration_figure, confusion_matrix_figure, pr_figure, roc_figure

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


def _regression_figures(task: TabularTask, model: TabularModel, pred: np.ndarray) -> list:
    from ..evaluation import predicted_actual_figure, residual_figure

    lo, hi = model.interval_bounds(pred)
    cov = model.meta["test_metrics"].get("coverage", float("nan"))
    return [predicted_actual_figure(task.y_test, {f"{model.name} (test)": pred},
                                    title=f"Predicted vs actual — {model.name}, held-out test"),
            residual_figure(task.y_test, pred, lower=lo, upper=hi,
                            title=f"Residuals — {model.name}, held-out test, {model.interval['level']:.0%} interval "
                                  f"(coverage {cov:.1%})")]
