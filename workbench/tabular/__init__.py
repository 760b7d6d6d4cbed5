"""Tabular model comparison: binary, multiclass and regression tasks; compare a zoo of models fairly,
tune the best, ensemble the top ones, diagnose the chosen model, save it, predict with it.

The ``compare_models`` notebook is a few calls into this package::

    task = tabular.prepare_task(data, "churn", positive_label="Yes", models=["all"])
    comparison = tabular.compare_models(task, out_dir=workbench.artifacts_dir(), tune_top=3)
    model = tabular.fit_best(task, comparison)        # refit on the train split, test metrics
    tabular.save_model(model, workbench.artifacts_dir() / "model")
    # then: workbench predict …/artifacts/model new.csv -o predictions.csv

Concerns live in private modules: ``_task``/``_target``/``_columns`` (validation, task kind, split,
folds), ``_models`` (registry, presets), ``_zoo`` (the built-in models), ``_prep`` (preprocessing, class
weights), ``_catboost`` (CatBoost wrappers), ``_fold``/``_cv``/``_board`` (parallel CV with a time guard
and racing, the leaderboard), ``_tune`` (Optuna), ``_ensemble`` (voting, stacking), ``_diag`` (refit,
threshold or interval, figures, importance), ``_model`` (the fitted model), ``_persist`` (saving and loading
through the contract), ``_track`` (W&B, comparison curves, the run's records).
"""

from __future__ import annotations

from . import _zoo  # noqa: F401  (registers the built-in models)
from ._board import Candidate, Comparison
from ._catboost import CatBoostFrameClassifier, CatBoostFrameRegressor
from ._cv import compare_models
from ._diag import (
    diagnostic_figures,
    fit_best,
    holdout_predictions,
    holdout_table,
    leaderboard_figure,
    native_importance_table,
    overlay_figures,
    permutation_importance_table,
)
from ._ensemble import Ensemble, add_ensembles
from ._model import TabularModel, score_frame
from ._models import (
    DEFAULT_MODELS,
    DEFAULT_REGRESSION_MODELS,
    PRESETS,
    REGISTRY,
    ModelSpec,
    build_model,
    model_names,
    validate_models,
)
from ._persist import TabularPredictor, load_model, load_predictor, model_card, save_model
from ._prep import make_preprocessor
from ._skops_types import SKOPS_ALLOWED
from ._task import TabularTask, coerce_frame, prepare_task
from ._track import log_comparison, record_results
from ._tune import tune_models, tuning_figures, tuning_table

__all__ = ["prepare_task", "TabularTask", "coerce_frame", "compare_models", "Comparison", "Candidate", "fit_best",
           "TabularModel", "TabularPredictor", "holdout_table", "holdout_predictions", "leaderboard_figure",
           "overlay_figures", "diagnostic_figures", "permutation_importance_table", "native_importance_table",
           "save_model", "load_model", "load_predictor", "model_card", "score_frame", "model_names", "validate_models",
           "build_model", "make_preprocessor", "CatBoostFrameClassifier", "CatBoostFrameRegressor", "ModelSpec",
           "REGISTRY", "DEFAULT_MODELS", "DEFAULT_REGRESSION_MODELS", "PRESETS", "SKOPS_ALLOWED", "log_comparison",
           "record_results", "tune_models", "tuning_figures", "tuning_table", "Ensemble", "add_ensembles"]
