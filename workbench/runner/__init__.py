"""The run path, outside the kernel: a notebook read once (source), its parameters as a signature,
run options declared once, a run planned then executed as named steps, the run cache, sweeps (local
or Dask), W&B publishing from the run's journal.

Names are imported on first use, so ``workbench --help`` and ``import workbench.runner.options`` stay cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "run_notebook": "execute", "RunOptions": "options", "Parameter": "params", "Signature": "params",
    "inspect_parameters": "params", "load_params_file": "params", "parse_value": "params", "validate": "params",
    "Plan": "plan", "plan_run": "plan", "git_info": "record", "rerun_command": "record",
    "NotebookSource": "source", "run_sweep": "sweeps",
}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'workbench.runner' has no attribute {name!r}")
