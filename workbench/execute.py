"""One notebook run: validate parameters, execute with papermill in a fresh kernel, record, report.

``run_notebook`` is the single path every run takes (CLI, sweeps, tests). Parameter errors are
raised before a kernel starts or a run folder exists. A failing notebook still gets its marked
report and a ``failed`` record, then :class:`RunFailedError` is raised.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping

from .cache import cache_key, data_fingerprints, find_cached, link_tree
from .errors import ParameterError, RunFailedError
from .params import inspect_parameters, read_notebook, validate
from .record import read_curves, read_records
from .reports import update_index, warm_up, write_report
from .tracking import REDACTED, Publisher, decide_mode, is_secret, redact
from .tracking import kernel_env as tracking_kernel_env
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
    env.update(tracking_kernel_env())
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
                 force: bool = False, extra_record: Mapping[str, Any] | None = None) -> dict[str, Any]:
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
    force : execute even when an identical earlier run could be reused (see :mod:`workbench.cache`).

    Raises
    ------
    ParameterError, NotebookNotFoundError
        Before anything runs or is written.
    RunFailedError
        After the failed run's report and record were written.
    """
    notebook = Path(notebook)
    given, full = prepare_params(notebook, dict(params or {}), raw)
    if kernel_name:
        _check_kernel(kernel_name)
    reports = Path(reports)
    packages = package_versions()
    fingerprints = data_fingerprints(full)
    key = cache_key(notebook, full, fingerprints, packages)
    started = utcnow()
    run_id = new_run_id(started)
    out_dir = run_dir(reports, notebook, run_id)
    extra = [] if timeout is None else ["--timeout", f"{timeout:g}"]
    if hide_code:
        extra.append("--hide-code")
    hit = None if force else find_cached(reports, notebook, key)
    if hit is not None:
        return _reuse(hit, out_dir, reports, run_id=run_id, started=started, params=redact(full),
                      given=redact(given), rerun=rerun_command(str(notebook), redact(given), extra),
                      sweep_id=sweep_id, git=git_info(notebook.parent))

    (out_dir / "artifacts").mkdir(parents=True, exist_ok=False)
    rec: dict[str, Any] = {
        "run_id": run_id,
        "notebook": str(notebook),
        "notebook_name": notebook_name(notebook),
        "status": "running",
        "params": redact(full),
        "given_params": redact(given),
        "metrics": {},
        "started": started.isoformat(timespec="milliseconds"),
        "ended": None,
        "duration_s": None,
        "git": git_info(notebook.parent),
        "packages": packages,
        "data": fingerprints,
        "cache_key": key,
        "cached_from": None,
        "rerun_command": rerun_command(str(notebook), redact(given), extra),
        "pid": os.getpid(),
        "host": os.uname().nodename,
        "sweep_id": sweep_id,
        "error": None,
    }
    rec.update(extra_record or {})
    write_json(out_dir / RECORD_NAME, rec)
    env = {**kernel_environment(rec, out_dir), "WORKBENCH_PARAMS": json.dumps(full, default=str)}
    t0 = time.perf_counter()
    km = _start_kernel(notebook, kernel_name, env, run_id)  # boots while papermill is imported

    import papermill as pm
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    mode, reason = decide_mode()
    if mode == "offline" and "did not answer" in reason:
        warnings.warn(reason, stacklevel=2)
    publisher = Publisher(rec, out_dir, mode, reason).start()  # W&B start-up overlaps the kernel

    partial = out_dir / ".executing.ipynb"
    error: BaseException | None = None
    if progress is None:
        progress = sys.stderr.isatty()
    nb = None
    warm_up(hide_code)  # overlaps the exporter's start-up with the kernel's work
    try:
        with _environ(env):
            nb = pm.execute_notebook(
                str(notebook), str(partial), parameters=full, kernel_name=kernel_name,
                progress_bar=progress, execution_timeout=timeout, log_output=False,
                request_save_on_cell_execute=True, km=km,
                # if the early start failed, papermill starts the kernel, on the same IPC sockets
                config=Config({"KernelManager": {"transport": "ipc", "ip": _ipc_path(run_id)}}),
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
    finally:
        # stopping the kernel (kill, then process and socket clean-up) overlaps the report export
        stopper = threading.Thread(target=_stop_kernel, args=(km,), name="workbench-kernel-stop", daemon=True)
        stopper.start()
    ended = utcnow()
    rec["ended"] = ended.isoformat(timespec="milliseconds")
    rec["duration_s"] = round(time.perf_counter() - t0, 3)

    import nbformat

    if nb is None:  # failed: papermill saved the notebook up to the failing cell (or nothing at all)
        nb = nbformat.read(str(partial if partial.exists() else notebook), as_version=4)
    if _scrub_secrets(nb, full) or not partial.exists():
        nbformat.write(nb, str(partial))
    rec["metrics"] = read_records(nb)
    curves = read_curves(nb)
    if curves:
        write_json(out_dir / "curves.json", curves)
    partial.replace(out_dir / "notebook.ipynb")  # papermill wrote it in full; the rename makes it visible
    rec["pid"] = None
    try:
        write_report(out_dir / "report.html", nb, rec, hide_code=hide_code)
    finally:
        write_json(out_dir / RECORD_NAME, rec)
        rec["tracking"] = publisher.finish()
        write_json(out_dir / RECORD_NAME, rec)
        with reports_lock(reports):
            update_index(reports, rec["notebook_name"])
    rec["_dir"] = str(out_dir)
    stopper.join(timeout=30)
    if isinstance(error, KeyboardInterrupt):
        raise error
    if error is not None:
        raise RunFailedError(failure_summary(rec), rec) from error
    return rec


def _check_kernel(name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if name not in specs:
        raise ParameterError(f"no Jupyter kernel named {name!r}; installed kernels: {', '.join(sorted(specs))} "
                             "(`jupyter kernelspec list`)")


def _start_kernel(notebook: Path, kernel_name: str | None, env: Mapping[str, str], run_id: str):
    """Start the run's fresh kernel now, so it boots while the runner imports papermill.

    The kernel talks over IPC sockets unique to the run (no TCP ports to race for when several runs
    start at once). Returns the kernel manager, or None (papermill then starts the kernel itself).
    """
    try:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        spec = read_notebook(notebook).get("metadata", {}).get("kernelspec", {})
        km = AsyncKernelManager(kernel_name=kernel_name or spec.get("name") or "python3", transport="ipc",
                                ip=_ipc_path(run_id))
        run_sync(km.start_kernel)(env={**os.environ, **env})
        return km
    except Exception as e:  # e.g. an unknown kernel name: papermill reports it properly
        warnings.warn(f"early kernel start failed ({type(e).__name__}: {e}); papermill starts it", stacklevel=2)
        return None


def _stop_kernel(km) -> None:
    if km is None:
        return
    from jupyter_core.utils import run_sync

    try:
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)  # every cell has finished: nothing to wait for
    except Exception:  # pragma: no cover - best effort: the kernel ends with this process anyway
        pass


def _ipc_path(run_id: str) -> str:
    """Prefix of the kernel's IPC sockets: unique per run (jupyter_client's default, ``kernel-ipc`` in
    the working directory, collides when several runs start in one folder)."""
    import tempfile

    return os.path.join(tempfile.gettempdir(), f"wbk-{run_id}")


def _scrub_secrets(nb, params: Mapping[str, Any]) -> bool:
    """Hide secret-looking parameter values (key, token, password, ...) that papermill wrote into
    the injected-parameters cell and the notebook metadata. Returns whether anything changed."""
    secrets = {k: v for k, v in params.items() if is_secret(k) and isinstance(v, str) and v}
    if not secrets:
        return False
    for cell in nb.cells:
        for value in secrets.values():
            if value in cell.source:
                cell.source = cell.source.replace(repr(value), repr(REDACTED)).replace(value, REDACTED)
    meta = nb.metadata.get("papermill", {}).get("parameters")
    if isinstance(meta, dict):
        nb.metadata["papermill"]["parameters"] = redact(meta)
    return True


def _reuse(hit: dict[str, Any], out_dir: Path, reports: Path, *, run_id: str, started, params: dict[str, Any],
           given: dict[str, Any], rerun: str, sweep_id: str | None, git: dict[str, Any]) -> dict[str, Any]:
    """Record a cache hit as a run of its own whose files are hard links to the earlier run's."""
    t0 = time.perf_counter()
    link_tree(Path(hit["_dir"]), out_dir)
    rec = {k: v for k, v in hit.items() if not k.startswith("_")}
    rec.update({
        "run_id": run_id, "status": "succeeded", "params": params, "given_params": given,
        "started": started.isoformat(timespec="milliseconds"), "cached_from": hit["run_id"],
        "rerun_command": rerun, "sweep_id": sweep_id, "pid": None, "host": os.uname().nodename,
        "executed_duration_s": hit.get("duration_s"), "git": git,
        "tracking": {"mode": "none: reused run", "wandb_id": (hit.get("tracking") or {}).get("wandb_id")},
    })
    rec["ended"] = utcnow().isoformat(timespec="milliseconds")
    rec["duration_s"] = round(time.perf_counter() - t0, 3)
    write_json(out_dir / RECORD_NAME, rec)
    with reports_lock(reports):
        update_index(reports, rec["notebook_name"])
    rec["_dir"] = str(out_dir)
    return rec


def failure_summary(rec: dict[str, Any]) -> str:
    """One line naming the failing cell and the error."""
    e = rec.get("error") or {}
    where = f"cell {e['cell_index']} (In [{e.get('exec_count')}])" if e.get("cell_index") is not None else "run"
    msg = str(e.get("evalue", "")).strip().splitlines()
    return (f"{rec.get('notebook_name')} failed at {where}: {e.get('ename')}: {msg[0] if msg else ''}"
            f" — report: {Path(rec.get('_dir', '')) / 'report.html'}")
