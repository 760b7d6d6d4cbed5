"""The ``workbench`` command line: run notebooks into reports, list runs, inspect parameters.

Every subcommand parses its arguments, imports what it needs lazily (so ``--help`` is instant)
and turns :class:`WorkbenchError` into a one-line message and exit status 2 (1 for a failed run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from .errors import RunFailedError, WorkbenchError

EPILOG = """examples:
  workbench run notebooks/compare_models.ipynb -p models '[logreg, catboost]' -p folds 5
  workbench sweep notebooks/compare_models.ipynb -g folds=3,5 -g seed=0,1 --jobs 2
  workbench compare RUN_ID RUN_ID        # or: workbench compare --sweep SWEEP_ID
  workbench run notebooks/explore.ipynb -p dataset data/my_table.csv -p target label
  workbench params notebooks/explore.ipynb
  workbench runs --notebook explore --status failed
  workbench demo                      # every notebook in notebooks/ on its defaults
"""


def _add_params_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a parameter; VALUE is read as YAML ('3' -> int, '[a, b]' -> list)")
    p.add_argument("-f", "--parameters-file", metavar="YAML", help="parameters from a YAML mapping (-p wins)")


def _collect_params(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    from .params import load_params_file, parse_value

    values: dict[str, Any] = {}
    raw: dict[str, str] = {}
    if args.parameters_file:
        values.update(load_params_file(args.parameters_file))
    for name, text in args.parameter:
        values[name] = parse_value(text)
        raw[name] = text
    return values, raw


def cmd_run(args: argparse.Namespace) -> int:
    from .execute import run_notebook

    values, raw = _collect_params(args)
    try:
        rec = run_notebook(args.notebook, values, raw=raw, reports=args.reports, timeout=args.timeout,
                           hide_code=args.hide_code, progress=None if not args.no_progress else False,
                           kernel_name=args.kernel, force=args.force, sweep_id=args.sweep_id)
    except RunFailedError as e:
        print(f"workbench: {e}", file=sys.stderr)
        return 1
    metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec["metrics"].items())
    if rec.get("cached_from"):
        print(f"{rec['notebook_name']} reused run {rec['cached_from']} (identical code, parameters, data and "
              f"packages; --force reruns) in {rec['duration_s']:.2f} s" + (f" · {metrics}" if metrics else ""))
    else:
        print(f"{rec['notebook_name']} {rec['status']} in {rec['duration_s']:.1f} s"
              + (f" · {metrics}" if metrics else ""))
    print(f"report: {Path(rec['_dir']) / 'report.html'}")
    print(f"index:  {Path(args.reports) / 'index.html'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run every notebook in a folder on its defaults."""
    from .execute import run_notebook

    notebooks = sorted(Path(args.folder).glob("*.ipynb"))
    if not notebooks:
        raise WorkbenchError(f"no notebooks in {args.folder!r}")
    failed = 0
    for nb in notebooks:
        print(f"== {nb}", flush=True)
        try:
            rec = run_notebook(nb, {}, reports=args.reports, timeout=args.timeout, progress=None, force=args.force)
            print(f"   {rec['status']} in {rec['duration_s']:.1f} s -> {Path(rec['_dir']) / 'report.html'}")
        except RunFailedError as e:
            failed += 1
            print(f"   {e}", file=sys.stderr)
    index = (Path(args.reports) / "index.html").resolve()
    print(f"\n{len(notebooks) - failed}/{len(notebooks)} notebooks succeeded. Open {index}")
    return 1 if failed else 0


def cmd_runs(args: argparse.Namespace) -> int:
    from .runs import load_records

    recs = load_records(args.reports, notebook=args.notebook, status=args.status)[: args.limit]
    if not recs:
        print("no runs" + (" matching the filter" if args.notebook or args.status else f" under {args.reports}"))
        return 0
    rows = [("RUN", "NOTEBOOK", "STATUS", "DURATION", "PARAMS", "METRICS")]
    for r in recs:
        params = ", ".join(f"{k}={v}" for k, v in (r.get("given_params") or {}).items())
        metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in list((r.get("metrics") or {}).items())[:4])
        d = r.get("duration_s")
        status = r.get("status", "") + (" (reused)" if r.get("cached_from") else "")
        rows.append((r.get("run_id", ""), r.get("notebook_name", ""), status,
                     f"{d:.1f}s" if isinstance(d, (int, float)) else "", params[:40], metrics[:60]))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    import json

    from .params import inspect_parameters

    params = inspect_parameters(args.notebook)
    if not params:
        print(f"{args.notebook} declares no parameters")
        return 0
    rows = [("NAME", "TYPE", "DEFAULT", "HELP")] + [(p.name, p.type, json.dumps(p.default), p.help) for p in params]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3])
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from .tabular import score_file

    n = score_file(args.model_dir, args.data, args.output)
    print(f"scored {n} rows -> {args.output}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .vision import predict_files

    summary = predict_files(args.model_dir, args.images, args.output)
    print(summary)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .compare import write_compare
    from .execute import reports_lock
    from .reports import update_index
    from .sweeps import parse_grid_arg, run_sweep

    if not args.grid:
        raise WorkbenchError("give at least one grid axis, e.g. -g folds=3,5 (see workbench sweep --help)")
    grid = dict(parse_grid_arg(g) for g in args.grid)
    base, _raw = _collect_params(args)
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

    summary = run_sweep(args.notebook, grid, base=base, jobs=args.jobs, scheduler=args.scheduler,
                        reports=args.reports, force=args.force, timeout=args.timeout, on_done=progress)
    page = write_compare(args.reports, sweep=summary["sweep_id"])
    with reports_lock(args.reports):
        update_index(args.reports)
    print(f"sweep {summary['sweep_id']}: {summary['runs'] - summary['failed']}/{summary['runs']} succeeded")
    print(f"comparison: {page}")
    return 1 if summary["failed"] else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import write_compare

    page = write_compare(args.reports, run_ids=args.run_ids, sweep=args.sweep, baseline=args.baseline,
                         output=args.output)
    print(f"comparison: {page}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from .tracking import sync_offline_runs

    print(sync_offline_runs(args.wandb_dir))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench", description="Run parameterized notebooks into versioned, offline HTML reports.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--reports", default="reports", help="reports folder (default: ./reports)")

    p = sub.add_parser("run", help="run a notebook in a fresh kernel into reports/<notebook>/<run_id>/")
    p.add_argument("notebook", help="path to the .ipynb")
    _add_params_args(p)
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="per-cell timeout in seconds")
    p.add_argument("--hide-code", action="store_true", help="leave code cells out of the HTML report")
    p.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    p.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    p.add_argument("--force", action="store_true",
                   help="execute even if an identical earlier run (same code, parameters, data, packages) exists")
    p.add_argument("--sweep-id", default=None, help=argparse.SUPPRESS)
    common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="run every notebook of a folder on its defaults (the main job)")
    p.add_argument("folder", nargs="?", default="notebooks")
    p.add_argument("--force", action="store_true", help="execute even where an identical run can be reused")
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="per-cell timeout in seconds")
    common(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("runs", help="list runs, newest first")
    p.add_argument("--notebook", "-n", help="only this notebook (name or path)")
    p.add_argument("--status", "-s", choices=["succeeded", "failed", "running", "interrupted"])
    p.add_argument("--limit", type=int, default=50)
    common(p)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("params", help="a notebook's parameters: type, default and help")
    p.add_argument("notebook")
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("score", help="batch-score a table with a model saved by compare_models")
    p.add_argument("model_dir", help="folder holding the saved model and its model.json sidecar")
    p.add_argument("data", help="CSV or Parquet file to score")
    p.add_argument("-o", "--output", required=True, help="where to write the predictions CSV")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("predict", help="classify images with a model saved by vision_finetune")
    p.add_argument("model_dir", help="folder holding model.safetensors and model.json")
    p.add_argument("images", nargs="+", help="image files and/or folders")
    p.add_argument("-o", "--output", required=True, help="where to write the predictions CSV")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("sweep", help="run a parameter grid, each run in its own process and kernel")
    p.add_argument("notebook")
    p.add_argument("-g", "--grid", action="append", default=[], metavar="NAME=V1,V2",
                   help="a grid axis; values are YAML (-g folds=3,5 -g models=[logreg],[logreg, catboost])")
    _add_params_args(p)
    p.add_argument("--jobs", "-j", type=int, default=1, help="runs at once on this machine (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address (tcp://host:8786): run there")
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="per-cell timeout in seconds")
    p.add_argument("--force", action="store_true", help="execute even where an identical run can be reused")
    common(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("compare", help="an offline HTML page comparing runs (or a sweep)")
    p.add_argument("run_ids", nargs="*", metavar="RUN_ID", help="run ids or unique prefixes")
    p.add_argument("--sweep", help="compare all runs of this sweep")
    p.add_argument("--baseline", help="run id the deltas are taken against (default: the oldest)")
    p.add_argument("-o", "--output", help="where to write the page")
    common(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("sync", help="upload offline W&B runs (needs W&B configured and a network)")
    p.add_argument("--wandb-dir", default=None, help="folder holding wandb/ (default: $WANDB_DIR or .)")
    p.set_defaults(func=cmd_sync)
    return parser


def _skip_slow_optional_imports() -> None:
    """jsonschema imports ``rfc3987_syntax`` when installed, only to check IRI formats, which nbformat
    never uses; it compiles a grammar on import (about a second). The CLI goes without it."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _skip_slow_optional_imports()
    try:
        return args.func(args)
    except WorkbenchError as e:
        print(f"workbench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
