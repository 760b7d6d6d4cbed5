"""``workbench pipeline show``: what a run would do, without running or writing anything.

Each step, in dependency order: ``cached`` (its run cache key matches an earlier run: which one),
``runs`` (and why: no earlier run, parameters / input data / notebook code / upstream results changed,
forced, an upstream step runs), ``skipped-by-condition`` (its ``when:`` is false on the cached upstream
results), ``not-selected`` (outside ``--from``). A ``when:`` whose upstream steps would run is shown as
depending on it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from ..errors import WorkbenchError
from ..runner import RunOptions, plan_run
from ..runner.cache import find_cached
from ._spec import Pipeline, Step
from ._steps import StepResult, condition_holds, resolve, why_not_cached


@dataclass
class PlannedStep:
    """One step of the plan: ``verdict`` (cached, runs, skipped-by-condition, not-selected), ``why``, and
    the ``when:`` it depends on."""

    name: str
    label: str
    verdict: str
    why: str = ""
    when: str | None = None

    def line(self) -> str:
        when = f"  [when: {self.when}]" if self.when else ""
        return f"{self.name:<14} {self.verdict:<21} {self.label}  — {self.why}{when}"


def _known(step: Step, guesses: Mapping[str, StepResult]) -> str | None:
    """The first upstream step whose results are not known before running (it would run)."""
    for d in step.deps:
        if guesses[d].status not in ("cached", "skipped-by-condition", "not-selected"):
            return d
    return None


def _notebook(step: Step, guess: StepResult, guesses, options: RunOptions, forced: bool) -> PlannedStep:
    plan = plan_run(step.source, resolve(step, guesses), options)
    hit = None if forced else find_cached(plan.reports.root, plan.notebook, plan.key)
    if hit is not None:
        guess.from_record(hit, Path(options.reports))
        guess.status = "cached"
        return PlannedStep(step.name, step.label, "cached", f"same as run {hit.run_id}")
    guess.status = "runs"
    return PlannedStep(step.name, step.label, "runs", "forced" if forced else why_not_cached(plan, step, options.reports))


def _register(step: Step, guesses, registry: str | None) -> PlannedStep:
    from ..registry import ModelRegistry

    src = step.args.get("source")
    run_id = guesses[src].origin if isinstance(src, str) and src in guesses else None
    reg = ModelRegistry(registry)
    name = step.args["name"]
    if run_id and name in reg.names() and any((v.source or {}).get("run_id") == run_id for v in reg.versions(name)):
        guesses[step.name].status = "cached"
        return PlannedStep(step.name, step.label, "cached", f"a version of {name} came from run {run_id}")
    guesses[step.name].status = "runs"
    return PlannedStep(step.name, step.label, "runs", f"registers a new version of {name}")


def _one(pipeline: Pipeline, step: Step, guesses: dict[str, StepResult], options: RunOptions, forced: set[str],
         selected: set[str]) -> PlannedStep:
    guess = guesses[step.name]
    when = step.when.text if step.when is not None else None
    if step.name not in selected:
        guess.status = "not-selected"
        return PlannedStep(step.name, step.label, "not-selected", "outside --from")
    quiet = [d for d in step.deps if guesses[d].status in ("skipped-by-condition", "not-selected")]
    if quiet:
        guess.status = "skipped-by-condition"
        return PlannedStep(step.name, step.label, "skipped-by-condition", f"upstream step {quiet[0]!r} does not run")
    upstream = _known(step, guesses)
    if upstream is not None:
        guess.status = "runs"
        return PlannedStep(step.name, step.label, "runs" + (" if when holds" if when else ""),
                           f"upstream step {upstream!r} runs", when)
    holds, seen = condition_holds(step, guesses)
    if not holds:
        guess.status = "skipped-by-condition"
        return PlannedStep(step.name, step.label, "skipped-by-condition", f"when is false now ({seen})", when)
    if step.action == "register":
        out = _register(step, guesses, pipeline.registry)
    elif step.action == "alias":
        guess.status = "runs"
        out = PlannedStep(step.name, step.label, "runs", "moves the alias unless it already points there")
    else:
        out = _notebook(step, guess, guesses, options, step.name in forced)
    out.when = when and f"{when} (true now: {seen})"
    return out


def plan_pipeline(pipeline: Pipeline, options: RunOptions | None = None, *, force: Iterable[str] = (),
                  from_step: str | None = None) -> list[PlannedStep]:
    """The plan of every step (raises :class:`PipelineError` for what would stop the run before it starts)."""
    from ._run import Runner

    options = (options or RunOptions()).checked()
    options = dataclasses.replace(options, reports=str(Path(options.reports).resolve()))
    runner = Runner(pipeline, options, force=force, from_step=from_step)  # checks the names given
    guesses = {n: StepResult(n, pipeline.steps[n].kind, pipeline.steps[n].label) for n in pipeline.order}
    out = []
    for name in pipeline.order:
        try:
            out.append(_one(pipeline, pipeline.steps[name], guesses, options, runner.force, runner.selected))
        except WorkbenchError as e:
            guesses[name].status = "failed"
            out.append(PlannedStep(name, pipeline.steps[name].label, "fails", str(e)))
    return out


def plan_text(plan: list[PlannedStep]) -> str:
    return "\n".join(p.line() for p in plan)

