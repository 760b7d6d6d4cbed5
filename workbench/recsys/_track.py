"""What the recommend notebook sends to experiment tracking and comparison pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.journal import record_curve
from ._figures import cold_start_figure, leaderboard_figure, metric_curves_figure, popularity_bias_figure
from ._results import Comparison


def log_comparison(tracker: Any, comparison: Comparison, model_dir: str | Path | None = None) -> None:
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
    for name, fig in (("leaderboard", leaderboard_figure(comparison)), ("metric_vs_k", metric_curves_figure(comparison)),
                      ("cold_start", cold_start_figure(comparison)),
                      ("popularity_bias", popularity_bias_figure(comparison))):
        tracker.log_figure(name, fig)
    tracker.summary(comparison.record_values())
    if model_dir is not None:
        tracker.log_artifact(model_dir, name=f"model-{comparison.best}", type="model")
    best = comparison.results[comparison.best]
    ks = np.arange(1, comparison.task.max_k + 1)
    record_curve("NDCG@k (best model)", ks, best.metrics["ndcg"].mean(0), "k", "NDCG@k")
    record_curve("Recall@k (best model)", ks, best.metrics["recall"].mean(0), "k", "Recall@k")
