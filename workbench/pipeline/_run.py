"""A pipeline run: steps started as soon as their upstream steps ended, independent ones concurrently.

Each notebook step is planned here with the runner's :func:`~workbench.runner.plan_run` (parameters
checked against the signature, the run cache's key). A step whose key matches an earlier run, and
whose upstream steps were not executed in this pipeline run, is reused in this process through
:func:`~workbench.runner.run_notebook` (a cache hit: hard links and a record); any other runs as
``python -m workbench.runner`` in its own process (the sweep points' path), locally ``jobs`` at a time
or on a Dask cluster with ``scheduler``. A failing step stops its descendants (``skipped``), never the
others; a false ``when:`` skips its step (``skipped-by-condition``). Every step's run carries the
pipeline run's id as its ``sweep_id``: one W&B group per pipeline run.
"""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..core.runs import RunRecord, new_run_id, utcnow
from ..errors import WorkbenchError
from ..runner import RunOptions, plan_run, run_notebook
from ..runner.cache import find_cached
from ._spec import Pipeline, PipelineError, Step, load_pipeline
from ._steps import StepResult, action_error, blocked, condition_holds, do_alias, do_register, resolve, why_not_cached


@dataclasses.dataclass
class PipelineResult:
    """A finished pipeline run: its id, file, each step's :class:`StepResult` (in dependency order), the
    page and record written under ``reports/pipelines/<id>/``."""

    pipeline_id: str
    path: str
    steps: dict[str, StepResult]
    started: str = ""
    ended: str = ""
    duration_s: float = 0.0
    page: Path | None = None
    deps: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No step failed or was skipped because of a failure."""
        return not any(r.status in ("failed", "skipped") for r in self.steps.values())

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.steps.values():
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def summary(self) -> str:
        """One line: the counts, and the first failing step with its failing cell."""
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items())
        failed = [r for r in self.steps.values() if r.status == "failed"]
        head = f"pipeline {self.pipeline_id}: {counts} in {self.duration_s:.1f} s"
        return head + (f" — step {failed[0].name!r} failed: {failed[0].message}" if failed else "")


def apply_overrides(pipeline: Pipeline, params: Mapping[str, Any] | None) -> None:
    """Set parameters ``{"step.param": value}`` (or ``{"step": {"param": value}}``), checked against the
    step's notebook."""
    from ._spec import _check_params

    for key, value in (params or {}).items():
        items = value.items() if isinstance(value, dict) and "." not in key else [(None, value)]
        for sub, v in items:
            step_name, _, name = (key if sub is None else f"{key}.{sub}").partition(".")
            step = pipeline.steps.get(step_name)
            if step is None or not name:
                raise PipelineError(f"parameter {key!r}: write STEP.PARAM with STEP one of {', '.join(pipeline.order)}")
            if step.source is None:
                raise PipelineError(f"parameter {key!r}: step {step_name!r} is a {step.kind} action, not a notebook")
            step.params = _check_params(step_name, step.source, {**step.params, name: v})


class Runner:
    """Runs one pipeline: owns the results, the pool and the progress callback."""

    def __init__(self, pipeline: Pipeline, options: RunOptions, *, jobs: int = 1, scheduler: str | None = None,
                 force: Iterable[str] = (), from_step: str | None = None,
                 on_event: Callable[[StepResult], None] | None = None):
        self.p, self.options, self.scheduler = pipeline, options, scheduler
        self.jobs = max(1, jobs)
        self.force = set(force)
        for name in self.force | ({from_step} if from_step else set()):
            if name not in pipeline.steps:
                raise PipelineError(f"no step {name!r} in {pipeline.path}; steps: {', '.join(pipeline.order)}")
        self.selected = set(pipeline.order)
        if from_step:
            self.force.add(from_step)
            down = {from_step} | pipeline.descendants(from_step)
            self.selected = down.union(*(pipeline.ancestors(s) for s in down))
        self.on_event = on_event or (lambda r: None)
        self.pipeline_id = "pipeline-" + new_run_id()
        self.results = {n: StepResult(n, pipeline.steps[n].kind, pipeline.steps[n].label) for n in pipeline.order}
        self.t0: dict[str, float] = {}

    def emit(self, r: StepResult) -> StepResult:
        self.on_event(r)
        return r

    def _finish(self, name: str, result: StepResult) -> None:
        if result.duration_s is None and name in self.t0:
            result.duration_s = round(time.perf_counter() - self.t0[name], 3)
        result.label = self.p.steps[name].label
        self.results[name] = result
        self.emit(result)

    def start(self, name: str, pool, client) -> Future | None:
        """Decide and start one step whose upstream steps have ended; a future when it runs elsewhere."""
        step, r = self.p.steps[name], self.results[name]
        self.t0[name] = time.perf_counter()
        stop = blocked(step, self.results)
        if name not in self.selected:
            stop = ("not-selected", "outside --from")
        if stop is None:
            try:
                holds, seen = condition_holds(step, self.results)
                if not holds:
                    stop = ("skipped-by-condition", f"when: {step.when.text} is false ({seen})")
                values = resolve(step, self.results) if stop is None else {}
            except WorkbenchError as e:
                self._finish(name, action_error(step, e))
                return None
        if stop is not None:
            r.status, r.reason = stop
            self._finish(name, r)
            return None
        if step.action is not None:
            self._finish(name, self._action(step, values))
            return None
        return self._notebook(step, values, pool, client)

    def _action(self, step: Step, values: dict[str, Any]) -> StepResult:
        try:
            if step.action == "register":
                return do_register(step, values, self.results, self.p.registry, self.options.reports)
            return do_alias(step, values, self.p.registry)
        except WorkbenchError as e:
            return action_error(step, e)

    def _forced(self, step: Step) -> str | None:
        if step.name in self.force:
            return "forced"
        fresh = [d for d in step.deps if self.results[d].fresh]
        return f"upstream step {fresh[0]!r} ran" if fresh else None

    def _notebook(self, step: Step, values: dict[str, Any], pool, client) -> Future | None:
        r = self.results[step.name]
        forced = self._forced(step)
        options = dataclasses.replace(self.options, force=bool(forced))
        try:
            plan = plan_run(step.source, values, options, sweep_id=self.pipeline_id)
            hit = None if forced else find_cached(plan.reports.root, plan.notebook, plan.key)
            if hit is not None:
                rec = run_notebook(step.source, values, options, sweep_id=self.pipeline_id)
                r.from_record(rec, Path(self.options.reports)).reason = f"reused run {hit.run_id}"
                self._finish(step.name, r)
                return None
            r.reason = forced or why_not_cached(plan, step, self.options.reports)
        except WorkbenchError as e:
            self._finish(step.name, action_error(step, e))
            return None
        r.status = "running"
        self.emit(r)
        spec = {"notebook": str(step.source.path.resolve()), "params": values, "options": options.to_dict(),
                "sweep_id": self.pipeline_id}
        return pool.submit(_run_point, spec, client)

    def answered(self, name: str, answer: Mapping[str, Any]) -> None:
        r = self.results[name]
        rec = answer.get("record")
        if rec:
            r.from_record(RunRecord.from_dict(rec, dir=answer.get("dir")), Path(self.options.reports))
        else:
            r.status = "failed"
        r.duration_s = None
        if r.status == "failed":
            r.message = answer.get("message") or "the run ended without a record"
        self._finish(name, r)

    def run(self) -> None:
        pending = list(self.p.order)
        running: dict[Future, str] = {}
        client = _dask_client(self.scheduler) if self.scheduler else None
        try:
            with ThreadPoolExecutor(self.jobs) as pool:
                while pending or running:
                    for name in list(pending):
                        if len(running) >= self.jobs:  # a step is shown running (and timed) once it has a slot
                            break
                        if any(self.results[d].status in ("pending", "running") for d in self.p.steps[name].deps):
                            continue
                        pending.remove(name)
                        fut = self.start(name, pool, client)
                        if fut is not None:
                            running[fut] = name
                    if not running:
                        continue
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        self.answered(running.pop(fut), fut.result())
        finally:
            if client is not None:
                client.close()


def _dask_client(scheduler: str):
    from distributed import Client

    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as e:
        raise PipelineError(f"cannot reach the Dask scheduler {scheduler}: {e}; start one (dask scheduler) or "
                            "drop --scheduler") from None


def _run_point(spec: dict[str, Any], client) -> dict[str, Any]:
    from ..runner.sweeps import run_point

    if client is None:
        return run_point(spec, os.getcwd())
    return client.submit(run_point, spec, os.getcwd(), pure=False).result()


def run(path: str | Path | Pipeline, params: Mapping[str, Any] | None = None, *, jobs: int = 1, scheduler: str | None = None,
        force: Iterable[str] = (), from_step: str | None = None, options: RunOptions | None = None,
        on_event: Callable[[StepResult], None] | None = None, **changes: Any) -> PipelineResult:
    """Run the pipeline in ``path``; return its :class:`PipelineResult` (a failed step does not raise:
    check ``result.ok``). Errors in the file or the parameters raise :class:`PipelineError` before
    anything runs.

    Parameters
    ----------
    params : ``{"step.param": value}`` overrides, typed.
    jobs : steps running at once (local processes, or Dask tasks in flight with ``scheduler``).
    scheduler : ``tcp://HOST:8786``: run notebook steps on that Dask cluster (sharing this folder).
    force : steps to execute even when the run cache holds them (their descendants rerun too).
    from_step : run this step (forced) and its descendants; their ancestors as usual, others not at all.
    **changes : :class:`RunOptions` fields (``reports=...``, ``timeout=...``).
    """
    from ._record import write_pipeline

    pipeline = path if isinstance(path, Pipeline) else load_pipeline(path)
    apply_overrides(pipeline, params)
    options = dataclasses.replace(options or RunOptions(), **changes).checked()
    options = dataclasses.replace(options, reports=str(Path(options.reports).resolve()), progress=False,
                                  log_output=False)
    runner = Runner(pipeline, options, jobs=jobs, scheduler=scheduler, force=force, from_step=from_step,
                    on_event=on_event)
    started, t0 = utcnow(), time.perf_counter()
    runner.run()
    result = PipelineResult(runner.pipeline_id, str(pipeline.path), runner.results, started.isoformat(timespec="seconds"),
                            utcnow().isoformat(timespec="seconds"), round(time.perf_counter() - t0, 3),
                            deps={n: list(pipeline.steps[n].deps) for n in pipeline.order})
    result.page = write_pipeline(Path(options.reports), result)
    return result
