"""The subcommands: each parses nothing itself, imports what it needs lazily (so ``--help`` is instant)
and prints. Errors are :class:`~workbench.errors.WorkbenchError` and become one line (see :func:`main`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.text import fmt_metrics
from ..errors import RunFailedError, WorkbenchError


def collect_params(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """Parameter values from ``-f`` (a YAML file) and ``-p`` (wins), and the raw ``-p`` texts."""
    from ..runner.params import load_params_file, parse_value

    values: dict[str, Any] = {}
    raw: dict[str, str] = {}
    if args.parameters_file:
        values.update(load_params_file(args.parameters_file))
    for name, text in [*args.parameter, *zip(args.parameter_name, args.parameter_value)]:
        values[name] = parse_value(text)
        raw[name] = text
    return values, raw


def cmd_run(args: argparse.Namespace) -> int:
    from ..runner import run_notebook

    values, raw = collect_params(args)
    try:
        rec = run_notebook(args.notebook, values, raw=raw, reports=args.reports, timeout=args.timeout,
                           hide_code=args.hide_code, progress=None if not args.no_progress else False,
                           kernel_name=args.kernel, force=args.force, sweep_id=args.sweep_id, cwd=args.cwd,
                           log_output=args.log_output)
    except RunFailedError as e:
        print(f"workbench: {e}", file=sys.stderr)
        return 1
    metrics = fmt_metrics(rec.metrics)
    if rec.cached_from:
        print(f"{rec.notebook_name} reused run {rec.cached_from} (identical code, parameters, data and "
              f"packages; --force reruns) in {rec.duration_s:.2f} s" + (f" · {metrics}" if metrics else ""))
    else:
        print(f"{rec.notebook_name} {rec.status} in {rec.duration_s:.1f} s" + (f" · {metrics}" if metrics else ""))
    print(f"report: {rec.report}")
    print(f"index:  {Path(args.reports) / 'index.html'}")
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
    failed = 0
    for nb, params in runs:
        print(f"== {nb}" + (f" -f {params}" if params else ""), flush=True)
        try:
            values = load_params_file(params) if params else {}
            rec = run_notebook(nb, values, reports=args.reports, timeout=args.timeout, progress=None, force=args.force,
                               log_output=args.log_output)
            print(f"   {rec.status} in {rec.duration_s:.1f} s -> {rec.report}", flush=True)
        except (RunFailedError, WorkbenchError) as e:
            failed += 1
            print(f"   {e}", file=sys.stderr, flush=True)
    index = (Path(args.reports) / "index.html").resolve()
    print(f"\n{len(runs) - failed}/{len(runs)} runs succeeded. Open {index}")
    return 1 if failed else 0


def _table(rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def cmd_runs(args: argparse.Namespace) -> int:
    from ..core.runs import load_records

    recs = load_records(args.reports, notebook=args.notebook, status=args.status)[: args.limit]
    if not recs:
        print("no runs" + (" matching the filter" if args.notebook or args.status else f" under {args.reports}"))
        return 0
    rows: list[tuple] = [("RUN", "NOTEBOOK", "STATUS", "DURATION", "PARAMS", "METRICS")]
    for r in recs:
        params = ", ".join(f"{k}={v}" for k, v in (r.given_params or {}).items())
        d = r.duration_s
        rows.append((r.run_id, r.notebook_name, r.status + (" (reused)" if r.cached_from else ""),
                     f"{d:.1f}s" if isinstance(d, (int, float)) else "", params[:40],
                     fmt_metrics(r.metrics or {}, limit=4)[:60]))
    _table(rows)
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    import json

    from ..runner.params import notebook_signature

    params, has_cell = notebook_signature(args.notebook)
    if not has_cell:
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

    from ..core.io import atomic_write_text
    from ..models import load
    from ._output import check_output

    if getattr(args, "alias_of", None):
        print("workbench: note: `workbench score` is an alias of `workbench predict`", file=sys.stderr)
    out = check_output(args.output, [args.model_dir, *args.inputs], force=args.force)
    model = load(args.model_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = model.predict_files(args.inputs)
    for w in caught:
        print(f"workbench: warning: {w.message}", file=sys.stderr, flush=True)
    atomic_write_text(out, frame.to_csv(index=False))
    print(f"{model.summary(frame)}; wrote {out}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve saved models over HTTP until SIGTERM or Ctrl-C."""
    from ..serve import config_from_args, run_server

    config = config_from_args(args)
    if args.token is not None:
        print("workbench: note: --token is visible to other users of this machine (ps); prefer "
              "WORKBENCH_SERVE_TOKEN", file=sys.stderr)
    run_server(config, access_log=args.access_log, announce=lambda line: print(line, flush=True))
    print("workbench: serve stopped", file=sys.stderr)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..core.runs import reports_lock
    from ..reports import update_index, write_compare
    from ..runner.sweeps import parse_grid_arg, run_sweep

    if not args.grid:
        raise WorkbenchError("give at least one grid axis, e.g. -g folds=3,5 (see workbench sweep --help)")
    grid = dict(parse_grid_arg(g) for g in args.grid)
    base, raw = collect_params(args)
    n = 1
    for v in grid.values():
        n *= len(v)
    where = f"on Dask at {args.scheduler}" if args.scheduler else f"{args.jobs} at a time"
    print(f"sweep of {n} runs of {args.notebook}, {where}", flush=True)
    done = [0]

    def progress(res: dict) -> None:
        done[0] += 1
        mark = "ok " if res["returncode"] == 0 else "FAIL"
        params = ", ".join(f"{k}={v}" for k, v in res["params"].items() if k in grid)
        print(f"[{done[0]}/{n}] {mark} {params}: {res['summary']}", flush=True)

    summary = run_sweep(args.notebook, grid, base=base, raw=raw, jobs=args.jobs, scheduler=args.scheduler,
                        reports=args.reports, force=args.force, timeout=args.timeout, on_done=progress)
    page = write_compare(args.reports, sweep=summary["sweep_id"])
    with reports_lock(args.reports):
        update_index(args.reports)
    print(f"sweep {summary['sweep_id']}: {summary['runs'] - summary['failed']}/{summary['runs']} succeeded")
    print(f"comparison: {page}")
    return 1 if summary["failed"] else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..reports import write_compare

    page = write_compare(args.reports, run_ids=args.run_ids, sweep=args.sweep, baseline=args.baseline,
                         output=args.output)
    print(f"comparison: {page}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from ..runner.publish import sync_offline_runs

    print(sync_offline_runs(args.wandb_dir))
    return 0
