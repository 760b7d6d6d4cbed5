"""What the compare_models notebook sends to experiment tracking and comparison pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.journal import record_curve
from ..evaluation import curve_inputs
from ._cv import Comparison
from ._diag import leaderboard_figure, overlay_figures
from ._model import TabularModel
from ._task import TabularTask


def log_comparison(tracker: Any, task: TabularTask, comparison: Comparison, model: TabularModel,
                   model_dir: str | Path) -> None:
    """Log the natural history (one row per model and fold), the leaderboard as a table, the
    figures and the saved model; record the best model's test ROC curve for comparison pages."""
    from sklearn.metrics import roc_curve

    # per-fold rows under cv/: history only, never the run's summary (which holds its test metrics)
    for i, row in enumerate(comparison.fold_scores.to_dict("records")):
        tracker.log({f"cv/{k}": v for k, v in row.items() if isinstance(v, (int, float, str)) and v == v}, step=i)
    tracker.log_table("leaderboard", comparison.leaderboard.reset_index())
    tracker.log_figure("leaderboard", leaderboard_figure(comparison))
    for fig in overlay_figures(comparison):
        tracker.log_figure(str(fig.layout.title.text).split(" ")[0].lower() + "_oof", fig)
    tracker.log_artifact(model_dir, name=f"model-{model.name}", type="model")
    proba = model.meta.get("_test_proba")  # computed by fit_best; predict only for models built elsewhere
    if proba is None:
        proba = model.predict_proba(task.X_test)
    y, s, _ = curve_inputs(task.y_test, np.asarray(proba), task.classes)
    fpr, tpr, _ = roc_curve(y, s)
    record_curve("test ROC (best model)", fpr, tpr, "false positive rate", "true positive rate")
