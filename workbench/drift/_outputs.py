"""What a drift report keeps: its verdict table saved (:func:`save`), sent to experiment tracking
(:func:`log`), and its headline values recorded for the run (:func:`record`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.io import atomic_write_text
from ..core.journal import record as record_value
from ._figures import distributions_figure
from ._report import DriftReport


def save(report: DriftReport, folder: str | Path, name: str = "drift.csv") -> Path:
    """Write the report's verdict table (:meth:`DriftReport.table`: features, target, predictions) to
    ``folder/name`` atomically; returns its path."""
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, report.table().to_csv(index=False))
    return path


def log(tracker: Any, report: DriftReport) -> None:
    """Send the verdict table, the headline values and the drifted columns' figure to experiment tracking."""
    tracker.log_table("drift", report.table())
    tracker.summary(report.headline())
    drifted = [c for c in report.results if c.drifted]
    if drifted:
        tracker.log_figure("drifted_columns", distributions_figure(drifted[:12], "Drifted columns"))


def record(report: DriftReport) -> dict[str, Any]:
    """Record the report's :meth:`~DriftReport.headline` values (``drift_share``, ``n_drifted``,
    ``n_columns``, ``dataset_drift``, ``domain_auc``, ``target_drift`` ...) with ``workbench.record``;
    they show in the report header and the run index. Returns them."""
    values = report.headline()
    for k, v in values.items():
        record_value(k, v)
    return values
