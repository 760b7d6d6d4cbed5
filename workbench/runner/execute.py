"""One notebook run, as named steps: plan, reuse or open, execute, collect, finish.

``run_notebook`` is the single path every run takes (CLI, sweep points, tests):

- **plan** (:mod:`~workbench.runner.plan`): the notebook read once, parameters checked against its
  signature, kernel checked, inputs fingerprinted, cache key computed: a bad value is an error before a
  kernel starts or a folder exists;
- **reuse** an identical earlier run (cache hit), or **open** the run: folder, record, private work
  folder (run context, journal, partial notebook: nothing in progress lives under ``reports/``);
- **execute** (:mod:`~workbench.runner._kernel`): papermill in a fresh kernel that talks over per-run
  IPC sockets; non-secret values are injected as papermill does, secret ones are read from the kernel's
  environment, never written;
- **collect**: metrics and curves from the journal, secrets scrubbed from every output;
- **finish**: report, record, W&B publishing, index. A failing notebook still gets its marked report
  and a ``failed`` record, then :class:`RunFailedError` is raised.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from ..core.blobs import share_files
from ..core.context import SECRETS_ENV, RunContext
from ..core.journal import Journal
from ..core.runfolder import RunFolder
from ..core.runs import RunRecord, new_run_id, utcnow
from ..core.tracking import kernel_env
from ..errors import ParameterError, RunFailedError
from . import _kernel
from .cache import find_cached
from .options import RunOptions
from .plan import Plan, plan_run
from .source import NotebookSource


def run_notebook(notebook: str | Path | NotebookSource, params: Mapping[str, Any] | None = None,
                 options: RunOptions | None = None, *, sweep_id: str | None = None, executor: str | None = None,
                 rerun_of: str | None = None, **changes: Any) -> RunRecord:
    """Run ``notebook`` with ``params`` into ``reports/<notebook>/<run_id>/``; return its record.

    Parameters
    ----------
    notebook : path to the ``.ipynb`` (or a :class:`NotebookSource` already read).
    params : typed parameter values, checked against the notebook's ``parameters`` cell.
    options : how it runs (:class:`RunOptions`: reports, timeout, hide_code, kernel, cwd, log_output,
        progress, force).
    sweep_id : the sweep this run belongs to, if any.
    executor : who runs it, for the record (default ``local``).
    rerun_of : the run this one reruns (``workbench rerun``), for the record.
    **changes : :class:`RunOptions` fields set for this call (``reports=..., force=True``).

    Raises
    ------
    ParameterError, NotebookNotFoundError
        Before anything runs or is written.
    RunFailedError
        After the failed run's report and record were written.
    """
    options = dataclasses.replace(options or RunOptions(), **changes)
    plan = plan_run(notebook, params, options, sweep_id=sweep_id, executor=executor, rerun_of=rerun_of)
    hit = None if options.force else find_cached(plan.reports.root, plan.notebook, plan.key)
    if hit is not None:
        return reuse(plan, hit)
    run = open_run(plan)
    try:
        run.execute()
        run.collect()
        run.finish()
    finally:
        shutil.rmtree(run.work_dir, ignore_errors=True)
    if isinstance(run.exception, KeyboardInterrupt):
        raise run.exception
    if run.exception is not None:
        raise RunFailedError(failure_summary(run.rec), run.rec) from run.exception
    return run.rec


def _update_index(plan: Plan, rec: RunRecord) -> None:
    """Store the run's environment lock, index the finished run (one SQLite transaction), then regenerate the
    shared pages from the index."""
    from ..core.envlock import store_environment
    from ..core.runstore import RunStore
    from ..reports import update_index

    with plan.reports.lock():
        if plan.environment:  # stored once per distinct environment, under the lock `workbench gc` takes
            store_environment(plan.reports.root, plan.environment)
        RunStore(plan.reports.root).record(rec.folder.path)
        update_index(plan.reports.root, rec.notebook_name)


def reuse(plan: Plan, hit: RunRecord) -> RunRecord:
    """Record a cache hit as a run of its own whose files are hard links to the earlier run's."""
    t0 = time.perf_counter()
    started = utcnow()
    rec = plan.record(new_run_id(started), started.isoformat(timespec="milliseconds"))
    folder = plan.reports.run(plan.notebook, rec.run_id)
    folder.link_from(hit.folder)
    rec.status, rec.metrics, rec.cached_from, rec.pid = "succeeded", dict(hit.metrics), hit.run_id, None
    rec.executed_duration_s = hit.duration_s
    rec.tracking = {"mode": "none: reused run", "wandb_id": (hit.tracking or {}).get("wandb_id")}
    rec.ended = utcnow().isoformat(timespec="milliseconds")
    rec.duration_s = round(time.perf_counter() - t0, 3)
    rec.save(folder.path)
    _update_index(plan, rec)
    return rec


def open_run(plan: Plan) -> "Run":
    """Create the run's folder, its first record (``running``) and its private work folder."""
    started = utcnow()
    rec = plan.record(new_run_id(started), started.isoformat(timespec="milliseconds"))
    folder = plan.reports.run(plan.notebook, rec.run_id)
    work_dir = Path(tempfile.mkdtemp(prefix=f"workbench-{rec.run_id}-"))  # 0700: context, journal, partial
    try:
        folder.create()
        rec.save(folder.path)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        shutil.rmtree(folder.path, ignore_errors=True)  # disk full at the start: no empty run folder left
        raise
    return Run(plan, rec, folder, work_dir)


class Run:
    """An opened run: executes the notebook, collects what it recorded, writes report and record."""

    def __init__(self, plan: Plan, rec: RunRecord, folder: RunFolder, work_dir: Path):
        self.plan, self.rec, self.folder, self.work_dir = plan, rec, folder, work_dir
        self.outcome = _kernel.Outcome("running")
        self.exception: BaseException | None = None
        self.nb = None
        self.journal = Journal()
        self.publisher = None
        self.stopper = None
        self.context = RunContext(run_id=rec.run_id, run_dir=str(folder.path.resolve()), notebook=rec.notebook_name,
                                  work_dir=str(work_dir), params=rec.params, sweep_id=plan.sweep_id, git=plan.git)
        self.t0 = time.perf_counter()

    def kernel_environment(self) -> dict[str, str]:
        """The kernel's environment: the context file, secrets (never in a file), offline-safe plotting."""
        env = {**self.context.to_env(), **kernel_env(),
               # plotly.js inlined once by the first figure, so charts draw offline in the report
               "PLOTLY_RENDERER": os.environ.get("WORKBENCH_PLOTLY_RENDERER", "notebook"), "MPLBACKEND": "agg"}
        if self.plan.secrets:  # a pipe, read once by the kernel: never the values themselves
            env[SECRETS_ENV] = os.path.join(str(self.work_dir), _kernel.SECRET_PIPE)
        return env

    def scrub(self, value: Any) -> Any:
        from ._scrub import scrub_value

        return scrub_value(value, self.plan.scrub_values)

    def execute(self) -> None:
        """Run the notebook in a fresh kernel; notebook errors are kept in :attr:`outcome`, not raised."""
        from ..reports import warm_up
        from .publish import Publisher

        plan, options = self.plan, self.plan.options
        how = _kernel.Execution(plan.kernel, self.kernel_environment(), _kernel.ipc_path(self.rec.run_id),
                                timeout=options.timeout, cwd=options.cwd, progress=options.progress,
                                log_output=options.log_output, scrub=plan.scrub_values)
        # the W&B probe and start-up run in a thread, overlapping the kernel: a silent server never delays a run
        self.publisher = Publisher(self.rec, self.folder, None, "", scrub=self.scrub).start()
        km = pipe = None
        try:
            try:  # the injected cell is checked before a kernel exists: no code from a parameter value
                nb = _kernel.inject_parameters(plan.source.node(), plan.full, plan.secrets, plan.kernel)
            except ParameterError as e:
                self._refused(e)
                return
            if plan.secrets:
                pipe = _kernel.SecretPipe(self.work_dir, plan.secrets)
            km = _kernel.start_kernel(plan.kernel, how.env, how.ipc, options.cwd)
            warm_up(options.hide_code, options.trust_html)  # overlaps the exporter's start-up with the kernel's work
            self.outcome = _kernel.execute(nb, self.work_dir, dataclasses.replace(how, km=km))
        finally:
            self.stopper = _kernel.stop_in_background(km)
            if pipe is not None:
                pipe.close()
        self._ended()

    def _refused(self, e: ParameterError) -> None:
        self.outcome = _kernel.Outcome("failed", None, {"cell_index": None, "ename": "ParameterError",
                                                        "evalue": str(e)}, e)
        self._ended()

    def _ended(self) -> None:
        self.exception = self.outcome.exception
        self.rec.status, self.rec.error = self.outcome.status, self.outcome.error
        self.rec.ended = utcnow().isoformat(timespec="milliseconds")
        self.rec.duration_s = round(time.perf_counter() - self.t0, 3)

    def collect(self) -> None:
        """Metrics and curves from the journal; the executed notebook, secrets scrubbed, into the run folder."""
        import nbformat

        from ..core.io import atomic_write_text, write_json
        from ._scrub import scrub_notebook

        # failed before papermill saved anything: the notebook as it was given
        self.nb = self.outcome.nb if self.outcome.nb is not None else self.plan.source.node()
        self.nb.metadata.setdefault("papermill", {}).update(input_path=str(self.plan.notebook),
                                                             output_path=str(self.folder.notebook))
        scrub_notebook(self.nb, self.plan.scrub_values)
        self.journal = Journal.read(self.context.journal).map(self.scrub)
        self.rec.metrics = self.journal.records()
        self.rec.error = self.scrub(self.rec.error)
        curves = self.journal.curves()
        if curves:
            write_json(self.folder.curves, curves)
        atomic_write_text(self.folder.notebook, nbformat.writes(self.nb))

    def finish(self) -> None:
        """Report, record, W&B and index. A report that cannot be written (disk full) fails the run."""
        from .. import reports

        self.rec.pid = None
        try:
            reports.write_report(self.folder.report, self.nb, self.rec, hide_code=self.plan.options.hide_code,
                                 trust_html=self.plan.options.trust_html, reports=self.plan.reports.root)
            reports.write_notebook(self.folder.notebook, self.nb)  # its figures now live in the report only
            share_files(self.folder.artifacts, self.plan.reports.root)  # files other runs have too: stored once
        except Exception as e:
            self.exception = self.exception or e
            self.rec.status = "failed"
            self.rec.error = self.rec.error or {"cell_index": None, "ename": type(e).__name__,
                                                "evalue": f"the report could not be written: {e}"}
        finally:
            self.rec.save()
            if self.publisher is not None:
                self.rec.tracking = self.publisher.finish(self.journal)
                self.rec.save()
            _update_index(self.plan, self.rec)
            if self.stopper is not None:
                self.stopper.join(timeout=30)


def failure_summary(rec: RunRecord) -> str:
    """One line naming the failing cell and the error."""
    e = rec.error or {}
    where = f"cell {e['cell_index']} (In [{e.get('exec_count')}])" if e.get("cell_index") is not None else "run"
    msg = str(e.get("evalue", "")).strip().splitlines()
    return (f"{rec.notebook_name} failed at {where}: {e.get('ename')}: {msg[0] if msg else ''}"
            f" — report: {rec.report}")
