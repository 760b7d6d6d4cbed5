"""What a model comparison keeps: the chosen model saved through the contract with its test predictions
(:func:`save`), the comparison sent to experiment tracking (:func:`log`), and the run's results
recorded (:func:`record`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.journal import record as record_value
from ..core.journal import record_curve
from ..evaluation import curve_inputs
from . import _figures
from ._best import BestModel
from ._fairness import fairness_results
from ._persist import save_model


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool) and v == v}


def save(best: BestModel, folder: str | Path) -> Path:
    """Save the refit model to ``folder/model`` (its model file(s) and ``model.json``) and its predictions
    on the held-out test split to ``folder/test_predictions.csv``; returns the model folder."""
    folder = Path(folder)
    model_dir = save_model(best.model, folder / "model")
    best.test_predictions().to_csv(folder / "test_predictions.csv", index=False)
    return model_dir


def log(tracker: Any, best: BestModel, model_dir: str | Path) -> None:
    """Log the natural history (one row per model and fold under ``cv/``, one per tuning trial under
    ``trial/``), the leaderboard as a table, the figures and the saved model; record the best model's
    test ROC curve (classification) or sorted absolute test errors (regression) for comparison pages."""
    from sklearn.metrics import roc_curve

    task, comparison = best.task, best.comparison
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
    tracker.log_figure("leaderboard", comparison.leaderboard_figure())
    for fig in comparison.curves().parts:
        tracker.log_figure(str(fig.layout.title.text).split(" ")[0].lower() + "_oof", fig)
    for i, fig in enumerate(_figures.tuning_figures(comparison.studies, comparison.metric)):
        tracker.log_figure(f"tuning_{i}", fig)
    tracker.log_artifact(model_dir, name=f"model-{best.name}", type="model")
    if task.regression:
        err = np.sort(np.abs(task.y_test - np.asarray(best.test_pred)))
        record_curve("test absolute error (best model)", np.linspace(0, 1, len(err)), err, "share of test rows",
                     "absolute error")
        return
    y, s, _ = curve_inputs(task.y_test, np.asarray(best.test_pred), task.classes)
    fpr, tpr, _ = roc_curve(y, s)
    record_curve("test ROC (best model)", fpr, tpr, "false positive rate", "true positive rate")


def record(best: BestModel) -> dict[str, Any]:
    """Record the run's results with ``workbench.record``: ``best_model``, ``metric``, ``best_score``
    (held-out test), ``cv_score`` (its CV mean) and ``n_models`` (registry models compared), and with
    sensitive columns ``dp_difference`` and ``eo_difference`` (held-out test, the worst column); returns them."""
    task, model = best.task, best.model
    results = {"best_model": model.name, "metric": task.metric.key, "best_score": float(model.meta["test_score"]),
               "cv_score": float(best.comparison.leaderboard.loc[model.name, f"{task.metric.key}_mean"]),
               "n_models": len(task.models)}
    if task.sensitive:
        head = fairness_results(best)["headline"]
        results.update(dp_difference=head["dp_difference"], eo_difference=head["eo_difference"])
    for k, v in results.items():
        record_value(k, v)
    return results
