"""Evaluation shared by every domain: classification and regression metrics under one naming, the figures
in one style, and the display parts of a report (``Note``, ``Panel``, ``full`` tables, the ``section``
guard, the number format ``fmt``/``fmt_mean``).

Metric names: ``roc_auc``, ``pr_auc``, ``accuracy``, ``balanced_accuracy``, ``f1``, ``precision``,
``recall``, ``log_loss``, ``brier`` (see :data:`METRICS`); regression: ``rmse``, ``mae``, ``medae``,
``r2``, ``mape`` (see :data:`REGRESSION_METRICS`). ROC-AUC comparisons: :func:`delong_test` (two correlated
AUCs), :func:`auc_interval` (one AUC), :func:`delong_covariance` (DeLong, fast midrank algorithm). Fairness
by group (:func:`group_table`, :func:`fairness_gaps`: fairlearn's definitions, Wilson intervals from
:func:`proportion_interval`).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._delong import DeLongTest, auc_interval, delong_covariance, delong_test
from ._metrics import (
    METRICS,
    REGRESSION_METRICS,
    TASK_KINDS,
    Metric,
    classification_metrics,
    curve_inputs,
    f1_threshold,
    interval_coverage,
    metrics_for,
    onehot,
    rank_auc,
    regression_metrics,
    resolve_metric,
)

_FIGURES = ("STYLE", "figure_layout", "roc_figure", "pr_figure", "calibration_figure", "confusion_matrix_figure",
            "learning_curve_figure", "bar_figure", "grid_layout", "grid_axis", "predicted_actual_figure",
            "residual_figure")
_DISPLAY = ("Note", "Panel", "section", "fmt", "fmt_mean", "FullTable", "full")
_FAIRNESS = ("MIN_GROUP_ROWS", "GAP_THRESHOLD", "proportion_interval", "group_table", "fairness_gaps", "headline_gaps",
             "gap_warnings", "fairness_figure")

__all__ = ["METRICS", "REGRESSION_METRICS", "TASK_KINDS", "Metric", "classification_metrics", "regression_metrics",
           "interval_coverage", "metrics_for", "curve_inputs", "f1_threshold", "onehot", "rank_auc", "resolve_metric",
           "DeLongTest", "auc_interval", "delong_covariance", "delong_test",
           *_FIGURES, *_DISPLAY, *_FAIRNESS]


def __getattr__(name: str) -> Any:  # figures import plotly, display pandas: only when asked for
    if name in _FIGURES:
        return getattr(importlib.import_module("._figures", __name__), name)
    if name in _DISPLAY:
        return getattr(importlib.import_module("._display", __name__), name)
    if name in _FAIRNESS:
        return getattr(importlib.import_module("._fairness", __name__), name)
    raise AttributeError(f"module 'workbench.evaluation' has no attribute {name!r}")
