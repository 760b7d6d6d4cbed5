"""What a recommender comparison keeps: the chosen model saved through the contract (:func:`save`), the
comparison sent to experiment tracking (:func:`log`) and the run's headline values (:func:`record`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.journal import record as record_value
from ..core.journal import record_curve
from ._results import Comparison
from ._saved import save_model


def save(comparison: Comparison, folder: str | Path) -> Path:
    """Save the chosen model (best validation NDCG@k, fitted on the train split) with its test metrics to
    ``folder/model`` (``model.npz`` + ``model.json``); returns the model folder."""
    return save_model(comparison.best_model, comparison.task, Path(folder) / "model", metrics=comparison.record_values())


def log(tracker: Any, comparison: Comparison, model_dir: str | Path | None = None) -> None:
    """Log one history row per model (test metrics, times), the leaderboard, cold-start and tuning
    tables, the figures and the saved model; record the chosen model's NDCG@k and recall@k curves."""
    lb = comparison.leaderboard
    for i, (name, row) in enumerate(lb.iterrows()):
        values = {k: v for k, v in row.items() if isinstance(v, (int, float, np.floating)) and v == v}
        tracker.log({"model": name, **values}, step=i)
    tracker.log_table("leaderboard", lb.reset_index())
    tracker.log_table("cold_start", comparison.cold_start(numeric=True).reset_index())
    trials = comparison.trials()
    if not trials.empty:
        tracker.log_table("validation_trials", trials.astype(str))
    for name, fig in comparison.figures().items():
        tracker.log_figure(name, fig)
    tracker.summary(comparison.record_values())
    if model_dir is not None:
        tracker.log_artifact(model_dir, name=f"model-{comparison.best}", type="model")
    best = comparison.results[comparison.best]
    ks = np.arange(1, comparison.task.max_k + 1)
    record_curve("NDCG@k (best model)", ks, best.metrics["ndcg"].mean(0), "k", "NDCG@k")
    record_curve("Recall@k (best model)", ks, best.metrics["recall"].mean(0), "k", "Recall@k")


def record(comparison: Comparison, latency: dict[str, float] | None = None) -> dict[str, Any]:
    """Record the run's results with ``workbench.record``: ``best_model``, its test ``ndcg_at_<k>``,
    ``recall_at_<k>``, ``coverage`` and ``val_ndcg_at_<k>``, and ``latency_ms`` (the median of
    :func:`latency_ms`'s result) when ``latency`` is given; returns them."""
    values = dict(comparison.record_values())
    if latency is not None:
        values["latency_ms"] = latency["median_ms"]
    for k, v in values.items():
        record_value(k, v)
    return values
