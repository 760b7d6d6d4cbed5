"""The chosen model: refit on the train split, held-out test metrics, threshold or interval
(:func:`fit_best`), and the outcome (:class:`BestModel`) with its report sections as methods.

Only the best row is refit (once, on the whole train split; an ensemble refits its members); the
other models' curves are drawn from the out-of-fold predictions the comparison already has.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.parallel import cpu_count
from ..errors import ModelError
from ..evaluation import Note, Panel, f1_threshold, interval_coverage
from . import _diagnostics, _fairness
from ._board import Comparison, fold_scores
from ._ensemble import Ensemble, build_candidate
from ._explain import background
from ._fitted import TabularModel
from ._prep import fit_weighted
from ._task import TabularTask

INTERVAL_LEVEL = 0.9


@dataclass
class BestModel:
    """The outcome of :func:`fit_best`: the chosen row refit on the whole train split (:attr:`model`, a
    :class:`TabularModel` whose ``meta`` holds the test and CV metrics and the provenance its card
    needs), its predictions on the held-out test split, and the task and comparison it came from.

    The report's sections are methods: :meth:`table` (test metrics next to CV), :meth:`diagnostics`
    (test curves, confusion matrix or residuals, importance); the test rows' predictions are
    :meth:`test_predictions`.
    """

    task: TabularTask
    comparison: Comparison
    model: TabularModel
    test_pred: np.ndarray = field(repr=False)
    _explanation: Any = field(default=None, repr=False, init=False)

    @property
    def name(self) -> str:
        return self.model.name

    def table(self) -> pd.DataFrame:
        """Held-out test metrics of the refit model next to its CV mean ± std."""
        return _diagnostics.holdout_table(self.model)

    def diagnostics(self, top: int = 20) -> Panel:
        """Held-out test diagnostics: ROC, PR, calibration and the confusion matrix at the model's threshold
        (classification) or predicted vs actual and residuals with the interval (regression); permutation
        and native importance of the ``top`` columns."""
        return Panel(*_diagnostics.diagnostic_figures(self.task, self.model, self.test_pred, top))

    def explanations(self, top: int = 12) -> Panel:
        """Why the model predicts what it does on the test split (SHAP values: exact where the model has a
        method, else sampled): global importance (mean |SHAP|), a beeswarm and dependence plots of the top columns."""
        from . import _explain_figures as ef

        parts = self._explained()
        if isinstance(parts, Note):
            return Panel(parts)
        e, rows, note = parts
        X = self.task.X_test.iloc[rows]
        return Panel(Note(note), ef.importance_figure(e, top), ef.beeswarm_figure(e, X, top),
                     ef.dependence_figure(e, X, min(4, top)))

    def explained_mistakes(self, n: int = 3) -> Panel:
        """Waterfalls of the ``n`` worst test predictions (largest error, or least probability on the true
        class) among the explained rows: the base value, the largest contributions, the prediction."""
        from . import _explain_figures as ef

        parts = self._explained()
        if isinstance(parts, Note):
            return Panel(parts)
        e, rows, _ = parts
        X, y = self.task.X_test.iloc[rows], np.asarray(self.task.y_test)[rows]
        pred = np.asarray(self.test_pred)[rows]
        worst = ef.worst_rows(y, pred, list(self.model.classes), self.model.regression, n)
        figures = []
        for i in worst:
            said = f"{pred[i]:.4g}" if self.model.regression else \
                f"P({self.model.classes[1]}) = {pred[i][1]:.3f}" if len(self.model.classes) == 2 else f"{pred[i]}"
            figures.append(ef.waterfall_figure(e, i, X, f"Test row {X.index[i]}: true {y[i]}, predicted {said}"))
        return Panel(*figures)

    def _explained(self):
        """The test split's explanation (computed once), or a note saying why there is none."""
        if self._explanation is None:
            from . import _explain_figures as ef

            try:
                self._explanation = ef.explain_test(self.model, self.task.X_test)
            except ModelError as e:
                self._explanation = Note(f"no explanations: {e}", "info")
        return self._explanation

    def fairness(self, gap_threshold: float | None = None) -> Panel:
        """Binary target with ``sensitive`` columns: per group (and intersection) selection rate, TPR, FPR,
        precision and ROC-AUC with 95% intervals on the held-out test split, the demographic-parity and
        equalized-odds differences and ratios, a warning per gap above ``gap_threshold`` (default: the
        task's), a figure, and with the task's ``mitigate`` the model with per-group thresholds."""
        return _fairness.fairness_panel(self, gap_threshold)

    def mitigation(self, mitigate: str | None = None) -> pd.DataFrame:
        """The model with and without per-group thresholds (``mitigate``: ``demographic_parity``,
        ``equalized_odds``; default: the task's): held-out accuracy, its cost and the gaps."""
        return _fairness.mitigation_table(self, mitigate)

    def test_predictions(self) -> pd.DataFrame:
        """The test split as a table: ``row`` (index in the dataset), the true value, ``prediction`` and the
        class probabilities (or the interval)."""
        return _diagnostics.test_predictions(self.task, self.model)


def fit_best(task: TabularTask, comparison: Comparison, name: str | None = None, *,
             threshold: float | str = "f1", threads: int | None = None) -> BestModel:
    """Refit the best (or the named) leaderboard row on the whole train split and evaluate it on the test split.

    Parameters
    ----------
    threshold : binary targets: ``"f1"`` (default: the F1-optimal threshold on the out-of-fold
        probabilities of the train split, so the test split stays untouched), ``"0.5"``/a number in (0, 1).
    threads : threads for the refit (default: all cores).

    Returns
    -------
    BestModel: the refit :class:`TabularModel` (with ``meta["test_metrics"]``, ``meta["cv_metrics"]`` and
    the run provenance the model card needs) and its test probabilities or values. A regression model
    carries a 90% prediction interval: the out-of-fold absolute residuals' conformal quantile.
    """
    from threadpoolctl import threadpool_limits

    name = name or comparison.best
    if name not in comparison.oof:
        raise ModelError(f"{name!r} has no successful leaderboard row; choose one of: {', '.join(comparison.ok_models)}")
    thr, rule = _threshold(task, comparison.oof[name], threshold)  # a bad threshold fails before the refit
    est = build_candidate(task, comparison, name, threads or cpu_count())
    t0 = time.perf_counter()
    with threadpool_limits(1):  # OpenMP on a few thousand rows mostly waits; CatBoost/forests use `threads`
        est.fit(task.X_train, task.y_train) if isinstance(est, Ensemble) else fit_weighted(
            est, task.X_train, task.y_train, task.class_weight)
    fit_time = time.perf_counter() - t0
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
        description=comparison.candidate(name).description, class_weight=task.class_weight,
        explain_background=background(task.X_train, task.numeric, task.categorical, seed=task.seed))
    return BestModel(task, comparison, model, pred)


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
        raise ModelError(f"threshold must be 'f1' or a number between 0 and 1 (threshold={threshold!r}); "
                         "e.g. threshold='f1' or threshold=0.5")
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


