"""``workbench pipeline run|show FILE``: parsing and printing for :mod:`workbench.pipeline`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..core.runfolder import DEFAULT_REPORTS

PIPELINE_EPILOG = """examples:
  workbench pipeline show pipelines/retrain.yaml           # what would run, what is cached and why
  workbench pipeline run pipelines/retrain.yaml --jobs 2
  workbench pipeline run pipelines/retrain.yaml -p retrain.folds 3 --force drift
  workbench pipeline run pipelines/retrain.yaml --scheduler tcp://HOST:8786
"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="the pipeline's YAML file")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("STEP.NAME", "VALUE"),
                   help="set a step's parameter; VALUE is read against the parameter's type (as workbench run -p)")
    for hidden in ("--parameter-name", "--parameter-value"):
        p.add_argument(hidden, action="append", default=[], help=argparse.SUPPRESS)
    p.add_argument("--reports", default=DEFAULT_REPORTS, help="reports folder (default: ./reports)")
    p.add_argument("--force", action="append", default=[], metavar="STEP",
                   help="execute STEP even when the run cache holds it (its descendants rerun too; repeatable)")
    p.add_argument("--from", dest="from_step", metavar="STEP",
                   help="run STEP (forced) and its descendants; their other upstream steps as usual, the rest not")


def add_parsers(sub) -> None:
    group = sub.add_parser("pipeline", help="pipelines of notebooks: run or show a YAML file of steps",
                           epilog=PIPELINE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = group.add_subparsers(dest="pipeline_command", metavar="COMMAND")
    cmds.required = True
    p = cmds.add_parser("run", help="run the steps that changed (the rest reused from the run cache)")
    _common(p)
    p.add_argument("--jobs", "-j", type=int, default=1, help="steps running at once (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address (tcp://host:8786): run steps there")
    p.add_argument("--timeout", type=float, metavar="S", help="per-cell timeout in seconds (default: none)")
    p.set_defaults(func=cmd_pipeline_run)
    p = cmds.add_parser("show", help="the plan: what would run, what is cached, and why")
    _common(p)
    p.set_defaults(func=cmd_pipeline_show)


def parse_override(pipeline: Any, key: str, text: str) -> tuple[str, Any]:
    """``-p step.param TEXT``: the text parsed against the parameter's declared type."""
    from ..errors import WorkbenchError
    from ..pipeline import PipelineError
    from ..runner import Signature

    step_name, _, name = key.partition(".")
    step = pipeline.steps.get(step_name)
    if step is None or not name or step.source is None:
        notebooks = [s for s in pipeline.order if pipeline.steps[s].source is not None]
        raise PipelineError(f"-p {key}: write STEP.PARAM with STEP a notebook step ({', '.join(notebooks)})")
    try:
        return key, Signature.of(step.source).parse(name, text)
    except WorkbenchError as e:
        raise PipelineError(f"-p {key}: {e}") from None


def _load(args: argparse.Namespace):
    from ..pipeline._run import apply_overrides
    from ..pipeline._spec import load_pipeline

    pipeline = load_pipeline(args.file)
    given = list(zip(args.parameter_name, args.parameter_value)) + [tuple(x) for x in args.parameter]
    apply_overrides(pipeline, dict(parse_override(pipeline, k, v) for k, v in given))
    return pipeline


def cmd_pipeline_show(args: argparse.Namespace) -> int:
    from ..pipeline._plan import plan_pipeline, plan_text
    from ..runner import RunOptions

    pipeline = _load(args)
    plan = plan_pipeline(pipeline, RunOptions(reports=args.reports), force=args.force, from_step=args.from_step)
    print(f"pipeline {args.file}: {len(plan)} steps")
    print(plan_text(plan))
    return 0


def _progress(r) -> None:
    stamp = time.strftime("%H:%M:%S")
    if r.status == "running":
        line = f"{r.name}: running {r.label} ({r.reason})"
    elif r.status == "failed":
        line = f"{r.name}: FAILED — {r.message}"
    else:
        took = f" in {r.duration_s:.1f} s" if r.duration_s is not None and r.status in ("succeeded", "cached") else ""
        metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in list(r.metrics.items())[:4] if isinstance(v, (int, float, str, bool)))
        line = f"{r.name}: {r.status}{took}" + (f" ({r.reason})" if r.reason else "") + (f" [{metrics}]" if metrics else "")
    print(f"[{stamp}] {line}", file=sys.stderr, flush=True)


def cmd_pipeline_run(args: argparse.Namespace) -> int:
    from ..pipeline._run import run
    from ..runner import RunOptions

    pipeline = _load(args)
    options = RunOptions(reports=args.reports, timeout=args.timeout)
    result = run(pipeline, jobs=args.jobs, scheduler=args.scheduler, force=args.force, from_step=args.from_step,
                 options=options, on_event=_progress)
    print(result.summary())
    print(f"page: {result.page}")
    return 0 if result.ok else 1
