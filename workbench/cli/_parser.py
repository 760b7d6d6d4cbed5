"""The argument parser of ``workbench``: subcommands, their options and help texts."""

from __future__ import annotations

import argparse

from . import _commands as c

EPILOG = """examples:
  workbench run notebooks/compare_models.ipynb -p models '[logreg, catboost]' -p folds 5
  workbench sweep notebooks/compare_models.ipynb -g folds=3,5 -g seed=0,1 --jobs 2
  workbench compare RUN_ID RUN_ID        # or: workbench compare --sweep SWEEP_ID
  workbench run notebooks/explore.ipynb -p dataset data/my_table.csv -p target label
  workbench predict reports/compare_models/RUN_ID/artifacts/model new.csv -o predictions.csv
  workbench serve churn=reports/compare_models/RUN_ID/artifacts/model --port 8000
  workbench params notebooks/explore.ipynb
  workbench runs --notebook explore --status failed
  workbench demo                      # every notebook in notebooks/ on its defaults (+ its <nb>.<variant>.yaml)
"""


def _params_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a parameter; VALUE is read as YAML ('3' -> int, '[a, b]' -> list, '1e-4' -> float); "
                        "a VALUE may start with '-'")
    p.add_argument("-f", "--parameters-file", metavar="YAML", help="parameters from a YAML mapping (-p wins)")
    # what `-p NAME VALUE` becomes before parsing (see rewrite_parameters), so VALUE may start with '-'
    p.add_argument("--parameter-name", action="append", default=[], help=argparse.SUPPRESS)
    p.add_argument("--parameter-value", action="append", default=[], help=argparse.SUPPRESS)


def rewrite_parameters(argv: list[str]) -> list[str]:
    """``-p NAME VALUE`` as ``--parameter-name=NAME --parameter-value=VALUE``: argparse takes a VALUE
    starting with '-' (``-p offset -3x``) for an option otherwise."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in ("-p", "--parameter") and i + 2 < len(argv):
            out += [f"--parameter-name={argv[i + 1]}", f"--parameter-value={argv[i + 2]}"]
            i += 3
        else:
            out.append(argv[i])
            i += 1
    return out


def _reports(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reports", default="reports", help="reports folder (default: ./reports)")


def _timeout(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="per-cell timeout in seconds")


def _run_parsers(sub) -> None:
    p = sub.add_parser("run", help="run a notebook in a fresh kernel into reports/<notebook>/<run_id>/")
    p.add_argument("notebook", help="path to the .ipynb")
    _params_args(p)
    _timeout(p)
    p.add_argument("--hide-code", action="store_true", help="leave code cells out of the HTML report")
    p.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    p.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    p.add_argument("--force", action="store_true",
                   help="execute even if an identical earlier run (same code, parameters, data, packages) exists")
    p.add_argument("--cwd", default=None, metavar="DIR",
                   help="working directory of the notebook (default: here); relative paths in it resolve there")
    p.add_argument("--log-output", action="store_true", help="stream cell outputs to the terminal as they arrive")
    p.add_argument("--sweep-id", default=None, help=argparse.SUPPRESS)
    _reports(p)
    p.set_defaults(func=c.cmd_run)

    p = sub.add_parser("demo", help="run every notebook of a folder on its defaults, then on each of its parameter "
                                    "files <notebook>.<variant>.yaml (the main job)")
    p.add_argument("folder", nargs="?", default="notebooks")
    p.add_argument("--force", action="store_true", help="execute even where an identical run can be reused")
    p.add_argument("--log-output", action="store_true", help="stream cell outputs to the terminal as they arrive")
    _timeout(p)
    _reports(p)
    p.set_defaults(func=c.cmd_demo)

    p = sub.add_parser("sweep", help="run a parameter grid, each run in its own process and kernel")
    p.add_argument("notebook")
    p.add_argument("-g", "--grid", action="append", default=[], metavar="NAME=V1,V2",
                   help="a grid axis; values are YAML (-g folds=3,5 -g models=[logreg],[logreg, catboost])")
    _params_args(p)
    p.add_argument("--jobs", "-j", type=int, default=1, help="runs at once on this machine (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address (tcp://host:8786): run there")
    _timeout(p)
    p.add_argument("--force", action="store_true", help="execute even where an identical run can be reused")
    _reports(p)
    p.set_defaults(func=c.cmd_sweep)


def _inspect_parsers(sub) -> None:
    p = sub.add_parser("runs", help="list runs, newest first")
    p.add_argument("--notebook", "-n", help="only this notebook (name or path)")
    p.add_argument("--status", "-s", choices=["succeeded", "failed", "running", "interrupted"])
    p.add_argument("--limit", type=int, default=50)
    _reports(p)
    p.set_defaults(func=c.cmd_runs)

    p = sub.add_parser("params", help="a notebook's parameters: type, default and help")
    p.add_argument("notebook")
    p.set_defaults(func=c.cmd_params)

    p = sub.add_parser("compare", help="an offline HTML page comparing runs (or a sweep)")
    p.add_argument("run_ids", nargs="*", metavar="RUN_ID", help="run ids or unique prefixes")
    p.add_argument("--sweep", help="compare all runs of this sweep")
    p.add_argument("--baseline", help="run id the deltas are taken against (default: the oldest)")
    p.add_argument("-o", "--output", help="where to write the page")
    _reports(p)
    p.set_defaults(func=c.cmd_compare)

    p = sub.add_parser("sync", help="upload offline W&B runs (needs W&B configured and a network)")
    p.add_argument("--wandb-dir", default=None, help="folder holding wandb/ (default: $WANDB_DIR or .)")
    p.set_defaults(func=c.cmd_sync)


def _model_parsers(sub) -> None:
    for name, alias in (("predict", None), ("score", "predict")):
        p = sub.add_parser(name, help="predict with any saved model (tabular rows, images)" if alias is None
                           else "alias of `predict`")
        p.add_argument("model_dir", help="model folder (model.json and the model's files)")
        p.add_argument("inputs", nargs="+", metavar="INPUT",
                       help="tabular models: CSV/TSV/Parquet files; vision models: image files and folders")
        p.add_argument("-o", "--output", required=True, help="where to write the predictions CSV")
        p.add_argument("--force", action="store_true", help="replace the output file if it exists")
        p.set_defaults(func=c.cmd_predict, alias_of=alias)


SERVE_EPILOG = """endpoints (per model NAME):
  GET  /health                      liveness (no token needed)
  GET  /models, /models/NAME        the served models; a model's card
  POST /models/NAME/predict         tabular: {"records": [...]} or CSV; vision: multipart 'files';
                                    recommender: {"user": ..., "k": 10}
  POST /models/NAME/interactions    recommender: {"user": ..., "item": ..., "rating": ...}
  GET  /models/NAME/users/USER      recommender: the user's profile
  GET  /metrics                     Prometheus metrics;  /docs: the OpenAPI UI

environment:
  REDIS_URL              shared response cache and recommender profiles (redis://host:6379/0)
  WORKBENCH_SERVE_TOKEN  the bearer token (preferred to --token, which other users can see in `ps`)

examples:
  workbench serve reports/compare_models/RUN_ID/artifacts/model
  workbench serve churn=runs/a/model parts=runs/b/model --port 8080 --workers 4
  curl -s localhost:8000/models/churn/predict -H 'Content-Type: application/json' \\
       -d '{"records": [{"tenure": 3, "contract": "Month-to-month", ...}]}'
"""


def _serve_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve saved models over HTTP (FastAPI): predict, cache, metrics, request log",
                       epilog=SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dirs", nargs="+", metavar="MODEL_DIR",
                   help="model folder, or NAME=MODEL_DIR to name it (default name: the folder's name)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1; a recommender needs REDIS_URL "
                                                           "for more)")
    p.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN' on every route but /health "
                                                 "(or set WORKBENCH_SERVE_TOKEN)")
    p.add_argument("--log-dir", default="serve-logs", metavar="DIR",
                   help="request log (DIR/NAME/requests-YYYYMMDD.jsonl) and interaction log (default ./serve-logs)")
    p.add_argument("--no-request-log", action="store_true", help="keep no request log")
    p.add_argument("--cache-ttl", type=float, default=300.0, metavar="S", help="response cache lifetime in seconds "
                                                                               "(0: no cache; default 300)")
    p.add_argument("--cache-size", type=int, default=10_000, metavar="N", help="in-process cache entries (default "
                                                                               "10000)")
    p.add_argument("--cache-mb", type=float, default=256.0, metavar="MB", help="in-process cache size (default 256)")
    p.add_argument("--max-body-mb", type=float, default=16.0, metavar="MB", help="largest request body (default 16)")
    p.add_argument("--max-rows", type=int, default=10_000, help="most records per request (default 10000)")
    p.add_argument("--max-images", type=int, default=64, help="most images per request (default 64)")
    p.add_argument("--max-k", type=int, default=1000, help="most recommendations per request (default 1000)")
    p.add_argument("--redis-timeout", type=float, default=0.05, metavar="S",
                   help="a Redis call slower than this counts as down: served without it (default 0.05)")
    p.add_argument("--graceful-timeout", type=float, default=30.0, metavar="S",
                   help="on SIGTERM, how long requests in flight may take to finish (default 30)")
    p.add_argument("--no-replay", action="store_true",
                   help="recommenders: do not re-apply logged interactions at start-up")
    p.add_argument("--access-log", action="store_true", help="print one line per request")
    p.set_defaults(func=c.cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench", description="Run parameterized notebooks into versioned, offline HTML reports.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _run_parsers(sub)
    _inspect_parsers(sub)
    _model_parsers(sub)
    _serve_parser(sub)
    return parser
