"""What the vision notebook sends to experiment tracking and comparison pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def log_training(tracker: Any, run: Any, model_dir: str | Path) -> None:
    """Log one history row per epoch (both phases), the learning curves and confusion matrix, the
    saved model; record the validation curves for comparison pages."""
    from ..core.journal import record_curve
    from ._report import confusion_matrix, learning_curves

    h = run.fit.history
    # per-epoch rows under epoch/: history only; the summary holds the restored (best) epoch and the test metrics
    for step, row in enumerate(zip(*(h[k] for k in h))):
        tracker.log({f"epoch/{k}": v for k, v in zip(h, row)}, step=step)
    best = run.fit.best
    tracker.summary({"best_phase": best.get("phase"), "best_epoch": best.get("epoch"),
                     "best_val_loss": best.get("val_loss"), "best_val_accuracy": best.get("val_accuracy")})
    tracker.log_figure("learning_curves", learning_curves(run))
    tracker.log_figure("confusion_matrix", confusion_matrix(run))
    tracker.log_artifact(model_dir, name=f"model-{run.fit.config.backbone}", type="model")
    steps = list(range(1, len(h["val_loss"]) + 1))
    record_curve("validation loss", steps, h["val_loss"], "epoch (frozen, then fine-tuning)", "loss")
    record_curve("validation accuracy", steps, h["val_accuracy"], "epoch (frozen, then fine-tuning)", "accuracy")
