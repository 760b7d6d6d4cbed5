"""The run path, outside the kernel: parameters as a signature, one run as named steps, the run cache,
sweeps (local or Dask), W&B publishing from the run's journal.
"""

from __future__ import annotations

from .execute import DEFAULT_REPORTS, Plan, plan_run, prepare_params, run_notebook
from .params import Parameter, inspect_parameters, load_params_file, parse_value, validate
from .record import git_info, rerun_command

__all__ = ["DEFAULT_REPORTS", "Plan", "plan_run", "prepare_params", "run_notebook", "Parameter",
           "inspect_parameters", "load_params_file", "parse_value", "validate", "git_info", "rerun_command"]
