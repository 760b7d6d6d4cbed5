"""Parameter sweeps: a grid of runs, each in its own process and kernel, locally or on Dask.

``workbench sweep NB -g lr=0.1,0.01 -g folds=3,5 --jobs 2`` runs the 4 combinations, two at a time,
each as a ``workbench run`` subprocess (its own kernel, IPC sockets, no port races). One failing
run does not stop the others. ``--scheduler tcp://host:8786`` sends the same runs to a Dask
distributed cluster instead; each task is one notebook run writing its record into the shared
reports folder.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from ..core.runs import new_run_id
from ..errors import ParameterError
from .record import rerun_command, value_text


def parse_grid_arg(text: str) -> tuple[str, list[Any]]:
    """``"lr=0.1,0.01"`` -> ``("lr", [0.1, 0.01])``; values are YAML (``models=[a],[a, b]``)."""
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise ParameterError(f"grid entry {text!r} must look like NAME=V1,V2,... (e.g. -g folds=3,5)")
    try:
        parsed = yaml.safe_load(f"[{values}]")
    except yaml.YAMLError as e:
        raise ParameterError(f"grid values for {name!r} are not valid YAML: {values!r} ({e})") from e
    if not parsed:
        raise ParameterError(f"grid entry {text!r} has no values")
    return name.strip(), parsed


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of the grid, in a stable order."""
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def _run_one(notebook: str, params: dict[str, Any], reports: str, sweep_id: str, cwd: str,
             extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None,
             raw: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One grid point as a ``workbench run`` subprocess; returns a summary (also on failure)."""
    cmd = [sys.executable, "-m", "workbench.cli", "run", notebook, "--reports", reports, "--sweep-id", sweep_id,
           "--no-progress", *extra_args]
    for k, v in params.items():
        cmd += ["-p", k, (raw or {}).get(k) or value_text(v)]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "WORKBENCH_EXECUTOR": _executor(), **(env or {})})
    return {"params": params, "returncode": proc.returncode,
            "summary": (proc.stdout.strip().splitlines() or [""])[0] if proc.returncode == 0
            else (proc.stderr.strip().splitlines() or ["failed"])[-1]}


def _executor() -> str:
    """Who runs a grid point: a Dask worker's address inside a task, else this machine."""
    try:
        from distributed import get_worker

        return f"dask:{get_worker().address}"
    except (ImportError, ValueError):
        return f"local:{os.uname().nodename}"


def run_sweep(notebook: str | Path, grid: Mapping[str, Sequence[Any]], *, base: Mapping[str, Any] | None = None,
              raw: Mapping[str, str] | None = None, jobs: int = 1, scheduler: str | None = None, reports: str | Path = "reports",
              force: bool = False, timeout: float | None = None,
              on_done: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run every combination of ``grid`` (over ``base`` values); return the sweep summary.

    All parameter values are validated against the notebook before anything starts.
    """
    from .execute import prepare_params

    points = expand_grid(grid)
    for p in points:  # every combination type-checked up front: no half-started sweep on a typo
        prepare_params(notebook, {**(base or {}), **p}, raw={k: v for k, v in (raw or {}).items() if k not in p})
    sweep_id = "sweep-" + new_run_id()
    cwd = os.getcwd()
    reports_abs = str(Path(reports).resolve())
    nb = str(Path(notebook).resolve())
    extra = (["--force"] if force else []) + (["--timeout", str(timeout)] if timeout else [])
    runs = [{**(base or {}), **p} for p in points]
    base_raw = {k: v for k, v in (raw or {}).items() if k not in grid}
    results: list[dict[str, Any]] = []
    if scheduler:
        from distributed import Client, as_completed

        with Client(scheduler, timeout="10s") as client:
            futures = [client.submit(_run_one, nb, r, reports_abs, sweep_id, cwd, extra, None, base_raw, pure=False)
                       for r in runs]
            for fut in as_completed(futures):
                res = fut.result()
                results.append(res)
                if on_done:
                    on_done(res)
    else:
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            for res in pool.map(lambda r: _run_one(nb, r, reports_abs, sweep_id, cwd, extra, None, base_raw), runs):
                results.append(res)
                if on_done:
                    on_done(res)
    failed = sum(1 for r in results if r["returncode"] != 0)
    summary = {"sweep_id": sweep_id, "notebook": str(notebook), "grid": {k: list(v) for k, v in grid.items()},
               "base": dict(base or {}), "runs": len(results), "failed": failed,
               "command": rerun_command(str(notebook), dict(base or {})).replace("workbench run", "workbench sweep", 1)
               + "".join(f" -g {k}={','.join(json.dumps(x) for x in v)}" for k, v in grid.items())}
    return summary
