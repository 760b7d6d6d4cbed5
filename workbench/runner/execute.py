"""One notebook run, as named steps: plan, reuse or open, execute, collect, finish.

``run_notebook`` is the single path every run takes (CLI, sweeps, tests):

- **plan**: parameters validated against the notebook's signature, kernel checked, inputs
  fingerprinted, cache key computed: a bad value is an error before a kernel starts or a folder exists;
- **reuse** an identical earlier run (cache hit), or **open** the run: folder, record, private work
  folder (run context, journal, partial notebook: nothing in progress lives under ``reports/``);
- **execute**: papermill in a fresh kernel that talks over per-run IPC sockets; non-secret values
  are injected as papermill does, secret ones are read from the kernel's environment, never written;
- **collect**: metrics and curves from the journal, secrets scrubbed from every output;
- **finish**: report, record, W&B publishing, index. A failing notebook still gets its marked report
  and a ``failed`` record, then :class:`RunFailedError` is raised.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..core.context import SECRETS_ENV, RunContext
from ..core.journal import journal_curves, journal_records, read_journal
from ..core.runs import RunRecord, new_run_id, reports_lock, run_dir, utcnow
from ..core.secrets import is_secret
from ..core.tracking import kernel_env
from ..core.versions import package_versions
from ..errors import ParameterError, RunFailedError
from .cache import cache_key, data_fingerprints, find_cached, link_tree
from .params import no_parameters_cell, notebook_signature, validate
from .record import git_info, new_record, run_options

DEFAULT_REPORTS = "reports"


def prepare_params(notebook: str | Path, values: Mapping[str, Any], raw: Mapping[str, str] | None = None
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validated given values, and the full parameter set (defaults filled in)."""
    given, full, _, _ = _params(notebook, values, raw)
    return given, full


def _params(notebook: str | Path, values: Mapping[str, Any], raw: Mapping[str, str] | None
            ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str]]:
    """Given values, the full set injected (literal defaults + given), the defaults, and notes."""
    declared, has_cell = notebook_signature(notebook)
    if not has_cell:
        if values:
            raise ParameterError(no_parameters_cell(notebook))
        return {}, {}, {}, ["this notebook has no cell tagged 'parameters': it ran as it is (tag one to set values)"]
    given = validate(declared, values, raw=raw, notebook=str(notebook))
    defaults = {p.name: p.default for p in declared if p.computed is None}
    notes = [f"computed by the notebook, not injected: {p.name} = {p.computed}"
             for p in declared if p.computed is not None and p.name not in given]
    return given, {**defaults, **given}, defaults, notes


@dataclass
class Plan:
    """What a run will be, decided before anything runs or is written."""

    notebook: Path
    reports: Path
    given: dict[str, Any]
    full: dict[str, Any]
    key: str
    fingerprints: dict[str, str]
    packages: dict[str, str]
    options: dict[str, Any]
    args: list[str]
    timeout: float | None
    hide_code: bool
    kernel_name: str | None
    sweep_id: str | None
    git: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    cwd: Path | None = None
    log_output: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def scrub_values(self) -> dict[str, Any]:
        """Every value to keep out of what the run writes: the run's secret values and the notebook's
        secret defaults (they stand in its parameters cell even when a run overrides them)."""
        out = {k: v for k, v in self.full.items() if is_secret(k)}
        out.update({f"{k} (default)": v for k, v in self.defaults.items() if is_secret(k)})
        return out

    @property
    def secrets(self) -> dict[str, Any]:
        """Secret-named parameters with a value: never injected into the notebook."""
        return {k: v for k, v in self.full.items() if is_secret(k) and v not in (None, "")}

    def record(self, run_id: str, started: str) -> RunRecord:
        rec = new_record(run_id=run_id, notebook=self.notebook, full=self.full, given=self.given, started=started,
                         key=self.key, fingerprints=self.fingerprints, packages=self.packages,
                         options=self.options, args=self.args, sweep_id=self.sweep_id, git=self.git)
        rec.notes = list(self.notes)
        return rec


def plan_run(notebook: str | Path, params: Mapping[str, Any] | None = None, *, raw: Mapping[str, str] | None = None,
             reports: str | Path = DEFAULT_REPORTS, timeout: float | None = None, hide_code: bool = False,
             kernel_name: str | None = None, sweep_id: str | None = None, cwd: str | Path | None = None,
             log_output: bool = False) -> Plan:
    """Validate everything about a run; raises :class:`ParameterError` and friends before any work."""
    notebook = Path(notebook)
    if Path(reports).exists() and not Path(reports).is_dir():
        raise ParameterError(f"--reports {str(reports)!r} is a file; give a folder (it is created if missing)")
    if cwd is not None and not Path(cwd).is_dir():
        raise ParameterError(f"--cwd {str(cwd)!r} is not a folder")
    given, full, defaults, notes = _params(notebook, dict(params or {}), raw)
    kernel, kernel_note = resolve_kernel(notebook, kernel_name)
    notes += [kernel_note] if kernel_note else []
    if sweep_id is not None:
        from ..core.runs import check_name

        check_name(sweep_id, "sweep id")
    run_dir(Path(reports), notebook, "x")  # the notebook's name must be a safe folder name
    cwd = Path(cwd).resolve() if cwd is not None else None
    packages = package_versions()
    fingerprints = data_fingerprints(full, cwd=cwd or ".")
    options, args = run_options(timeout, hide_code, kernel_name, kernel, cwd)
    key = cache_key(notebook, full, fingerprints, packages, options)
    return Plan(notebook, Path(reports), given, full, key, fingerprints, packages, options, args, timeout,
                hide_code, kernel, sweep_id, git_info(notebook.parent), defaults, cwd, log_output, notes)


def resolve_kernel(notebook: Path, kernel_name: str | None) -> tuple[str, str | None]:
    """The kernel to run with: ``--kernel``, else the notebook's kernelspec, else this environment's
    Python kernel (a notebook saved without kernelspec, by VS Code or as a blank file); and a note."""
    from .params import read_notebook

    if kernel_name:
        _check_kernel(kernel_name)
        return kernel_name, None
    spec = (read_notebook(notebook).get("metadata") or {}).get("kernelspec") or {}
    if spec.get("name"):
        return spec["name"], None
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME

    return NATIVE_KERNEL_NAME, (f"the notebook names no kernel: ran with this environment's Python kernel "
                                f"({NATIVE_KERNEL_NAME}); --kernel chooses another")


def run_notebook(notebook: str | Path, params: Mapping[str, Any] | None = None, *,
                 reports: str | Path = DEFAULT_REPORTS, timeout: float | None = None,
                 hide_code: bool = False, progress: bool | None = None, kernel_name: str | None = None,
                 raw: Mapping[str, str] | None = None, sweep_id: str | None = None,
                 force: bool = False, cwd: str | Path | None = None, log_output: bool = False) -> RunRecord:
    """Run ``notebook`` with ``params`` into ``reports/<notebook>/<run_id>/``; return its record.

    Parameters
    ----------
    notebook : path to the ``.ipynb``.
    params : parameter values (validated against the notebook's ``parameters`` cell).
    reports : root of the reports tree.
    timeout : per-cell timeout in seconds (None: no limit).
    hide_code : leave code cells out of the HTML report.
    progress : per-cell progress bar (default: when stderr is a terminal).
    kernel_name : the Jupyter kernel (default: the notebook's).
    raw : command-line text of each value, used when a ``str`` parameter got a non-string.
    sweep_id : the sweep this run belongs to, if any.
    force : execute even when an identical earlier run could be reused (see :mod:`workbench.runner.cache`).
    cwd : the kernel's working directory (default: this process's); relative input paths resolve there.
    log_output : stream the notebook's outputs to this process's stderr as they arrive (secrets scrubbed).

    Raises
    ------
    ParameterError, NotebookNotFoundError
        Before anything runs or is written.
    RunFailedError
        After the failed run's report and record were written.
    """
    plan = plan_run(notebook, params, raw=raw, reports=reports, timeout=timeout, hide_code=hide_code,
                    kernel_name=kernel_name, sweep_id=sweep_id, cwd=cwd, log_output=log_output)
    hit = None if force else find_cached(plan.reports, plan.notebook, plan.key)
    if hit is not None:
        return reuse(plan, hit)
    run = open_run(plan)
    try:
        run.execute(progress)
        run.collect()
        run.finish()
    finally:
        shutil.rmtree(run.work_dir, ignore_errors=True)
    if isinstance(run.error, KeyboardInterrupt):
        raise run.error
    if run.error is not None:
        raise RunFailedError(failure_summary(run.rec), run.rec) from run.error
    return run.rec


def _check_kernel(name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if name not in specs:
        raise ParameterError(f"no Jupyter kernel named {name!r}; installed kernels: {', '.join(sorted(specs))} "
                             "(`jupyter kernelspec list`)")


def reuse(plan: Plan, hit: RunRecord) -> RunRecord:
    """Record a cache hit as a run of its own whose files are hard links to the earlier run's."""
    t0 = time.perf_counter()
    started = utcnow()
    rec = plan.record(new_run_id(started), started.isoformat(timespec="milliseconds"))
    out_dir = run_dir(plan.reports, plan.notebook, rec.run_id)
    link_tree(Path(hit.dir), out_dir)
    rec.status, rec.metrics, rec.cached_from, rec.pid = "succeeded", dict(hit.metrics), hit.run_id, None
    rec.executed_duration_s = hit.duration_s
    rec.tracking = {"mode": "none: reused run", "wandb_id": (hit.tracking or {}).get("wandb_id")}
    rec.ended = utcnow().isoformat(timespec="milliseconds")
    rec.duration_s = round(time.perf_counter() - t0, 3)
    rec.save(out_dir)
    with reports_lock(plan.reports):
        from ..reports import update_index

        update_index(plan.reports, rec.notebook_name)
    return rec


def open_run(plan: Plan) -> "Run":
    """Create the run's folder, its first record (``running``) and its private work folder."""
    started = utcnow()
    rec = plan.record(new_run_id(started), started.isoformat(timespec="milliseconds"))
    out_dir = run_dir(plan.reports, plan.notebook, rec.run_id)
    work_dir = Path(tempfile.mkdtemp(prefix=f"workbench-{rec.run_id}-"))  # 0700: context, journal, partial
    try:
        (out_dir / "artifacts").mkdir(parents=True, exist_ok=False)
        rec.save(out_dir)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        shutil.rmtree(out_dir, ignore_errors=True)  # disk full at the start: no empty run folder left
        raise
    return Run(plan, rec, out_dir, work_dir)


class Run:
    """An opened run: executes the notebook, collects what it recorded, writes report and record."""

    def __init__(self, plan: Plan, rec: RunRecord, out_dir: Path, work_dir: Path):
        self.plan, self.rec, self.out_dir, self.work_dir = plan, rec, out_dir, work_dir
        self.partial = work_dir / "notebook.ipynb"
        self.error: BaseException | None = None
        self.nb = None
        self.publisher = None
        self.stopper = None
        self.context = RunContext(run_id=rec.run_id, run_dir=str(out_dir.resolve()), notebook=rec.notebook_name,
                                  work_dir=str(work_dir), params=rec.params, sweep_id=plan.sweep_id, git=plan.git)
        self.t0 = time.perf_counter()

    def kernel_environment(self) -> dict[str, str]:
        """The kernel's environment: the context file, secrets (never in a file), offline-safe plotting."""
        import json

        env = {**self.context.to_env(), **kernel_env(),
               # plotly.js inlined once by the first figure, so charts draw offline in the report
               "PLOTLY_RENDERER": os.environ.get("WORKBENCH_PLOTLY_RENDERER", "notebook"), "MPLBACKEND": "agg"}
        if self.plan.secrets:
            env[SECRETS_ENV] = json.dumps(self.plan.secrets, default=str)
        return env

    def execute(self, progress: bool | None) -> None:
        """Run the notebook in a fresh kernel; notebook errors are kept in :attr:`error`, not raised."""
        from ._kernel import execute_notebook

        self.error = execute_notebook(self, progress)
        self.rec.ended = utcnow().isoformat(timespec="milliseconds")
        self.rec.duration_s = round(time.perf_counter() - self.t0, 3)

    def collect(self) -> None:
        """Metrics and curves from the journal; the executed notebook, secrets scrubbed, into the run folder."""
        import nbformat

        from ..core.io import atomic_write_text, write_json
        from ._scrub import scrub_notebook, scrub_value

        if self.nb is None:  # failed: papermill saved the notebook up to the failing cell (or nothing at all)
            self.nb = nbformat.read(str(self.partial if self.partial.exists() else self.plan.notebook), as_version=4)
        self.nb.metadata.setdefault("papermill", {}).update(input_path=str(self.plan.notebook),
                                                             output_path=str(self.out_dir / "notebook.ipynb"))
        scrub_notebook(self.nb, self.plan.scrub_values)
        entries = read_journal(self.context.journal)
        self.rec.metrics = scrub_value(journal_records(entries), self.plan.scrub_values)
        self.rec.error = scrub_value(self.rec.error, self.plan.scrub_values)
        curves = journal_curves(entries)
        if curves:
            write_json(self.out_dir / "curves.json", curves)
        atomic_write_text(self.out_dir / "notebook.ipynb", nbformat.writes(self.nb))

    def finish(self) -> None:
        """Report, record, W&B and index. A report that cannot be written (disk full) fails the run."""
        from ..reports import update_index, write_report

        self.rec.pid = None
        try:
            write_report(self.out_dir / "report.html", self.nb, self.rec, hide_code=self.plan.hide_code)
        except Exception as e:
            self.error = self.error or e
            self.rec.status = "failed"
            self.rec.error = self.rec.error or {"cell_index": None, "ename": type(e).__name__,
                                                "evalue": f"the report could not be written: {e}"}
        finally:
            self.rec.save()
            if self.publisher is not None:
                self.rec.tracking = self.publisher.finish()
                self.rec.save()
            with reports_lock(self.plan.reports):
                update_index(self.plan.reports, self.rec.notebook_name)
            if self.stopper is not None:
                self.stopper.join(timeout=30)


def failure_summary(rec: RunRecord) -> str:
    """One line naming the failing cell and the error."""
    e = rec.error or {}
    where = f"cell {e['cell_index']} (In [{e.get('exec_count')}])" if e.get("cell_index") is not None else "run"
    msg = str(e.get("evalue", "")).strip().splitlines()
    return (f"{rec.notebook_name} failed at {where}: {e.get('ename')}: {msg[0] if msg else ''}"
            f" — report: {rec.report}")


def start_stopper(km) -> threading.Thread:
    """Stop the kernel in a thread (kill, then process and socket clean-up) so it overlaps the export."""
    from ._kernel import stop_kernel

    t = threading.Thread(target=stop_kernel, args=(km,), name="workbench-kernel-stop", daemon=True)
    t.start()
    return t
