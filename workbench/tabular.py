"""Tabular classification: compare models fairly, choose one, diagnose it, save it, score with it.

The ``compare_models`` notebook is a few calls into this module::

    task = tabular.prepare_task(data, "churn", positive_label="Yes", models=["logreg", "catboost"])
    comparison = tabular.compare_models(task, out_dir=workbench.artifacts_dir())
    model = tabular.fit_best(task, comparison)        # refit on the train split, test metrics
    tabular.save_model(model, workbench.artifacts_dir() / "model")
    tabular.score_file("…/artifacts/model", "new.csv", "predictions.csv")   # = workbench score

Concerns live in private modules: ``_tabular_prep`` (validation, preprocessing, model registry),
``_tabular_cv`` (parallel CV, leaderboard), ``_tabular_diag`` (refit, threshold, figures, importance),
``_tabular_io`` (the fitted model, safe persistence, batch scoring).
"""

from __future__ import annotations

from ._tabular_cv import Comparison, compare_models, score_proba
from ._tabular_diag import (diagnostic_figures, f1_threshold, fit_best, holdout_predictions, holdout_table,
                            leaderboard_figure, native_importance_table, overlay_figures,
                            permutation_importance_table)
from ._tabular_io import TabularModel, load_model, save_model, score_file, score_frame
from ._tabular_track import log_comparison
from ._tabular_prep import (DEFAULT_MODELS, METRICS, REGISTRY, CatBoostFrameClassifier, TabularTask,
                            build_model, make_preprocessor, model_names, prepare_task, resolve_metric,
                            validate_models)

__all__ = ["prepare_task", "TabularTask", "compare_models", "Comparison", "fit_best", "TabularModel",
           "holdout_table", "holdout_predictions", "leaderboard_figure", "overlay_figures", "diagnostic_figures",
           "permutation_importance_table", "native_importance_table", "f1_threshold", "score_proba",
           "save_model", "load_model", "score_frame", "score_file", "model_names", "validate_models",
           "build_model", "make_preprocessor", "resolve_metric", "CatBoostFrameClassifier", "REGISTRY",
           "DEFAULT_MODELS", "METRICS", "log_comparison"]
