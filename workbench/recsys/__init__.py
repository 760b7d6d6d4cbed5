"""Recommenders: content, collaborative and hybrid models, evaluated like a paper, served in real time.

The ``recommend`` notebook is a few calls into this package::

    data = recsys.prepare_interactions(workbench.load_dataset("movielens"), "userId", "movieId", "rating",
                                       "timestamp", item_text_cols=["title", "genres"])
    task = recsys.prepare_task(data, models=["popularity", "ease", "hybrid"], k=10)
    comparison = recsys.compare_models(task)           # tune on validation, refit, test on full rankings
    comparison.table(); comparison.cold_start()
    recsys.save_model(comparison.best_model, task, workbench.artifacts_dir() / "model")
    # then: workbench predict …/artifacts/model users.csv -o recs.csv

    model = workbench.load_model(folder)               # a RecommenderPredictor
    model.recommend(42); model.update(42, 318, 5.0)    # the next recommendations use it at once

Concerns live in private modules: ``_data`` (validation and cleaning), ``_history`` (histories and
profiles), ``_task`` (the split and cold-start slices), ``_base`` (interface, registry, array checks),
``_neighbors`` / ``_factors`` / ``_hybrid`` (the models), ``_metrics`` (ranking metrics, bootstrap),
``_compare`` / ``_results`` (tuning, evaluation, leaderboard), ``_figures`` (plots and example tables),
``_saved`` / ``_predictor`` (the saved-model contract, serving and real-time updates), ``_track`` (W&B).
"""

from __future__ import annotations

from ._base import DEFAULT_MODELS, MODELS, FitContext, Recommender, build, model_names, restore, validate_models
from ._compare import Result, Tuned, compare_models, evaluate, tune
from ._data import Interactions, prepare_interactions
from ._factors import ALS, Content, PureSVD
from ._figures import (
    cold_start_figure,
    example_recommendations,
    figures,
    leaderboard_figure,
    metric_curves_figure,
    popularity_bias_figure,
)
from ._history import History, ProfileSpec
from ._hybrid import Hybrid, tune_blend
from ._metrics import METRIC_LABELS, Targets, bootstrap_ci, exclude_seen, ndcg_at, top_k, user_metrics
from ._neighbors import EASE, ItemKNN, Popularity
from ._predictor import RecommenderPredictor, latency_ms, load_predictor, update_demo
from ._results import Comparison
from ._saved import save_model
from ._task import RecTask, Slice, describe_models, prepare_task
from ._track import log_comparison

__all__ = ["prepare_interactions", "Interactions", "prepare_task", "RecTask", "Slice", "describe_models",
           "compare_models", "Comparison", "evaluate", "tune", "Tuned", "Result", "MODELS", "DEFAULT_MODELS",
           "model_names", "validate_models", "build", "restore", "Recommender", "FitContext", "History",
           "ProfileSpec", "Popularity", "ItemKNN", "EASE", "PureSVD", "ALS", "Content", "Hybrid", "tune_blend",
           "METRIC_LABELS", "Targets", "bootstrap_ci", "exclude_seen", "ndcg_at", "top_k", "user_metrics",
           "save_model", "load_predictor", "RecommenderPredictor", "latency_ms", "update_demo", "figures", "leaderboard_figure",
           "metric_curves_figure", "cold_start_figure", "popularity_bias_figure", "example_recommendations",
           "log_comparison"]
