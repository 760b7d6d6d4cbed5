"""Recommenders: content, collaborative and hybrid models, evaluated like a paper, served in real time.

The ``recommend`` notebook is a few calls into this package::

    data = recsys.prepare_interactions(workbench.load_dataset("movielens"), "userId", "movieId", "rating",
                                       "timestamp", item_text_cols=["title", "genres"])
    task = recsys.prepare_task(data, models=["popularity", "ease", "hybrid"], k=10)
    comparison = recsys.compare_models(task)           # tune on validation, refit, test on full rankings
    comparison.table(); comparison.leaderboard_figure(); comparison.cold_start()   # the report's sections
    model_dir = recsys.save(comparison, workbench.artifacts_dir())                 # artifacts/model
    recsys.log(tracker, comparison, model_dir); recsys.record(comparison)
    # then: workbench predict …/artifacts/model users.csv -o recs.csv

    model = workbench.load_model(model_dir)            # a RecommenderPredictor
    model.recommend(42); model.update(42, 318, 5.0)    # the next recommendations use it at once

Building blocks live in private modules: ``_data`` (validation and cleaning), ``_history`` (histories
and profiles), ``_task`` (the split and cold-start slices), ``_base`` (interface, registry, array
checks), ``_neighbors`` / ``_factors`` / ``_hybrid`` (the models), ``_metrics`` (ranking metrics,
bootstrap), ``_compare`` (tuning, evaluation), ``_outcomes`` (per-model results), ``_results`` (the
comparison and its sections), ``_figures`` (plots and example tables), ``_saved`` / ``_predictor`` (the
saved-model contract, serving and real-time updates), ``_outputs`` (save, log, record).
"""

from __future__ import annotations

from . import _factors, _hybrid, _neighbors  # noqa: F401  (register the built-in models)
from ._base import model_names
from ._compare import compare_models
from ._data import Interactions, prepare_interactions
from ._outputs import log, record, save
from ._predictor import latency_ms, load_predictor, update_demo  # noqa: F401  (load_predictor: the model kind)
from ._results import Comparison
from ._task import RecTask, describe_models, prepare_task

__all__ = ["prepare_interactions", "prepare_task", "compare_models", "save", "log", "record", "describe_models",
           "model_names", "latency_ms", "update_demo", "Interactions", "RecTask", "Comparison"]
