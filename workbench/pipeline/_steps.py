"""One step's result, the references resolved against upstream results, the ``when:`` check, why a
notebook step is not reused from the run cache, and the built-in actions (``register``, ``alias``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..core.runs import RunRecord, load_records
from ..core.secrets import redact
from ..errors import WorkbenchError
from ._expr import ExpressionError
from ._spec import PipelineError, Ref, Step, substitute

DONE = ("succeeded", "cached")
STOPPED = ("failed", "skipped")
QUIET = ("skipped-by-condition", "not-selected")


@dataclass
class StepResult:
    """What happened to one step in a pipeline run.

    ``status``: ``succeeded`` (executed), ``cached`` (reused from the run cache, or an action with
    nothing to change), ``failed``, ``skipped`` (an upstream step failed), ``skipped-by-condition``
    (its ``when:`` was false, or an upstream step's was), ``not-selected`` (outside ``--from``).
    ``run_id``: this pipeline's run of the step; ``origin``: the executed run whose results these are
    (a reused run's source); ``dir``: the origin's run folder (references point there, so a reused
    upstream run gives its descendants the same values).
    """

    name: str
    kind: str
    label: str = ""
    status: str = "pending"
    reason: str = ""
    message: str = ""
    run_id: str | None = None
    origin: str | None = None
    dir: str | None = None
    report: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None
    executor: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in DONE

    @property
    def fresh(self) -> bool:
        """Executed in this pipeline run (its descendants' inputs changed)."""
        return self.status == "succeeded"

    def from_record(self, rec: RunRecord, reports: Path) -> "StepResult":
        """Fill in from a notebook run's record (a reused run points at the run it reused)."""
        self.status = {"succeeded": "cached" if rec.cached_from else "succeeded"}.get(rec.status, "failed")
        self.run_id, self.origin = rec.run_id, rec.cached_from or rec.run_id
        origin_dir = rec.folder.path.parent / self.origin if rec.dir is not None else None
        self.dir = str(origin_dir) if origin_dir is not None else None
        self.report = str(rec.report) if rec.dir is not None else None
        self.metrics, self.params = dict(rec.metrics), dict(rec.params)
        self.duration_s, self.executor = rec.duration_s, rec.executor
        return self

    def to_dict(self) -> dict[str, Any]:
        return redact(asdict(self))


def reference_value(ref: Ref, results: Mapping[str, StepResult]) -> Any:
    """The value of one ``${step.attr}`` reference from an upstream result."""
    r = results[ref.step]
    if not r.ok:
        raise PipelineError(f"{ref.text}: step {ref.step!r} has no results ({r.status})")
    if ref.attr.startswith("metrics."):
        name = ref.attr.split(".", 1)[1]
        if name not in r.metrics:
            raise PipelineError(f"{ref.text}: step {ref.step!r} recorded no metric {name!r} (it recorded "
                                f"{', '.join(sorted(r.metrics)) or 'none'}); fix the name")
        return r.metrics[name]
    if ref.attr == "run_id":
        return r.origin
    if r.dir is None:
        raise PipelineError(f"{ref.text}: step {ref.step!r} has no run folder")
    return {"dir": r.dir, "artifacts": str(Path(r.dir) / "artifacts"), "report": str(Path(r.dir) / "report.html")}[ref.attr]


def resolve(step: Step, results: Mapping[str, StepResult]) -> dict[str, Any]:
    """The step's parameters (or action arguments) with every reference replaced."""
    return substitute(step.params if step.action is None else step.args, lambda ref: reference_value(ref, results))


def condition_holds(step: Step, results: Mapping[str, StepResult]) -> tuple[bool, str]:
    """Whether the step's ``when:`` holds, and the values it read (``drift.dataset_drift = False``)."""
    if step.when is None:
        return True, ""
    seen: dict[str, Any] = {}

    def lookup(name: str, attr: str) -> Any:
        r = results[name]
        value = r.status if attr == "status" else r.metrics.get(attr)
        seen[f"{name}.{attr}"] = value
        return value

    try:
        ok = step.when.evaluate(lookup)
    except ExpressionError as e:
        raise PipelineError(f"step {step.name!r}: when: {e}") from None
    return ok, ", ".join(f"{k} = {v!r}" for k, v in seen.items())


def blocked(step: Step, results: Mapping[str, StepResult]) -> tuple[str, str] | None:
    """``(status, reason)`` when an upstream step keeps this one from running."""
    for d in step.deps:
        if results[d].status in STOPPED:
            return "skipped", f"upstream step {d!r} {'failed' if results[d].status == 'failed' else 'was skipped'}"
    for d in step.deps:
        if results[d].status in QUIET:
            return "skipped-by-condition", f"upstream step {d!r} did not run ({results[d].status})"
    return None


def why_not_cached(plan, step: Step, reports: str | Path) -> str:
    """Why a notebook step's plan has no reusable run: what differs from the closest earlier run."""
    earlier = [r for r in load_records(reports, notebook=str(plan.notebook), status="succeeded") if not r.cached_from]
    if not earlier:
        return "no earlier succeeded run"
    referenced = {k for k, v in step.params.items() if "${" in str(v)}

    def diffs(rec: RunRecord) -> list[str]:
        out = []
        changed = sorted(k for k in set(plan.full) | set(rec.params)
                         if plan.full.get(k) != rec.params.get(k) and rec.params.get(k) != "***")
        upstream = [k for k in changed if k in referenced]
        if upstream:
            out.append(f"upstream results changed ({', '.join(upstream)})")
        if [k for k in changed if k not in referenced]:
            out.append("parameters changed (" + ", ".join(f"{k}: {rec.params.get(k)!r} -> {plan.full.get(k)!r}"
                                                          for k in changed if k not in referenced) + ")")
        if dict(plan.fingerprints) != dict(rec.data):
            out.append("input data changed (" + ", ".join(sorted(k for k in set(plan.fingerprints) | set(rec.data)
                                                                 if plan.fingerprints.get(k) != rec.data.get(k))) + ")")
        if dict(plan.packages) != dict(rec.packages):
            out.append("package versions changed")
        if plan.options.keyed(plan.kernel) != dict(rec.options):
            out.append("run options changed")
        return out

    best = min(earlier, key=lambda r: len(diffs(r)))  # newest first: ties go to the newest
    return "; ".join(diffs(best)) or "notebook code changed"


def _registry(pipeline_registry: str | None):
    from ..registry import ModelRegistry

    return ModelRegistry(pipeline_registry)


def _source_folder(args: dict[str, Any], raw: Any, results: Mapping[str, StepResult]) -> tuple[Path | str, str | None]:
    """The model folder (or run id) to register, and the run it comes from."""
    if isinstance(raw, str) and raw in results:
        r = results[raw]
        return Path(r.dir or ".") / "artifacts" / "model", r.origin
    return args["source"], None


def do_register(step: Step, args: dict[str, Any], results: Mapping[str, StepResult], registry: str | None,
                reports: str | Path) -> StepResult:
    """Register the source model (a step name: its ``artifacts/model``; else a folder or a run id) as the
    next version of ``name``, unless a version from the same run exists (then reused); move ``alias``."""
    out = StepResult(step.name, "register", step.label)
    reg = _registry(registry)
    source, run_id = _source_folder(args, step.args.get("source"), results)
    alias = args.get("alias")
    existing = [v for v in reg.versions(args["name"]) if run_id and (v.source or {}).get("run_id") == run_id] \
        if args["name"] in reg.names() else []
    if existing:
        version, out.status, out.reason = existing[-1], "cached", f"version {existing[-1].version} came from run {run_id}"
        if alias and reg.aliases(args["name"]).get(alias) != version.version:
            reg.set_alias(args["name"], alias, version.version)
            out.reason += f"; {alias} moved to it"
    else:
        version = reg.register(args["name"], source, alias=alias, reports=reports)
        out.status, out.reason = "succeeded", f"registered {args['name']}:{version.version}" + (f"@{alias}" if alias else "")
    out.metrics = {"version": version.version, "name": args["name"]}
    out.dir, out.run_id, out.origin = str(version.folder), run_id, run_id
    return out


def do_alias(step: Step, args: dict[str, Any], registry: str | None) -> StepResult:
    """Point ``alias`` of ``name`` at ``version`` (a number, or ``@other``); nothing to do when it already does."""
    out = StepResult(step.name, "alias", step.label)
    reg = _registry(registry)
    version = args["version"]
    target = reg.aliases(args["name"]).get(version[1:]) if isinstance(version, str) and version.startswith("@") else version
    try:
        target = int(target) if target is not None else None
    except (TypeError, ValueError):
        raise PipelineError(f"step {step.name!r}: alias: version must be a number or @ALIAS, got {version!r}") from None
    if target is not None and reg.aliases(args["name"]).get(args["alias"]) == target:
        out.status, out.reason = "cached", f"{args['name']}@{args['alias']} already points at version {target}"
    else:
        entry = reg.set_alias(args["name"], args["alias"], version)
        target = entry.get("to", target)
        out.status, out.reason = "succeeded", f"{args['name']}@{args['alias']} -> version {target}"
    out.metrics = {"version": target, "name": args["name"]}
    return out


def action_error(step: Step, e: WorkbenchError) -> StepResult:
    return StepResult(step.name, step.kind, step.label, status="failed", message=f"{step.name}: {e}")
