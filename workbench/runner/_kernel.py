"""Executing a notebook in a fresh kernel: early kernel start on per-run IPC sockets, the notebook
prepared with the run's parameters (secrets by reference only), papermill, W&B start-up overlapped."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..core.context import SECRETS_ENV
from ..core.secrets import REDACTED

if TYPE_CHECKING:
    from .execute import Run

# IPython's history database would keep every executed cell (parameters included) in $HOME
KERNEL_ARGS = ["--HistoryManager.enabled=False"]


def ipc_path(run_id: str) -> str:
    """Prefix of the kernel's IPC sockets: unique per run (jupyter_client's default, ``kernel-ipc`` in
    the working directory, collides when several runs start in one folder)."""
    return os.path.join(tempfile.gettempdir(), f"wbk-{run_id}")


def kernel_spec_name(nb: Mapping[str, Any], kernel_name: str | None) -> str:
    return kernel_name or (nb.get("metadata", {}).get("kernelspec") or {}).get("name") or "python3"


def start_kernel(kernel_name: str, env: Mapping[str, str], run_id: str, cwd: Path | None = None):
    """Start the run's fresh kernel now, so it boots while the runner imports papermill. Returns the
    kernel manager, or None (papermill then starts the kernel itself)."""
    try:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        km = AsyncKernelManager(kernel_name=kernel_name, transport="ipc", ip=ipc_path(run_id))
        kw = {"cwd": str(cwd)} if cwd is not None else {}
        run_sync(km.start_kernel)(env={**os.environ, **env}, extra_arguments=KERNEL_ARGS, **kw)
        return km
    except Exception as e:  # e.g. an unknown kernel name: papermill reports it properly
        warnings.warn(f"early kernel start failed ({type(e).__name__}: {e}); papermill starts it", stacklevel=2)
        return None


def stop_kernel(km) -> None:
    if km is None:
        return
    from jupyter_core.utils import run_sync

    try:
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)  # every cell has finished: nothing to wait for
    except Exception:  # pragma: no cover - best effort: the kernel ends with this process anyway
        pass


def prepare_notebook(run: "Run", kernel_name: str) -> Path:
    """The notebook with papermill's injected-parameters cell: non-secret values as literals, secret
    ones as a call that reads them from the kernel's environment. Written into the private work folder."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    plan = run.plan
    secrets = plan.secrets
    plain = {k: v for k, v in plan.full.items() if k not in secrets}
    nb = load_notebook_node(str(plan.notebook))
    path = run.work_dir / "prepared.ipynb"
    if not plan.full:  # nothing to inject (no parameters cell, or an empty one): run the notebook as it is
        nbformat.write(nb, str(path))
        return path
    nb = parameterize_notebook(nb, plain, kernel_name=kernel_name)
    if secrets:
        cell = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
        lines = ["import workbench.core.context as _wb_context"]
        lines += [f"{k} = _wb_context.secret({k!r})  # secret: passed privately, never written" for k in secrets]
        cell.source = cell.source.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    nb.metadata.papermill["parameters"] = {k: (REDACTED if k in secrets else v) for k, v in plan.full.items()}
    nbformat.write(nb, str(path))
    return path


def execute_notebook(run: "Run", progress: bool | None) -> BaseException | None:
    """Execute ``run``'s notebook with papermill; returns the error (None when it succeeded)."""
    import nbformat

    plan, rec = run.plan, run.rec
    nb_json = nbformat.read(str(plan.notebook), as_version=4)
    kernel = kernel_spec_name(nb_json, plan.kernel_name)
    env = run.kernel_environment()
    km = start_kernel(kernel, env, rec.run_id, plan.cwd)  # boots while papermill is imported
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    from ..reports import warm_up
    from ._scrub import scrub_value
    from .publish import Publisher

    # the W&B probe and start-up run in a thread, overlapping the kernel: a silent server never delays a run
    run.publisher = Publisher(rec, run.out_dir, run.work_dir, None, "",
                              scrub=lambda v: scrub_value(v, plan.scrub_values)).start()
    prepared = prepare_notebook(run, kernel)
    warm_up(plan.hide_code)  # overlaps the exporter's start-up with the kernel's work
    error: BaseException | None = None
    try:
        run.nb = _papermill(pm, Config, prepared, run, kernel, km, env, progress)
        rec.status = "succeeded"
    except PapermillExecutionError as e:
        error = e
        rec.status = "failed"
        rec.error = {"cell_index": e.cell_index, "exec_count": e.exec_count, "ename": e.ename, "evalue": e.evalue}
    except KeyboardInterrupt as e:
        error = e
        rec.status = "interrupted"
        rec.error = {"cell_index": None, "ename": "KeyboardInterrupt", "evalue": "interrupted"}
    except Exception as e:  # kernel death, timeouts, startup failures
        error = e
        rec.status = "failed"
        rec.error = {"cell_index": None, "ename": type(e).__name__, "evalue": str(e).strip()[:2000]}
    finally:
        from .execute import start_stopper

        run.stopper = start_stopper(km)
    return error


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


def _papermill(pm, Config, prepared: Path, run: "Run", kernel: str, km, env: Mapping[str, str], progress):
    plan = run.plan
    if progress is None:
        progress = sys.stderr.isatty() and not plan.log_output
    if km is not None:  # secrets went to the running kernel only, never into this process's environment
        env = {k: v for k, v in env.items() if k != SECRETS_ENV}
    with _environ(env), _streaming(plan.log_output, plan.scrub_values):
        return pm.execute_notebook(
            str(prepared), str(run.partial), parameters=None, kernel_name=kernel, progress_bar=progress,
            execution_timeout=plan.timeout, log_output=plan.log_output, request_save_on_cell_execute=True, km=km,
            cwd=str(plan.cwd) if plan.cwd is not None else None,
            # if the early start failed, papermill starts the kernel, on the same IPC sockets
            config=Config({"KernelManager": {"transport": "ipc", "ip": ipc_path(run.rec.run_id)}}),
        )


@contextlib.contextmanager
def _streaming(on: bool, scrub_values: Mapping[str, Any]) -> Iterator[None]:
    """With ``--log-output``: papermill's log of cell starts and outputs goes to stderr as it happens,
    every line scrubbed of secrets (a CI log is a log)."""
    import logging

    if not on:
        yield
        return
    from ._scrub import scrub_value

    class Scrub(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = scrub_value(record.getMessage(), scrub_values)
            record.args = ()
            return True

    logger = logging.getLogger("papermill")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(Scrub())
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
