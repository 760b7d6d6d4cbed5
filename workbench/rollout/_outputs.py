"""What a rollout report keeps: its per-variant table and daily looks saved (:func:`save`), sent to
experiment tracking (:func:`log`), and its headline values recorded for the run (:func:`record`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.io import atomic_write_text
from ..core.journal import record as record_value
from ._report import RolloutReport


def save(report: RolloutReport, folder: str | Path, name: str = "rollout.csv") -> Path:
    """Write the report's per-variant table to ``folder/name`` and its daily looks to
    ``folder/rollout_days.csv`` (atomically); returns the first path."""
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, report.table.to_csv(index=False))
    atomic_write_text(path.with_name("rollout_days.csv"), report.looks.to_csv(index=False))
    return path


def log(tracker: Any, report: RolloutReport) -> None:
    """Send the per-variant table, the daily looks and the headline values to experiment tracking."""
    tracker.log_table("rollout", report.table)
    tracker.log_table("rollout_days", report.looks)
    tracker.summary({k: v for k, v in report.headline().items() if v is not None})


def record(report: RolloutReport) -> dict[str, Any]:
    """Record the report's :meth:`~RolloutReport.headline` (``verdict``, ``metric_delta``, ``p_value``,
    ``n_champion``, ``n_challenger``, ``srm_p``) with ``workbench.record``; returns them."""
    values = report.headline()
    for k, v in values.items():
        if v is not None:
            record_value(k, v)
    return values
