"""The subcommands: each parses nothing itself, imports what it needs lazily (so ``--help`` is instant)
and prints. Errors are :class:`~workbench.errors.WorkbenchError` and become one line (see :func:`main`)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.runfolder import ReportsTree
from ..core.secrets import redact
from ..core.text import fmt_metrics
from ..errors import RunFailedError, WorkbenchError
from ..runner.options import RunOptions

if TYPE_CHECKING:
    from ..core.runs import RunRecord
    from ..runner.params import Signature


def collect_params(args: argparse.Namespace, signature: Signature) -> dict[str, Any]:
    """Parameter values from ``-f`` (a YAML file), ``-p`` (parsed against the declared types, wins over
    ``-f``) and ``-r`` (text as typed, wins over ``-p``, as in papermill)."""
    from ..runner.params import load_params_file

    values: dict[str, Any] = {}
    if args.parameters_file:
        values.update(load_params_file(args.parameters_file))
    for name, text in [*args.parameter, *zip(args.parameter_name, args.parameter_value)]:
        values[name] = signature.parse(name, text)
    for name, text in [*args.parameter_raw, *zip(args.raw_name, args.raw_value)]:
        values[name] = signature.parse(name, text, raw=True)
    return values


def run_options(args: argparse.Namespace) -> RunOptions:
    """The run options the command line set (flags not given keep the dataclass's defaults)."""
    return RunOptions(**{f.name: getattr(args, f.name) for f in fields(RunOptions) if hasattr(args, f.name)})


def run_line(rec: RunRecord) -> str:
    """One line on how a run ended: executed or reused, time, metrics."""
    metrics = fmt_metrics(rec.metrics)
    if rec.cached_from:
        return (f"{rec.notebook_name} reused run {rec.cached_from} (identical code, parameters, data and "
                f"packages; --force reruns) in {rec.duration_s:.2f} s" + (f" · {metrics}" if metrics else ""))
    return f"{rec.notebook_name} {rec.status} in {rec.duration_s:.1f} s" + (f" · {metrics}" if metrics else "")


def cmd_run(args: argparse.Namespace) -> int:
    from ..runner import NotebookSource, Signature, run_notebook

    source = NotebookSource.load(args.notebook)
    options = run_options(args)
    try:
        rec = run_notebook(source, collect_params(args, Signature.of(source)), options, sweep_id=args.sweep_id)
    except RunFailedError as e:
        print(f"workbench: {e}", file=sys.stderr)
        return 1
    print(run_line(rec))
    print(f"report: {rec.report}")
    print(f"index:  {ReportsTree(Path(options.reports)).index}")
    return 0


def demo_runs(folder: str | Path) -> list[tuple[Path, Path | None]]:
    """What ``workbench demo`` runs: every notebook of ``folder`` on its defaults, each followed by its
    parameter files ``<notebook>.<variant>.yaml`` next to it (e.g. ``compare_models.ames.yaml``)."""
    runs: list[tuple[Path, Path | None]] = []
    for nb in sorted(Path(folder).glob("*.ipynb")):
        runs.append((nb, None))
        runs += [(nb, f) for f in sorted(nb.parent.glob(f"{nb.stem}.*.yaml"))]
    return runs


def cmd_demo(args: argparse.Namespace) -> int:
    """Run every notebook in a folder on its defaults, and on each of its parameter files."""
    from ..runner import run_notebook
    from ..runner.params import load_params_file

    runs = demo_runs(args.folder)
    if not runs:
        raise WorkbenchError(f"no notebooks in {args.folder!r}")
    options = run_options(args)
    if args.jobs < 1:
        raise WorkbenchError(f"--jobs must be at least 1, not {args.jobs}")
    if args.jobs > 1:
        from ._demo import run_parallel

        failed = run_parallel(runs, args, args.jobs)
        runs_left: list = []
    else:
        failed, runs_left = 0, runs
    for nb, params in runs_left:
        print(f"== {nb}" + (f" -f {params}" if params else ""), flush=True)
        try:
            rec = run_notebook(nb, load_params_file(params) if params else {}, options)
            print(f"   {rec.status} in {rec.duration_s:.1f} s -> {rec.report}", flush=True)
        except (RunFailedError, WorkbenchError) as e:
            failed += 1
            print(f"   {e}", file=sys.stderr, flush=True)
    index = ReportsTree(Path(options.reports)).index.resolve()
    print(f"\n{len(runs) - failed}/{len(runs)} runs succeeded. Open {index}")
    return 1 if failed else 0


def _table(rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def cmd_params(args: argparse.Namespace) -> int:
    import json

    from ..runner import NotebookSource

    source = NotebookSource.load(args.notebook)
    params = source.parameters
    if not source.has_parameters_cell:
        print(f"{args.notebook} has no cell tagged 'parameters': it runs as it is and takes no values "
              "(tag its first code cell 'parameters' to make them settable)")
        return 0
    if not params:
        print(f"{args.notebook} declares no parameters")
        return 0

    def default(p) -> str:
        return f"= {p.computed}" if p.computed else json.dumps(p.default)

    def help_text(p) -> str:
        note = "computed: not settable" if not p.settable else "computed; settable" if p.computed else ""
        return "; ".join(x for x in (p.help, f"({note})" if note else "") if x)

    rows = [("NAME", "TYPE", "DEFAULT", "HELP")] + [(p.name, p.type, default(p), help_text(p)) for p in params]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3])
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Any saved model on files: tables for tabular models, images and folders for vision models."""
    import warnings

    from ..core.csvsafe import neutralize_frame
    from ..core.io import atomic_write_text
    from ..registry import locate_model
    from ._output import check_explain_dir, check_output

    if getattr(args, "alias_of", None):
        print("workbench: note: `workbench score` is an alias of `workbench predict`", file=sys.stderr)
    target = locate_model(args.model_dir, getattr(args, "registry", None))  # a folder, or NAME@ALIAS / NAME:VERSION
    if _batch_mode(args, target):
        return _predict_batch(args, target)
    out = check_output(args.output, [*target.protected, *args.inputs], force=args.force)
    model = target.load()
    explain, heatmaps = args.explain, None
    if explain is not None and hasattr(model, "heatmap_files"):  # vision: --explain DIR, Grad-CAM overlays
        heatmaps, explain = check_explain_dir(explain, [*target.protected, *args.inputs]), None
    if target.version is not None:
        print(f"workbench: model {target.describe()}", file=sys.stderr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = model.predict_files(args.inputs) if explain is None else model.explain_files(args.inputs, explain)
    for w in caught:
        print(f"workbench: warning: {w.message}", file=sys.stderr, flush=True)
    written = frame if args.keep_formulas else neutralize_frame(frame)  # input text must not run as a formula
    atomic_write_text(out, written.to_csv(index=False))
    print(f"{model.summary(frame)}; wrote {out}")
    if heatmaps is not None:
        pngs = model.heatmap_files(args.inputs, heatmaps)
        print(f"wrote {len(pngs)} Grad-CAM overlay(s) to {args.explain}")
    return 0


def _batch_mode(args: argparse.Namespace, target) -> bool:
    """Batch mode: a batch flag, or an output without a file suffix (a dataset folder)."""
    flags = (getattr(args, "jobs", None), getattr(args, "scheduler", None), getattr(args, "partition_rows", None))
    if any(f is not None for f in flags):
        return True
    if Path(args.output).suffix or len(args.inputs) != 1:
        return False
    data = args.inputs[0]
    if not (Path(data).is_dir() or any(ch in data for ch in "*?[")):
        return False
    from ..models import read_card

    try:
        return read_card(target.folder).kind == "tabular"
    except Exception:  # the normal path names what is wrong with the folder
        return False


def _predict_batch(args: argparse.Namespace, target) -> int:
    """``workbench predict MODEL DATA -o OUT/``: a partitioned dataset scored partition by partition."""
    from ..batch import score_dataset

    if len(args.inputs) != 1:
        raise WorkbenchError("batch mode takes one input: a Parquet dataset folder or a glob (quote it), "
                             f"not {len(args.inputs)}")
    out = Path(args.output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.force:
        raise WorkbenchError(f"output {args.output!r} exists and is not empty; give another folder, or --force")
    for p in [*target.protected, args.inputs[0]]:
        p = Path(p).resolve()
        if out.resolve() == p or p in out.resolve().parents or (p.is_dir() and out.resolve() in p.parents):
            raise WorkbenchError(f"output {args.output!r} overlaps {str(p)!r}, an input of this command; give another folder")
    result = score_dataset(target.folder, args.inputs[0], out, jobs=args.jobs or 1, scheduler=args.scheduler,
                           partition_rows=args.partition_rows or 200_000, progress=True)
    for name, why in result.failed.items():
        print(f"workbench: error: partition {name}: {why}", file=sys.stderr)
    print(f"{result.summary()}; wrote {out}")
    return 3 if result.failed else 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve saved models over HTTP until SIGTERM or Ctrl-C."""
    from ..serve import ServeError, run_server, serve_config
    from ._serve_flags import flag_message, serve_options

    try:
        config = serve_config(args.model_dirs, **serve_options(args))
    except ServeError as e:
        raise ServeError(flag_message(e, args), e.field) from None
    if getattr(args, "token", None) is not None:
        print("workbench: note: --token is visible to other users of this machine (ps); prefer "
              "WORKBENCH_SERVE_TOKEN", file=sys.stderr)
    run_server(config, access_log=args.access_log, announce=lambda line: print(line, flush=True))
    print("workbench: serve stopped", file=sys.stderr)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..runner import NotebookSource, Signature
    from ..runner.sweeps import Point, parse_grid_arg, run_sweep

    if not args.grid:
        raise WorkbenchError("give at least one grid axis, e.g. -g folds=3,5 (see workbench sweep --help)")
    source = NotebookSource.load(args.notebook)
    signature = Signature.of(source)
    grid = {}
    for axis in args.grid:
        name, texts = parse_grid_arg(axis)
        grid[name] = [signature.parse(name, t) for t in texts]
    base = collect_params(args, signature)
    n = 1
    for v in grid.values():
        n *= len(v)
    where = f"on Dask at {args.scheduler}" if args.scheduler else f"{args.jobs} at a time"
    print(f"sweep of {n} runs of {args.notebook}, {where}", flush=True)
    done = [0]

    def progress(point: Point) -> None:
        done[0] += 1
        params = ", ".join(f"{k}={v}" for k, v in redact({k: v for k, v in point.params.items() if k in grid}).items())
        line = run_line(point.record) if point.ok else point.message
        print(f"[{done[0]}/{n}] {'ok ' if point.ok else 'FAIL'} {params}: {line}", flush=True)

    sweep = run_sweep(source, grid, base=base, options=run_options(args), jobs=args.jobs, scheduler=args.scheduler,
                      on_done=progress)
    print(f"sweep {sweep.sweep_id}: {sweep.runs - sweep.failed}/{sweep.runs} succeeded")
    print(f"comparison: {sweep.page or 'none (no run was recorded)'}")
    return 1 if sweep.failed else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..reports import write_compare

    page = write_compare(args.reports, run_ids=args.run_ids, sweep=args.sweep, baseline=args.baseline,
                         output=args.output)
    print(f"comparison: {page}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..reports import export_report

    print(f"report: {export_report(args.reports, args.run_id, args.output)}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from ..runner.publish import sync_offline_runs

    print(sync_offline_runs(args.wandb_dir))
    return 0
