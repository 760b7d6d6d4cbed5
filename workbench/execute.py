"""One notebook run: validate parameters, execute with papermill in a fresh kernel, record, report.

``run_notebook`` is the single path every run takes (CLI, sweeps, tests). Parameter errors are
raised before a kernel starts or a run folder exists. A failing notebook still gets its marked
report and a ``failed`` record, then :class:`RunFailedError` is raised.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

from .errors import RunFailedError
from .params import inspect_parameters, read_notebook, validate
from .record import read_records
from .reports import update_index, warm_up, write_report
from .runs import (RECORD_NAME, git_info, new_run_id, notebook_name, package_versions, rerun_command,
                   run_dir, utcnow, write_json)

DEFAULT_REPORTS = "reports"


@contextlib.contextmanager
def reports_lock(reports: str | Path, timeout: float = 120) -> Iterator[None]:
    """An inter-process lock on the reports tree's shared files (index, latest)."""
    from filelock import FileLock

    Path(reports).mkdir(parents=True, exist_ok=True)
    with FileLock(str(Path(reports) / ".index.lock"), timeout=timeout):
        yield


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def kernel_environment(rec: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """Environment the kernel starts with: run identity, offline-safe plotting and tracking."""
    env = {
        "WORKBENCH_RUN_ID": rec["run_id"],
        "WORKBENCH_RUN_DIR": str(out_dir.resolve()),
        "WORKBENCH_NOTEBOOK": rec["notebook_name"],
        "WORKBENCH_HEADLESS": "1",
        # plotly.js inlined once by the first figure, so charts draw offline in the report
        "PLOTLY_RENDERER": os.environ.get("WORKBENCH_PLOTLY_RENDERER", "notebook"),
        "MPLBACKEND": "agg",
    }
    if rec.get("sweep_id"):
        env["WORKBENCH_SWEEP_ID"] = rec["sweep_id"]
    try:
        from .tracking import kernel_env as _tracking_env
    except ImportError:  # pragma: no cover - tracking is optional
        _tracking_env = None
    if _tracking_env is not None:
        env.update(_tracking_env())
    return env


def prepare_params(notebook: str | Path, values: Mapping[str, Any], raw: Mapping[str, str] | None = None
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validated given values, and the full parameter set (defaults filled in)."""
    declared = inspect_parameters(notebook)
    given = validate(declared, values, raw=raw, notebook=str(notebook))
    full = {p.name: p.default for p in declared}
    full.update(given)
    return given, full


def run_notebook(notebook: str | Path, params: Mapping[str, Any] | None = None, *,
                 reports: str | Path = DEFAULT_REPORTS, timeout: float | None = None,
                 hide_code: bool = False, progress: bool | None = None, kernel_name: str | None = None,
                 raw: Mapping[str, str] | None = None, sweep_id: str | None = None,
                 extra_record: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run ``notebook`` with ``params`` into ``reports/<notebook>/<run_id>/``; return its record.

    Parameters
    ----------
    notebook : path to the ``.ipynb``.
    params : parameter values (validated against the notebook's ``parameters`` cell).
    reports : root of the reports tree.
    timeout : per-cell timeout in seconds (None: no limit).
    hide_code : leave code cells out of the HTML report.
    progress : per-cell progress bar (default: when stderr is a terminal).
    raw : command-line text of each value, used when a ``str`` parameter got a non-string.
    sweep_id : the sweep this run belongs to, if any.

    Raises
    ------
    ParameterError, NotebookNotFoundError
        Before anything runs or is written.
    RunFailedError
        After the failed run's report and record were written.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(notebook)
    read_notebook(notebook)
    given, full = prepare_params(notebook, dict(params or {}), raw)
    reports = Path(reports)
    started = utcnow()
    run_id = new_run_id(started)
    out_dir = run_dir(reports, notebook, run_id)
    (out_dir / "artifacts").mkdir(parents=True, exist_ok=False)
    extra = [] if timeout is None else ["--timeout", f"{timeout:g}"]
    if hide_code:
        extra.append("--hide-code")
    rec: dict[str, Any] = {
        "run_id": run_id,
        "notebook": str(notebook),
        "notebook_name": notebook_name(notebook),
        "status": "running",
        "params": full,
        "given_params": given,
        "metrics": {},
        "started": started.isoformat(timespec="milliseconds"),
        "ended": None,
        "duration_s": None,
        "git": git_info(notebook.parent),
        "packages": package_versions(),
        "rerun_command": rerun_command(str(notebook), given, extra),
        "pid": os.getpid(),
        "host": os.uname().nodename,
        "sweep_id": sweep_id,
        "error": None,
    }
    rec.update(extra_record or {})
    write_json(out_dir / RECORD_NAME, rec)

    partial = out_dir / ".executing.ipynb"
    t0 = time.perf_counter()
    error: BaseException | None = None
    if progress is None:
        progress = sys.stderr.isatty()
    nb = None
    warm_up(hide_code)  # overlaps the exporter's start-up with the kernel's work
    try:
        with _environ(kernel_environment(rec, out_dir)):
            nb = pm.execute_notebook(
                str(notebook), str(partial), parameters=full, kernel_name=kernel_name,
                progress_bar=progress, execution_timeout=timeout, log_output=False,
                request_save_on_cell_execute=True,
            )
        rec["status"] = "succeeded"
    except PapermillExecutionError as e:
        error = e
        rec["status"] = "failed"
        rec["error"] = {"cell_index": e.cell_index, "exec_count": e.exec_count, "ename": e.ename,
                        "evalue": e.evalue}
    except KeyboardInterrupt as e:
        error = e
        rec["status"] = "interrupted"
        rec["error"] = {"cell_index": None, "ename": "KeyboardInterrupt", "evalue": "interrupted by the user"}
    except Exception as e:  # kernel death, timeouts, startup failures
        error = e
        rec["status"] = "failed"
        rec["error"] = {"cell_index": None, "ename": type(e).__name__, "evalue": str(e).strip()[:2000]}
    ended = utcnow()
    rec["ended"] = ended.isoformat(timespec="milliseconds")
    rec["duration_s"] = round(time.perf_counter() - t0, 3)

    import nbformat

    if nb is None:  # failed: papermill saved the notebook up to the failing cell (or nothing at all)
        nb = nbformat.read(str(partial), as_version=4) if partial.exists() else read_notebook(notebook)
        nbformat.write(nb, str(partial))
    rec["metrics"] = read_records(nb)
    partial.replace(out_dir / "notebook.ipynb")  # papermill wrote it in full; the rename makes it visible
    rec["pid"] = None
    try:
        write_report(out_dir / "report.html", nb, rec, hide_code=hide_code)
    finally:
        write_json(out_dir / RECORD_NAME, rec)
        with reports_lock(reports):
            update_index(reports, rec["notebook_name"])
    rec["_dir"] = str(out_dir)
    if isinstance(error, KeyboardInterrupt):
        raise error
    if error is not None:
        raise RunFailedError(failure_summary(rec), rec) from error
    return rec


def failure_summary(rec: dict[str, Any]) -> str:
    """One line naming the failing cell and the error."""
    e = rec.get("error") or {}
    where = f"cell {e['cell_index']} (In [{e.get('exec_count')}])" if e.get("cell_index") is not None else "run"
    msg = str(e.get("evalue", "")).strip().splitlines()
    return (f"{rec.get('notebook_name')} failed at {where}: {e.get('ename')}: {msg[0] if msg else ''}"
            f" — report: {Path(rec.get('_dir', '')) / 'report.html'}")
