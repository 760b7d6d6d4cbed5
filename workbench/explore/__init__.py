"""Exploratory data analysis of any table: overview, alerts, summaries, missing values,
distributions, correlations, associations, target analysis and a column explorer.

The ``explore`` notebook is a few calls into this package::

    eda = explore.Exploration(workbench.load_dataset("telco_churn"), target="churn")
    eda.overview(); eda.alerts(); eda.summaries(); eda.missing(); eda.distributions()
    eda.correlations(); eda.associations(); eda.target_analysis(); eda.explorer()
    explore.record(eda)                  # rows, columns, missing_fraction, duplicate_rows, alerts, target_rate

``Exploration(dataset, target=...)`` prepares the table once; each section method returns something
a notebook cell displays (a table, a plotly figure, or a ``Panel`` of several parts, see
:mod:`workbench.evaluation`). Column profiling itself lives in :mod:`workbench.data` (shared with drift
monitoring). Building blocks stay in the private modules: ``_exploration`` (the sections), ``_alerts``
(data-quality alerts), ``_relations`` (target kinds and rates, correlations, Cramér's V, leakage scores),
``_figures``, ``_explorer`` (the column explorer's static copy), ``_outputs`` (what the run records).
"""

from __future__ import annotations

from ._alerts import AlertThresholds
from ._exploration import Exploration
from ._outputs import record

__all__ = ["Exploration", "AlertThresholds", "record"]
