"""Tabular classification: compare models fairly, choose one, diagnose it, save it, predict with it.

The ``compare_models`` notebook is a few calls into this package::

    task = tabular.prepare_task(data, "churn", positive_label="Yes", models=["logreg", "catboost"])
    comparison = tabular.compare_models(task, out_dir=workbench.artifacts_dir())
    model = tabular.fit_best(task, comparison)        # refit on the train split, test metrics
    tabular.save_model(model, workbench.artifacts_dir() / "model")
    # then: workbench predict …/artifacts/model new.csv -o predictions.csv

Concerns live in private modules: ``_task`` (validation, split, folds), ``_models`` (registry,
preprocessing, CatBoost wrapper), ``_cv`` (parallel CV, leaderboard), ``_diag`` (refit, threshold,
figures, importance), ``_model`` (the fitted model, saving and loading through the contract),
``_track`` (W&B and comparison curves).
"""

from __future__ import annotations

from ._cv import Comparison, compare_models
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
from ._model import TabularModel, TabularPredictor, load_model, load_predictor, model_card, save_model, score_frame
from ._models import (
                    DEFAULT_MODELS,
                    REGISTRY,
                    CatBoostFrameClassifier,
                    ModelSpec,
                    build_model,
                    make_preprocessor,
                    model_names,
                    validate_models,
)
from ._skops_types import SKOPS_ALLOWED
from ._task import TabularTask, coerce_frame, prepare_task
from ._track import log_comparison

__all__ = ["prepare_task", "TabularTask", "coerce_frame", "compare_models", "Comparison", "fit_best", "TabularModel",
           "TabularPredictor", "holdout_table", "holdout_predictions", "leaderboard_figure", "overlay_figures",
           "diagnostic_figures", "permutation_importance_table", "native_importance_table", "save_model",
           "load_model", "load_predictor", "model_card", "score_frame", "model_names", "validate_models",
           "build_model", "make_preprocessor", "CatBoostFrameClassifier", "ModelSpec", "REGISTRY", "DEFAULT_MODELS",
           "SKOPS_ALLOWED", "log_comparison"]
