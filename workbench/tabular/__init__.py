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
(save, log, record), ``_compiled`` (a linear pipeline's compiled form: served without scikit-learn).

The names below are imported on first use (PEP 562): loading a saved model (``load_predictor``, the kind's
loader) imports neither scikit-learn nor pandas when its folder holds a compiled form.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import _zoo  # noqa: F401  (registers the built-in models; imports no scikit-learn)
from ._load import load_predictor  # noqa: F401  (the ``tabular`` model kind's loader)
from ._registry import model_names

_LAZY = {"BestModel": "_best", "fit_best": "_best", "Comparison": "_board", "compare_models": "_cv",
         "TabularModel": "_fitted", "log": "_outputs", "record": "_outputs", "save": "_outputs",
         "TabularTask": "_task", "prepare_task": "_task"}

__all__ = ["prepare_task", "compare_models", "fit_best", "save", "log", "record", "model_names", "TabularTask",
           "Comparison", "BestModel", "TabularModel"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
