"""workbench: parameterized notebooks rendered into versioned, offline HTML reports.

Public API (heavy parts are imported on first use, so ``import workbench`` in a notebook is cheap)::

    workbench.record(name, value)        # record a metric for this run
    workbench.record_curve(name, x, y)   # a curve for comparison pages (ROC, learning curve)
    workbench.track()                    # W&B tracking: history, tables, figures, artifacts
    workbench.run_notebook(path, params) # one headless run into reports/
    workbench.inspect_parameters(path)   # a notebook's parameter signature
    workbench.load_dataset(name_or_path) # a registered dataset or a CSV/Parquet file
    workbench.artifacts_dir()            # where a run saves models and files
"""

from __future__ import annotations

from typing import Any

from .errors import (DatasetError, ModelError, NotebookNotFoundError, ParameterError, RunFailedError,
                     WorkbenchError)
from .record import record, record_curve
from ._context import artifacts_dir, in_headless_run, run_id

__version__ = "0.1.0"

_LAZY = {
    "run_notebook": ("execute", "run_notebook"),
    "inspect_parameters": ("params", "inspect_parameters"),
    "load_dataset": ("data", "load_dataset"),
    "Dataset": ("data", "Dataset"),
    "track": ("tracking", "track"),
    "load_image_dataset": ("images", "load_image_dataset"),
}

__all__ = ["record", "record_curve", "artifacts_dir", "in_headless_run", "run_id", "WorkbenchError", "ParameterError",
           "NotebookNotFoundError", "DatasetError", "ModelError", "RunFailedError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{mod}", __name__), attr)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
