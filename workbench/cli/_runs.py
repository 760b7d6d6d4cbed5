"""``workbench runs``: list, filter, sort and export runs from the run index; tag, untag and note them."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from ..core.csvsafe import neutralize
from ..core.runfolder import notebook_name
from ..core.runquery import FIELDS_HELP, Field, QueryError
from ..core.text import fmt, fmt_metrics

DEFAULT_COLUMNS = "run_id,notebook,status,duration_s,params,metrics"
_HEADERS = {"run_id": "RUN", "duration_s": "DURATION", "params": "PARAMS", "metrics": "METRICS"}
_EXTRA = ("params", "metrics", "notes", "dir")


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="list runs (newest first), filter and sort them; tag, untag or note a run",
                       epilog="examples:\n  workbench runs --where \"notebook = 'compare_models' and metrics.best_score "
                              "> 0.85\" --sort -metrics.best_score --columns run_id,metrics.best_score,params.folds\n"
                              "  workbench runs --where \"tags = 'keep' or status = 'failed'\" --format csv\n"
                              "  workbench runs tag RUN_ID keep      # untag RUN_ID keep; note RUN_ID 'text'\n"
                              "  workbench runs --reindex            # rebuild reports/.runs.sqlite from the run folders",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--notebook", "-n", help="only this notebook (name or path)")
    p.add_argument("--status", "-s", choices=["succeeded", "failed", "running", "interrupted"])
    p.add_argument("--where", "-w", metavar="FILTER",
                   help=f"a filter: comparisons (= != < <= > >= like, in (...), is null) joined by and/or/not and "
                        f"parentheses, on {FIELDS_HELP}; text in quotes ('compare_models')")
    p.add_argument("--sort", metavar="FIELDS", help="comma-separated fields, '-' for descending (-metrics.auc); "
                                                     "default: newest first")
    p.add_argument("--columns", "-c", metavar="FIELDS", default=DEFAULT_COLUMNS,
                   help=f"comma-separated columns (default {DEFAULT_COLUMNS}; also started, ended, tags, notes, "
                        "sweep_id, dir, params.NAME, metrics.NAME)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50; 0: all)")
    p.add_argument("--reindex", action="store_true", help="rebuild the run index from the run folders first")
    p.add_argument("--reports", default="reports", help="reports folder (default: ./reports)")
    p.set_defaults(func=cmd_runs)
    actions = p.add_subparsers(dest="runs_action", metavar="ACTION")
    for name, what in (("tag", "add tags to a run"), ("untag", "remove tags from a run")):
        a = actions.add_parser(name, help=what)
        a.add_argument("run_id", metavar="RUN_ID", help="run id or unique prefix")
        a.add_argument("tags", nargs="+", metavar="TAG", help="letters, digits, '.', '_', '-'")
        a.add_argument("--reports", default=argparse.SUPPRESS, help="reports folder (default: ./reports)")
        a.set_defaults(func=cmd_label)
    a = actions.add_parser("note", help="add a note to a run")
    a.add_argument("run_id", metavar="RUN_ID", help="run id or unique prefix")
    a.add_argument("text", help="the note")
    a.add_argument("--reports", default=argparse.SUPPRESS, help="reports folder (default: ./reports)")
    a.set_defaults(func=cmd_label)


def _columns(spec: str) -> list[str]:
    out = [c.strip() for c in spec.split(",") if c.strip()]
    if not out:
        raise QueryError(f"--columns is empty; give fields such as {DEFAULT_COLUMNS}")
    for c in out:
        if c not in _EXTRA:
            Field.parse(c)
    return out


def cell(row: dict[str, Any], column: str) -> Any:
    """The value of ``column`` for one run row (:meth:`RunStore.query`)."""
    if column in ("params", "metrics"):
        return row[column]
    head, _, key = column.partition(".")
    if key and head in ("params", "metrics"):
        return (row[head] or {}).get(key)
    return {"duration": row["duration_s"], "sweep": row["sweep_id"]}.get(column, row.get(column))


def _shown(column: str, value: Any, row: dict) -> str:
    if column == "params":
        return ", ".join(f"{k}={fmt(v)}" for k, v in (value or {}).items())[:40]
    if column == "metrics":
        return fmt_metrics(value or {}, limit=4)[:60]
    if column == "status" and row.get("cached_from"):
        return f"{value} (reused)"
    if column == "duration_s":
        return f"{value:.1f}s" if isinstance(value, (int, float)) else ""
    if column == "tags":
        return ",".join(value)
    if column == "notes":
        return " | ".join(n.get("text", "") for n in value)
    return "" if value is None else fmt(value)


def _print_table(rows: list[dict], columns: list[str]) -> None:
    table = [tuple(_HEADERS.get(c, c.upper() if "." not in c else c) for c in columns)]
    table += [tuple(_shown(c, cell(r, c), r) for c in columns) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def cmd_runs(args: argparse.Namespace) -> int:
    from ..core.runstore import RunStore

    store = RunStore(args.reports)
    columns = _columns(args.columns)
    if args.reindex:
        n = store.reindex()
        print(f"indexed {n} runs into {store.path}", file=sys.stderr)
    rows = store.query(args.where, args.sort, args.limit or None, status=args.status,
                       notebook=notebook_name(args.notebook) if args.notebook else None)
    if args.format == "json":
        json.dump([{c: (str(cell(r, c)) if c == "dir" else cell(r, c)) for c in columns} for r in rows],
                  sys.stdout, indent=1, default=str)
        print()
    elif args.format == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(columns)
        for r in rows:
            out.writerow([neutralize(v if isinstance(v, (int, float, str)) or v is None else json.dumps(v, default=str))
                          for v in (cell(r, c) for c in columns)])
    elif not rows:
        filtered = args.notebook or args.status or args.where
        print("no runs" + (" matching the filter" if filtered else f" under {args.reports}"))
    else:
        _print_table(rows, columns)
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    from ..core.runs import utcnow
    from ..core.runstore import RunStore

    store = RunStore(getattr(args, "reports", "reports"))
    if args.runs_action == "note":
        row = store.label(args.run_id, note=args.text, when=utcnow().isoformat(timespec="seconds"))
        print(f"{row['run_id']}: {len(row['notes'])} note(s)")
    else:
        key = "add" if args.runs_action == "tag" else "remove"
        row = store.label(args.run_id, **{key: tuple(args.tags)})
        print(f"{row['run_id']}: tags {', '.join(row['tags']) or '(none)'}")
    return 0


def add_gc_parser(sub) -> None:
    p = sub.add_parser("gc", help="delete old runs (a dry run unless --yes); never tagged, running, the newest "
                                  "succeeded run of a notebook, a registered model's or a pipeline's run")
    p.add_argument("--keep-last", type=int, metavar="N", help="keep the newest N runs of each notebook")
    p.add_argument("--older-than", metavar="AGE", help="only runs started longer ago than AGE (30d, 12h, 2w)")
    p.add_argument("--failed", action="store_true", help="only failed or interrupted runs")
    p.add_argument("--registry", default=None, help="model registry folder (default: $WORKBENCH_REGISTRY or ./registry)")
    p.add_argument("--yes", action="store_true", help="delete (without it: print what would be deleted)")
    p.add_argument("--reports", default="reports", help="reports folder (default: ./reports)")
    p.set_defaults(func=cmd_gc)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB ({n} bytes)"


def cmd_gc(args: argparse.Namespace) -> int:
    from ..runner.retention import plan_gc, run_gc

    plan = plan_gc(args.reports, keep_last=args.keep_last, older_than=args.older_than, failed=args.failed,
                   registry=args.registry)
    for r in plan.delete:
        print(f"delete  {r['run_id']}  {r['notebook']}  {r['status']}")
    for run_id, why in plan.kept.items():
        print(f"keep    {run_id}  ({why})")
    if plan.staging:
        print(f"and {len(plan.staging)} W&B offline staging folder(s)")
    if not args.yes:
        print(f"would free {_mb(plan.bytes)} from {len(plan.delete)} run(s); --yes deletes them")
        return 0
    n = run_gc(args.reports, plan)
    print(f"freed {_mb(plan.bytes)} from {n} run(s)")
    return 0
