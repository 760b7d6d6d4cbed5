"""Where a notebook runs: headless under ``workbench run`` or interactively (JupyterLab, papermill)."""

from __future__ import annotations

import os
from pathlib import Path


def in_headless_run() -> bool:
    """True inside a kernel started by ``workbench run`` (or a sweep)."""
    return bool(os.environ.get("WORKBENCH_RUN_DIR"))


def run_id() -> str | None:
    """The current run's id, or None interactively."""
    return os.environ.get("WORKBENCH_RUN_ID")


def artifacts_dir() -> Path:
    """Folder for this run's files (models, tables).

    Headless: ``reports/<notebook>/<run_id>/artifacts``. Interactive: ``.workbench/interactive/`` in
    the working directory, so exploration never writes into ``reports/``.
    """
    base = os.environ.get("WORKBENCH_RUN_DIR")
    path = Path(base) / "artifacts" if base else Path(".workbench") / "interactive"
    path.mkdir(parents=True, exist_ok=True)
    return path
