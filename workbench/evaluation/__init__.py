"""Evaluation shared by every domain: classification metrics under one naming, the figures in one
style, and the display parts of a report (``Note``, ``Panel``, the ``section`` guard).

Metric names: ``roc_auc``, ``pr_auc``, ``accuracy``, ``balanced_accuracy``, ``f1``, ``precision``,
``recall``, ``log_loss``, ``brier`` (see :data:`METRICS`).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._metrics import (
    METRICS,
    Metric,
    classification_metrics,
    curve_inputs,
    f1_threshold,
    onehot,
    rank_auc,
    resolve_metric,
)

_FIGURES = ("STYLE", "figure_layout", "roc_figure", "pr_figure", "calibration_figure", "confusion_matrix_figure",
            "learning_curve_figure", "bar_figure", "grid_layout", "grid_axis")
_DISPLAY = ("Note", "Panel", "section", "fmt")

__all__ = ["METRICS", "Metric", "classification_metrics", "curve_inputs", "f1_threshold", "onehot", "rank_auc",
           "resolve_metric", *_FIGURES, *_DISPLAY]


def __getattr__(name: str) -> Any:  # figures import plotly, display pandas: only when asked for
    if name in _FIGURES:
        return getattr(importlib.import_module("._figures", __name__), name)
    if name in _DISPLAY:
        return getattr(importlib.import_module("._display", __name__), name)
    raise AttributeError(f"module 'workbench.evaluation' has no attribute {name!r}")
