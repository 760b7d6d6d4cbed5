"""Drift monitoring: is today's data still the data the model learned from?

``DriftReport(reference, current, target="churn", model=MODEL_DIR)`` compares a reference table (the
training data) with a current one (last week's requests) and the ``drift`` notebook is a few calls::

    report = drift.DriftReport("telco_churn_reference", "requests/churn/", model="…/artifacts/model")
    report.overview(); report.findings(); report.summary(); report.distributions()
    report.multivariate(); report.target_drift(); report.prediction_drift(); report.performance()
    drift.record(report)                             # drift_share, n_drifted, dataset_drift, domain_auc
    path = drift.save(report, workbench.artifacts_dir())   # artifacts/drift.csv
    drift.log(tracker, report)

Column by column, tests chosen by kind and size (stated in the report): Kolmogorov-Smirnov and
chi-square with a Benjamini-Hochberg correction on small samples, normalised Wasserstein and
Jensen-Shannon distances on large ones (their test must agree), PSI for every column, missing-share
and new-category checks. Dataset drift: a share of drifted columns, or a domain classifier (held-out
ROC-AUC with a DeLong interval; 0.5 = no drift) and the columns it uses. Schema differences are
findings, not crashes; an empty table is an error.

``current`` (and ``reference``) may be the request log that ``workbench serve`` writes: one folder
per model of JSON-lines files (rotating per day is fine), one request per line::

    {"ts": "<ISO-8601 UTC>", "model": "<name>", "latency_ms": <float>,
     "input": {<column>: <value>, ...}, "output": {"prediction": ..., "proba_<class>": ..., ...}}

The inputs become the table's columns; the outputs are the recorded predictions, used for
prediction drift without re-scoring. Parquet files with the same records flattened (``ts``,
``model``, ``latency_ms``, ``input.<column>``, ``output.<name>``) are read too. The full format is in
:mod:`workbench.data._requestlog` (``workbench.data.read_request_log``).

Building blocks live in private modules: ``_config`` (thresholds), ``_stats`` (per-column statistics),
``_column_drift`` (test choice, correction, verdicts), ``_schema`` (loading, sampling, schema findings),
``_domain`` (the classifier), ``_model`` (the model's predictions, performance), ``_figures``, ``_text``,
``_report`` (:class:`DriftReport` and its sections), ``_outputs`` (save, log, record).
"""

from __future__ import annotations

from ._config import Thresholds
from ._outputs import log, record, save
from ._report import DriftReport

__all__ = ["DriftReport", "Thresholds", "save", "log", "record"]
