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
                           kernel_name=args.kernel)
    except RunFailedError as e:
        print(f"workbench: {e}", file=sys.stderr)
        return 1
    metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec["metrics"].items())
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
            rec = run_notebook(nb, {}, reports=args.reports, timeout=args.timeout, progress=None)
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
        rows.append((r.get("run_id", ""), r.get("notebook_name", ""), r.get("status", ""),
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
    common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="run every notebook of a folder on its defaults (the main job)")
    p.add_argument("folder", nargs="?", default="notebooks")
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

    try:
        from .cli_tracking import add_subcommands  # sweep, compare, sync (experiment tracking)
    except ImportError:
        pass
    else:
        add_subcommands(sub, common)
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
