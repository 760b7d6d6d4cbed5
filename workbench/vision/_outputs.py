"""What a fine-tuning run keeps: the model saved through the contract with the test predictions
(:func:`save`), the training sent to experiment tracking (:func:`log`), and the run's test metrics
recorded (:func:`record`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..core.journal import record as record_value
from ..core.journal import record_curve
from ._io import save_model
from ._run import VisionRun


def save(run: VisionRun, folder: str | os.PathLike) -> Path:
    """Save the model to ``folder/model`` (safetensors + ``model.json``) and the test predictions to
    ``folder/test_predictions.csv``; returns the model folder."""
    folder = Path(folder)
    meta = {**run.fit.meta, "metrics": run.metrics, "timings": run.timings,
            "dataset": run.test.name, "n_train": len(run.train), "n_val": len(run.val), "n_test": len(run.test)}
    model_dir = save_model(run.model, meta, folder / "model")
    run.test_predictions().to_csv(folder / "test_predictions.csv", index=False)
    return model_dir


def log(tracker: Any, run: VisionRun, model_dir: str | Path) -> None:
    """Log one history row per epoch (both phases), the learning curves and confusion matrix, the
    saved model; record the validation curves for comparison pages."""
    h = run.fit.history
    # per-epoch rows under epoch/: history only; the summary holds the restored (best) epoch and the test metrics
    for step, row in enumerate(zip(*(h[k] for k in h))):
        tracker.log({f"epoch/{k}": v for k, v in zip(h, row)}, step=step)
    best = run.fit.best
    tracker.summary({"best_phase": best.get("phase"), "best_epoch": best.get("epoch"),
                     "best_val_loss": best.get("val_loss"), "best_val_accuracy": best.get("val_accuracy")})
    tracker.log_figure("learning_curves", run.learning_curves())
    tracker.log_figure("confusion_matrix", run.confusion_matrix())
    tracker.log_artifact(model_dir, name=f"model-{run.fit.config.backbone}", type="model")
    steps = list(range(1, len(h["val_loss"]) + 1))
    record_curve("validation loss", steps, h["val_loss"], "epoch (frozen, then fine-tuning)", "loss")
    record_curve("validation accuracy", steps, h["val_accuracy"], "epoch (frozen, then fine-tuning)", "accuracy")


def record(run: VisionRun) -> dict[str, float]:
    """Record ``test_accuracy``, ``test_balanced_accuracy``, ``test_roc_auc`` (binary) and
    ``train_seconds`` with ``workbench.record``; returns them."""
    out = {"test_accuracy": run.metrics["accuracy"], "test_balanced_accuracy": run.metrics["balanced_accuracy"]}
    if "roc_auc" in run.metrics and len(run.classes) == 2:
        out["test_roc_auc"] = run.metrics["roc_auc"]
    out["train_seconds"] = round(run.timings["train_seconds"], 1)
    for k, v in out.items():
        record_value(k, v)
    return out
