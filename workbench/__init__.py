"""workbench: parameterized notebooks rendered into versioned, offline HTML reports.

Public API (heavy parts are imported on first use, so ``import workbench`` in a notebook is cheap)::

    workbench.record(name, value)        # record a metric for this run
    workbench.record_curve(name, x, y)   # a curve for comparison pages (ROC, learning curve)
    workbench.track()                    # W&B tracking: history, tables, figures, artifacts
    workbench.artifacts_dir()            # where a run saves models and files
    workbench.load_dataset(name_or_path) # a registered dataset or a CSV/Parquet file
    workbench.load_model(folder_or_ref)  # any saved model, or "churn@champion": .predict(inputs) -> DataFrame
    workbench.register_model(folder, name)  # into the model registry (a notebook's register_as; "" does nothing)
    workbench.run_notebook(path, params) # one headless run into reports/
    workbench.inspect_parameters(path)   # a notebook's parameter signature

The package is layered (see ARCHITECTURE.md): ``core`` → ``data`` / ``evaluation`` / ``models`` →
``registry`` → domains (``explore``, ``tabular``, ``vision``, ``recsys``) → ``runner`` / ``reports`` / ``serve`` → ``cli``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .core.context import artifacts_dir, in_headless_run, run_id
from .core.journal import record, record_curve
from .errors import DatasetError, ModelError, NotebookNotFoundError, ParameterError, RunFailedError, WorkbenchError

__version__ = "0.2.0"

_LAZY = {
    "run_notebook": ("runner.execute", "run_notebook"),
    "inspect_parameters": ("runner.params", "inspect_parameters"),
    "load_dataset": ("data", "load_dataset"),
    "Dataset": ("data", "Dataset"),
    "load_image_dataset": ("data", "load_image_dataset"),
    "track": ("core.tracking", "track"),
    "load_model": ("registry", "load_model"),  # a model folder, or a registry reference (falls back to the folder)
    "register_model": ("registry", "register_model"),  # a saved model folder as the next version of a name
}

__all__ = ["record", "record_curve", "artifacts_dir", "in_headless_run", "run_id", "WorkbenchError", "ParameterError",
           "NotebookNotFoundError", "DatasetError", "ModelError", "RunFailedError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{mod}", __name__), attr)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
