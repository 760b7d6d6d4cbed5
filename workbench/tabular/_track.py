"""What the compare_models notebook sends to experiment tracking and comparison pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.journal import record, record_curve
from ..evaluation import curve_inputs
from ._board import Comparison
from ._diag import leaderboard_figure, overlay_figures
from ._model import TabularModel
from ._task import TabularTask
from ._tune import tuning_figures


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool) and v == v}


def log_comparison(tracker: Any, task: TabularTask, comparison: Comparison, model: TabularModel,
                   model_dir: str | Path) -> None:
    """Log the natural history (one row per model and fold under ``cv/``, one per tuning trial under
    ``trial/``), the leaderboard as a table, the figures and the saved model; record the best model's
    test ROC curve (classification) or sorted absolute test errors (regression) for comparison pages."""
    from sklearn.metrics import roc_curve

    # per-fold and per-trial rows: history only, never the run's summary (which holds its test metrics)
    step = 0
    for row in comparison.fold_scores.to_dict("records"):
        tracker.log({f"cv/{k}": v for k, v in _plain(row).items()}, step=step)
        step += 1
    for name, study in comparison.studies.items():
        for row in study["trials"].to_dict("records"):
            tracker.log({"trial/model": name, **{f"trial/{k.replace('param ', '')}": v for k, v in _plain(row).items()}},
                        step=step)
            step += 1
    tracker.log_table("leaderboard", comparison.leaderboard.reset_index())
    tracker.log_figure("leaderboard", leaderboard_figure(comparison))
    for fig in overlay_figures(comparison):
        tracker.log_figure(str(fig.layout.title.text).split(" ")[0].lower() + "_oof", fig)
    for i, fig in enumerate(tuning_figures(comparison)):
        tracker.log_figure(f"tuning_{i}", fig)
    tracker.log_artifact(model_dir, name=f"model-{model.name}", type="model")
    pred = model.meta.get("_test_pred")  # computed by fit_best; predict only for models built elsewhere
    if task.regression:
        pred = model.predict(task.X_test) if pred is None else pred
        err = np.sort(np.abs(task.y_test - np.asarray(pred)))
        record_curve("test absolute error (best model)", np.linspace(0, 1, len(err)), err, "share of test rows",
                     "absolute error")
        return
    proba = model.predict_proba(task.X_test) if pred is None else pred
    y, s, _ = curve_inputs(task.y_test, np.asarray(proba), task.classes)
    fpr, tpr, _ = roc_curve(y, s)
    record_curve("test ROC (best model)", fpr, tpr, "false positive rate", "true positive rate")


def record_results(task: TabularTask, comparison: Comparison, model: TabularModel) -> dict[str, Any]:
    """Record the run's results: ``best_model``, ``metric``, ``best_score`` (held-out test), ``cv_score``
    (its CV mean) and ``n_models`` (registry models compared); returns them."""
    results = {"best_model": model.name, "metric": task.metric.key, "best_score": float(model.meta["test_score"]),
               "cv_score": float(comparison.leaderboard.loc[model.name, f"{task.metric.key}_mean"]),
               "n_models": len(task.models)}
    for k, v in results.items():
        record(k, v)
    return results
