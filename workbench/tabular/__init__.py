"""Tabular model comparison: binary, multiclass and regression tasks; compare a zoo of models fairly,
tune the best, ensemble the top ones, diagnose the chosen model, save it, predict with it.

The ``compare_models`` notebook is a few calls into this package::

    problem = tabular.prepare_task(data, "churn", positive_label="Yes", models=["all"])
    comparison = tabular.compare_models(problem, out_dir=workbench.artifacts_dir(), tune_top=3)
    comparison.table(); comparison.leaderboard_figure(); comparison.tuning(); comparison.curves()
    best = tabular.fit_best(problem, comparison)      # refit on the train split, test metrics
    best.table(); best.diagnostics(); best.explanations(); best.explained_mistakes()
    model_dir = tabular.save(best, workbench.artifacts_dir())   # model/ and test_predictions.csv
    tabular.log(tracker, best, model_dir); tabular.record(best)
    # then: workbench predict …/artifacts/model new.csv -o predictions.csv

Building blocks live in private modules: ``_task``/``_target``/``_features`` (validation, task kind,
split, folds, feature columns and their types), ``_registry`` (the model registry, presets), ``_zoo``
(the built-in models), ``_prep`` (preprocessing, class weights), ``_catboost`` (CatBoost wrappers),
``_fold``/``_cv``/``_board`` (parallel CV with a time guard and racing, the comparison), ``_tune``
(Optuna), ``_ensemble`` (voting, stacking), ``_figures`` (the comparison's figures), ``_best`` (refit,
threshold or interval), ``_diagnostics`` (held-out figures, importance), ``_fitted`` (the fitted
model and its column contract), ``_persist`` (saving and loading through the contract),
``_skops_types`` (the loader's allow-list), ``_scorer`` (the compiled scorer of single records),
``_explain``/``_explain_figures`` (SHAP explanations of a fitted model, the report's figures), ``_outputs``
(save, log, record).
"""

from __future__ import annotations

from . import _zoo  # noqa: F401  (registers the built-in models)
from ._best import BestModel, fit_best
from ._board import Comparison
from ._cv import compare_models
from ._fitted import TabularModel
from ._outputs import log, record, save
from ._persist import load_predictor  # noqa: F401  (the ``tabular`` model kind's loader)
from ._registry import model_names
from ._task import TabularTask, prepare_task

__all__ = ["prepare_task", "compare_models", "fit_best", "save", "log", "record", "model_names", "TabularTask",
           "Comparison", "BestModel", "TabularModel"]
