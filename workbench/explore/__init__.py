"""Exploratory data analysis of any table: overview, alerts, summaries, missing values,
distributions, correlations, associations, target analysis and a column explorer.

``Exploration(dataset, target="churn")`` prepares the table once; each section method returns
something a notebook cell displays (a table, a plotly figure, or a :class:`Panel` of several parts).
Column profiling itself lives in :mod:`workbench.data` (shared with drift monitoring).
"""

from __future__ import annotations

from ..data._profile import SampleInfo, column_summary, heavy_sample, missing_patterns, overview, prepare_frame
from ._alerts import AlertThresholds, compute_alerts, duplicate_columns
from ._display import Note, Panel
from ._exploration import Exploration
from ._relations import (
                             TargetInfo,
                             average_ranks,
                             cramers_v_matrix,
                             group_codes,
                             grouped_auc,
                             numeric_correlation,
                             single_column_scores,
                             target_by_group,
                             target_info,
                             target_vector,
                             wilson_interval,
)

__all__ = ["Exploration", "Note", "Panel", "AlertThresholds", "SampleInfo", "TargetInfo", "column_summary",
           "compute_alerts", "cramers_v_matrix", "duplicate_columns", "group_codes", "heavy_sample",
           "missing_patterns", "numeric_correlation", "overview", "prepare_frame", "target_by_group",
           "target_info", "target_vector", "wilson_interval", "average_ranks", "grouped_auc", "single_column_scores"]
