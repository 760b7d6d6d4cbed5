"""Parameter sweeps: a grid of runs, each in its own process and kernel, locally or on Dask.

``run_sweep(nb, {"lr": [0.1, 0.01], "folds": [3, 5]}, jobs=2)`` runs the 4 combinations, two at a
time. Every point is checked against the notebook's signature before anything starts; then each runs
in a warm ``python -m workbench.runner --worker`` process (one per job, imports paid once), its typed
values in a JSON spec on stdin, in a fresh kernel with its own IPC sockets (no port races, no kernel state
shared between runs, no secret on a command line; BLAS/OpenMP threads sized to the job's share of the
cores). One failing point does not stop the others. ``scheduler="tcp://host:8786"`` sends the same
points to a Dask distributed cluster (sharing this folder) instead. When every point has ended, the
sweep's comparison page ``reports/sweeps/<id>/compare.html`` is written and the index updated.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from ..core.runs import RunRecord, new_run_id
from ..core.secrets import redact
from ..errors import ParameterError
from .options import RunOptions
from .params import Signature
from .plan import resolve_kernel
from .record import rerun_command
from .source import NotebookSource


def parse_grid_arg(text: str) -> tuple[str, list[str]]:
    """``"lr=0.1,0.01"`` -> ``("lr", ["0.1", "0.01"])``: the axis's name and each value's text, split as a
    YAML flow sequence (``models=[a],[a, b]`` gives two lists), to be parsed against the declared type."""
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise ParameterError(f"grid entry {text!r} must look like NAME=V1,V2,... (e.g. -g folds=3,5)")
    flow = f"[{values}]"
    try:
        node = yaml.compose(flow, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise ParameterError(f"grid values for {name.strip()!r} are not valid YAML: {values!r} ({e})") from e
    items = [flow[n.start_mark.index:n.end_mark.index] for n in node.value]
    if not items:
        raise ParameterError(f"grid entry {text!r} has no values")
    return name.strip(), items


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of the grid, in a stable order."""
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


@dataclasses.dataclass
class Point:
    """One grid point: its parameters, its run's record (None when no run was recorded) and a one-line
    message (the failure, for a point that failed)."""

    params: dict[str, Any]
    record: RunRecord | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.record is not None and self.record.status == "succeeded"


@dataclasses.dataclass
class Sweep:
    """A finished sweep: its id, the points in the order they ended, and the comparison page."""

    sweep_id: str
    notebook: str
    grid: dict[str, list[Any]]
    base: dict[str, Any]
    points: list[Point]
    page: Path | None = None

    @property
    def runs(self) -> int:
        return len(self.points)

    @property
    def failed(self) -> int:
        return sum(not p.ok for p in self.points)

    @property
    def command(self) -> str:
        """The command that runs this sweep again."""
        grid = redact(self.grid)
        return (rerun_command(self.notebook, redact(self.base)).replace("workbench run", "workbench sweep", 1)
                + "".join(f" -g {k}={','.join(json.dumps(x) for x in (v if isinstance(v, list) else [v]))}"
                          for k, v in grid.items()))


def _executor() -> str:
    """Who runs a grid point: a Dask worker's address inside a task, else this machine."""
    try:
        from distributed import get_worker

        return f"dask:{get_worker().address}"
    except (ImportError, ValueError):
        return f"local:{os.uname().nodename}"


def run_point(spec: Mapping[str, Any], workdir: str, live: set | None = None) -> dict[str, Any]:
    """Run one point as ``python -m workbench.runner`` in ``workdir`` (here, or on a Dask worker); returns
    the runner's answer: ``{"record": ..., "dir": ..., "message": ...}``."""
    proc = subprocess.Popen([sys.executable, "-m", "workbench.runner"], cwd=workdir, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if live is not None:
        live.add(proc)
    try:
        out, err = proc.communicate(json.dumps({**spec, "executor": _executor()}))
    finally:
        if live is not None:
            live.discard(proc)
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"record": None, "message": (err.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]}


def _point(params: dict[str, Any], answer: Mapping[str, Any]) -> Point:
    rec = answer.get("record")
    return Point(params, RunRecord.from_dict(rec, dir=answer.get("dir")) if rec else None, answer.get("message", ""))


def _specs(source: NotebookSource, points: list[dict[str, Any]], options: RunOptions, sweep_id: str
           ) -> list[dict[str, Any]]:
    """Every point checked against the notebook (values, kernel, folders) before anything starts, then
    encoded as the runner's JSON spec."""
    signature = Signature.of(source)
    resolve_kernel(source, options.kernel)
    specs = []
    for p in points:
        signature.bind(p)
        specs.append({"notebook": str(source.path.resolve()), "params": p, "options": options.to_dict(),
                      "sweep_id": sweep_id})
        try:
            json.dumps(specs[-1])
        except TypeError as e:
            raise ParameterError(f"a sweep sends parameter values as JSON; {e} (in {p})") from None
    return specs


def run_sweep(notebook: str | Path | NotebookSource, grid: Mapping[str, Sequence[Any]], *,
              base: Mapping[str, Any] | None = None, options: RunOptions | None = None, jobs: int = 1,
              scheduler: str | None = None, on_done: Callable[[Point], None] | None = None, **changes: Any) -> Sweep:
    """Run every combination of ``grid`` (typed values, over the ``base`` values); write the sweep's
    comparison page, update the index and return the sweep.

    ``options`` (and ``**changes`` to its fields) apply to every point; the progress bar is off. All
    points are checked before anything starts: a bad value runs nothing.
    """
    source = NotebookSource.load(notebook)
    options = dataclasses.replace(options or RunOptions(), **changes).checked()
    reports = Path(options.reports)  # every point writes there, from wherever it runs: made absolute
    options = dataclasses.replace(options, reports=str(reports.resolve()), progress=False)
    sweep_id = "sweep-" + new_run_id()
    points = [{**(base or {}), **p} for p in expand_grid(grid)]
    specs = _specs(source, points, options, sweep_id)
    done: list[Point] = []

    def finished(params: dict[str, Any], answer: Mapping[str, Any]) -> None:
        done.append(_point(params, answer))
        if on_done:
            on_done(done[-1])

    if scheduler:
        _on_dask(scheduler, specs, points, finished)
    else:
        _locally(max(1, jobs), specs, points, finished)
    sweep = Sweep(sweep_id, str(notebook if not isinstance(notebook, NotebookSource) else notebook.path),
                  {k: list(v) for k, v in grid.items()}, dict(base or {}), done)
    sweep.page = _publish(reports, sweep)
    return sweep


def _locally(jobs: int, specs: list[dict], points: list[dict], finished: Callable) -> None:
    """``jobs`` points at a time, each in a warm worker (:mod:`~workbench.runner._workers`): imports paid once
    per worker, a fresh kernel per point."""
    from ._workers import WorkerPool

    pool = WorkerPool(jobs, os.getcwd())
    executor = _executor()
    try:
        with ThreadPoolExecutor(jobs) as threads:
            futures = {threads.submit(pool.run, {**s, "executor": executor}): p for s, p in zip(specs, points)}
            try:
                for fut in as_completed(futures):
                    finished(futures[fut], fut.result())
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: every running point ends as interrupted, with its report
                for fut in futures:
                    fut.cancel()
                pool.interrupt()
                raise
    finally:
        pool.close()


def _on_dask(scheduler: str, specs: list[dict], points: list[dict], finished: Callable) -> None:
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(scheduler, timeout="10s") as client:
        futures = {client.submit(run_point, s, os.getcwd(), pure=False): i for i, s in enumerate(specs)}
        for fut in dask_completed(list(futures)):
            finished(points[futures[fut]], fut.result())


def _publish(reports: Path, sweep: Sweep) -> Path | None:
    """The sweep's comparison page (None when no point recorded a run), linked from the updated index."""
    from ..core.runfolder import ReportsTree
    from ..reports import update_index, write_compare

    tree = ReportsTree(reports)
    if not any(p.record for p in sweep.points):
        return None
    page = write_compare(reports, sweep=sweep.sweep_id)
    with tree.lock():
        update_index(reports)
    return page
