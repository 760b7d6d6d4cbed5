"""``workbench rerun RUN_ID``: the run again, its environment differences first, its metrics old vs new after."""

from __future__ import annotations

import argparse
import sys

from ..core.secrets import is_secret
from ..core.text import fmt
from ..errors import RunFailedError

EPILOG = """exit status: 0 the rerun succeeded (whatever its metrics), 1 it failed (its report says where),
2 bad input (unknown run id, no parameters recorded, the notebook version that ran not available).

examples:
  workbench rerun 20260301T101500123Z        # id or unique prefix, as `workbench runs` shows it
  workbench rerun 2026030 -p api_key "$KEY"  # a secret parameter is never recorded: give it again
"""


def add_parser(sub, params_args, options_args) -> None:
    p = sub.add_parser("rerun", help="rerun a run with its recorded parameters and notebook version (from git "
                                     "when the file changed); warn about environment differences; metrics old vs new",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_id", metavar="RUN_ID", help="run id or unique prefix")
    params_args(p)
    options_args(p, "timeout", "progress", "log_output", "reports")
    p.set_defaults(func=cmd_rerun)


def print_metrics(rows: list[tuple]) -> None:
    """The table of each recorded metric, old vs new, and a one-line verdict."""
    if not rows:
        print("no metrics recorded by either run")
        return
    shown = [("METRIC", "OLD", "NEW", "DELTA")] + [
        (name, "-" if a is None else fmt(a), "-" if b is None else fmt(b), "" if d is None else f"{d:+.4g}")
        for name, a, b, d in rows]
    widths = [max(len(r[i]) for r in shown) for i in range(4)]
    for r in shown:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    changed = sum(1 for _, a, b, _ in rows if a != b)
    print(f"all {len(rows)} metrics identical" if not changed else f"{changed} of {len(rows)} metrics differ")


def cmd_rerun(args: argparse.Namespace) -> int:
    from ..runner.params import Signature
    from ..runner.rerun import metric_rows, prepare_rerun
    from ._commands import collect_params, run_line, run_options

    options = run_options(args)
    changes = {k: getattr(options, k) for k in ("timeout", "progress", "log_output") if hasattr(args, k)}
    rerun = prepare_rerun(options.reports, args.run_id, **changes)
    given = collect_params(args, Signature.of(rerun.source))
    rerun = rerun.with_params(given).check()
    old = rerun.record
    print(f"rerunning {old.run_id}: {rerun.origin}", file=sys.stderr)
    for name, value in given.items():
        if old.given_params.get(name, old.params.get(name)) != value and not is_secret(name):
            print(f"workbench: note: parameter {name} set to {fmt(value)} (the run had "
                  f"{fmt(old.params.get(name))})", file=sys.stderr)
    for note in rerun.notes:
        print(f"workbench: warning: {note}", file=sys.stderr)
    for line in rerun.differences:
        print(f"workbench: warning: environment differs from run {old.run_id}: {line}", file=sys.stderr)
    try:
        rec = rerun.run()
    except RunFailedError as e:
        print(f"workbench: {e}", file=sys.stderr)
        return 1
    print(run_line(rec))
    print(f"report: {rec.report}")
    print_metrics(metric_rows(old.metrics or {}, rec.metrics or {}))
    return 0
