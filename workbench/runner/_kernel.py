"""Executing a notebook in a fresh kernel, in plain values: the kernel started early on per-run IPC
sockets, papermill's injected-parameters cell (secrets by reference only), papermill itself, and the
kernel stopped in the background. Nothing here knows about runs: values in, an :class:`Outcome` out.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ..core.context import SECRETS_ENV
from ..core.secrets import REDACTED
from ._values import check_injected_cell

# IPython's history database would keep every executed cell (parameters included) in $HOME
KERNEL_ARGS = ["--HistoryManager.enabled=False"]


def ipc_path(run_id: str) -> str:
    """Prefix of the kernel's IPC sockets: unique per run (jupyter_client's default, ``kernel-ipc`` in
    the working directory, collides when several runs start in one folder)."""
    return os.path.join(tempfile.gettempdir(), f"wbk-{run_id}")


def start_kernel(kernel_name: str, env: Mapping[str, str], ipc: str, cwd: str | Path | None = None):
    """Start a fresh kernel now, on IPC sockets at ``ipc``, so it boots while the runner imports papermill.
    Returns the kernel manager, or None (papermill then starts the kernel itself)."""
    try:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        km = AsyncKernelManager(kernel_name=kernel_name, transport="ipc", ip=ipc)
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


def stop_in_background(km) -> threading.Thread:
    """Stop the kernel in a thread (kill, then process and socket clean-up) so it overlaps the export."""
    t = threading.Thread(target=stop_kernel, args=(km,), name="workbench-kernel-stop", daemon=True)
    t.start()
    return t


def inject_parameters(nb, values: Mapping[str, Any], secrets: Iterable[str], kernel_name: str):
    """``nb`` with papermill's injected-parameters cell: ``values`` as literals, except the ``secrets``
    (names), which the cell reads from a private pipe (:class:`SecretPipe`). The literals are checked to read
    back as the values (:func:`~workbench.runner._values.check_injected_cell`), else :class:`ParameterError`
    before any kernel starts. Papermill's metadata records the values
    with the secret ones redacted. Nothing to inject (no parameters cell, or an empty one): ``nb`` as it is."""
    from papermill.parameterize import parameterize_notebook

    if not values:
        return nb
    secrets = [k for k in values if k in set(secrets)]
    literal = {k: v for k, v in values.items() if k not in secrets}
    nb = parameterize_notebook(nb, literal, kernel_name=kernel_name)
    cell = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    check_injected_cell(cell.source, literal)  # every value reads back as itself: no code from a value
    if secrets:
        lines = ["import workbench.core.context as _wb_context"]
        lines += [f"{k} = _wb_context.secret({k!r})  # secret: passed privately, never written" for k in secrets]
        cell.source = cell.source.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    nb.metadata.papermill["parameters"] = {k: (REDACTED if k in secrets else v) for k, v in values.items()}
    return nb


SECRET_PIPE = "secrets.pipe"


class SecretPipe:
    """The secrets' way into the kernel: a FIFO (mode 0600, in the run's private folder) that a thread
    fills once the kernel opens it. Nothing lands on disk or in the kernel's ``/proc/<pid>/environ``; the
    kernel removes the FIFO once read (:func:`workbench.core.context.secret`)."""

    def __init__(self, folder: str | Path, secrets: Mapping[str, Any]):
        import json

        self.path = os.path.join(str(folder), SECRET_PIPE)
        self._data = json.dumps(dict(secrets), default=str).encode()
        self._stop = threading.Event()
        os.mkfifo(self.path, 0o600)
        self._thread = threading.Thread(target=self._feed, name="workbench-secrets", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        import errno

        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:  # ENXIO: no reader yet; anything else: the pipe is gone
                    return
                self._stop.wait(0.02)
                continue
            try:
                os.set_blocking(fd, True)
                view = memoryview(self._data)
                while view:
                    view = view[os.write(fd, view):]
            except OSError:  # the reader went away
                pass
            finally:
                os.close(fd)
            return

    def close(self) -> None:
        """Stop waiting for a reader and remove the FIFO if the kernel never read it."""
        self._stop.set()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


@dataclass
class Outcome:
    """How an execution ended: ``status`` (succeeded, failed, interrupted), the executed notebook (on a
    failure: as far as papermill saved it, or None), the error as the record keeps it, and the exception."""

    status: str
    nb: Any = None
    error: dict[str, Any] | None = None
    exception: BaseException | None = None


@dataclass(frozen=True)
class Execution:
    """What papermill needs besides the notebook: the kernel (and its manager when started early), the
    kernel's environment, its IPC socket prefix, and the run options that reach papermill."""

    kernel: str
    env: Mapping[str, str]
    ipc: str
    km: Any = None
    timeout: float | None = None
    cwd: str | None = None
    progress: bool | None = None
    log_output: bool = False
    scrub: Mapping[str, Any] | None = None


def execute(nb, work_dir: Path, how: Execution) -> Outcome:
    """Execute ``nb`` with papermill in ``work_dir`` (its input and output are written there); notebook
    errors, kernel deaths and interrupts are returned, not raised."""
    import nbformat
    from papermill.exceptions import PapermillExecutionError

    prepared, output = Path(work_dir) / "prepared.ipynb", Path(work_dir) / "notebook.ipynb"
    nbformat.write(nb, str(prepared))
    try:
        return Outcome("succeeded", _papermill(prepared, output, how))
    except PapermillExecutionError as e:
        error = {"cell_index": e.cell_index, "exec_count": e.exec_count, "ename": e.ename, "evalue": e.evalue}
        return Outcome("failed", _saved(output), error, e)
    except KeyboardInterrupt as e:
        return Outcome("interrupted", _saved(output), {"cell_index": None, "ename": "KeyboardInterrupt",
                                                       "evalue": "interrupted"}, e)
    except Exception as e:  # kernel death, timeouts, startup failures
        error = {"cell_index": None, "ename": type(e).__name__, "evalue": str(e).strip()[:2000]}
        return Outcome("failed", _saved(output), error, e)


def _saved(output: Path):
    """The notebook papermill saved up to the failing cell, or None when it saved nothing."""
    import nbformat

    return nbformat.read(str(output), as_version=4) if output.exists() else None


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


def _papermill(prepared: Path, output: Path, how: Execution):
    import papermill as pm
    from traitlets.config import Config

    progress = sys.stderr.isatty() and not how.log_output if how.progress is None else how.progress
    env = dict(how.env)
    if how.km is not None:  # secrets went to the running kernel only, never into this process's environment
        env.pop(SECRETS_ENV, None)
    with _environ(env), _streaming(how.log_output, how.scrub or {}):
        return pm.execute_notebook(
            str(prepared), str(output), parameters=None, kernel_name=how.kernel, progress_bar=progress,
            execution_timeout=how.timeout, log_output=how.log_output, request_save_on_cell_execute=True, km=how.km,
            cwd=how.cwd,
            # if the early start failed, papermill starts the kernel, on the same IPC sockets
            config=Config({"KernelManager": {"transport": "ipc", "ip": how.ipc}}),
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
