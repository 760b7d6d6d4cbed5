"""The argument parser of ``workbench``: subcommands, their options and help texts."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from ..core.runfolder import DEFAULT_REPORTS
from ..runner.options import RunOptions
from . import _commands as c
from . import _pipeline, _registry, _rerun, _runs
from ._serve_flags import CHALLENGER_FLAGS, SERVE_FLAGS, SERVE_NOTES

EPILOG = """examples:
  workbench run notebooks/compare_models.ipynb -p models '[logreg, catboost]' -p folds 5
  workbench sweep notebooks/compare_models.ipynb -g folds=3,5 -g seed=0,1 --jobs 2
  workbench compare RUN_ID RUN_ID        # or: workbench compare --sweep SWEEP_ID
  workbench export RUN_ID -o report.html  # one self-contained file (shared assets inlined)
  workbench rerun RUN_ID                  # same parameters and notebook version; metrics old vs new
  workbench run notebooks/explore.ipynb -p dataset data/my_table.csv -p target label
  workbench run notebooks/explore.ipynb -r target 007     # -r: the text as typed, unparsed
  workbench predict reports/compare_models/RUN_ID/artifacts/model new.csv -o predictions.csv
  workbench serve churn=reports/compare_models/RUN_ID/artifacts/model --port 8000
  workbench params notebooks/explore.ipynb
  workbench runs --notebook explore --status failed
  workbench runs --where "metrics.best_score > 0.85" --sort -metrics.best_score --format csv
  workbench gc --keep-last 20 --older-than 30d      # a dry run: what would be freed; --yes deletes
  workbench pipeline run pipelines/retrain.yaml --jobs 2   # steps that changed; see workbench pipeline -h
  workbench demo                      # every notebook in notebooks/ on its defaults (+ its <nb>.<variant>.yaml)
"""


def _params_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a parameter; VALUE is read against the parameter's type, as YAML ('3' -> 3, "
                        "'[a, b]' -> list, '1e-4' -> 0.0001), a text parameter keeping VALUE as typed ('007'); "
                        "a VALUE may start with '-'")
    p.add_argument("-r", "--parameter-raw", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a text parameter to VALUE exactly as typed, unparsed (papermill's -r; wins over -p)")
    p.add_argument("-f", "--parameters-file", metavar="YAML", help="parameters from a YAML mapping (-p and -r win)")
    # what `-p NAME VALUE` and `-r NAME VALUE` become before parsing (see rewrite_parameters), so VALUE may
    # start with '-'
    for hidden in ("--parameter-name", "--parameter-value", "--raw-name", "--raw-value"):
        p.add_argument(hidden, action="append", default=[], help=argparse.SUPPRESS)


_JOINED = ("--sort", "--where")
_REWRITTEN = {"-p": "parameter", "--parameter": "parameter", "-r": "raw", "--parameter-raw": "raw"}


def rewrite_parameters(argv: list[str]) -> list[str]:
    """``-p NAME VALUE`` as ``--parameter-name=NAME --parameter-value=VALUE`` (``-r``: ``--raw-name``,
    ``--raw-value``): argparse takes a VALUE starting with '-' (``-p offset -3x``) for an option otherwise."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in _JOINED and i + 1 < len(argv):  # `--sort -metrics.auc`: a value starting with '-'
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        elif argv[i] in _REWRITTEN and i + 2 < len(argv):
            kind = _REWRITTEN[argv[i]]
            out += [f"--{kind}-name={argv[i + 1]}", f"--{kind}-value={argv[i + 2]}"]
            i += 3
        else:
            out.append(argv[i])
            i += 1
    return out


def _reports(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reports", default=DEFAULT_REPORTS, help="reports folder (default: ./reports)")


def _options(p: argparse.ArgumentParser, *names: str) -> None:
    """The flags of these :class:`RunOptions` fields: flag, help and default come from the dataclass (an
    option not given stays unset here, so the dataclass's default applies)."""
    for f in fields(RunOptions):
        if f.name not in names:
            continue
        m = f.metadata
        kw: dict = {"dest": f.name, "default": argparse.SUPPRESS, "help": m["help"]}
        if m["flag"].startswith("--no-"):
            kw.update(action="store_const", const=False)
        elif f.default is False:
            kw.update(action="store_true")
        else:
            kw.update(type=m["type"] or str, metavar=m["metavar"])
        p.add_argument(m["flag"], **kw)


def _run_parsers(sub) -> None:
    p = sub.add_parser("run", help="run a notebook in a fresh kernel into reports/<notebook>/<run_id>/")
    p.add_argument("notebook", help="path to the .ipynb")
    _params_args(p)
    _options(p, "timeout", "hide_code", "trust_html", "progress", "kernel", "force", "cwd", "log_output", "reports")
    p.add_argument("--sweep-id", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=c.cmd_run)

    p = sub.add_parser("demo", help="run every notebook of a folder on its defaults, then on each of its parameter "
                                    "files <notebook>.<variant>.yaml (the main job)")
    p.add_argument("folder", nargs="?", default="notebooks")
    p.add_argument("--jobs", "-j", type=int, default=1,
                   help="runs at once, each a `workbench run` process, longest first (a notebook's metadata "
                        "workbench.demo_seconds); output lines carry the run's name (default 1: one after another)")
    _options(p, "force", "log_output", "timeout", "reports")
    p.set_defaults(func=c.cmd_demo)

    p = sub.add_parser("sweep", help="run a parameter grid, each run in a fresh kernel (warm worker processes, one per job)")
    p.add_argument("notebook")
    p.add_argument("-g", "--grid", action="append", default=[], metavar="NAME=V1,V2",
                   help="a grid axis; values are YAML (-g folds=3,5 -g models=[logreg],[logreg, catboost])")
    _params_args(p)
    p.add_argument("--jobs", "-j", type=int, default=1, help="runs at once on this machine (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address (tcp://host:8786): run there")
    _options(p, "timeout", "hide_code", "trust_html", "kernel", "cwd", "force", "reports")
    p.set_defaults(func=c.cmd_sweep)


def _inspect_parsers(sub) -> None:
    _runs.add_parser(sub)
    _runs.add_gc_parser(sub)
    _rerun.add_parser(sub, _params_args, _options)

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

    p = sub.add_parser("export", help="one run's report as a single self-contained HTML file (to mail around)")
    p.add_argument("run_id", metavar="RUN_ID", help="run id or unique prefix")
    p.add_argument("-o", "--output", required=True, help="the HTML file to write, e.g. report.html")
    _reports(p)
    p.set_defaults(func=c.cmd_export)

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
        p.add_argument("--explain", metavar="K|DIR", default=None,
                       help="tabular models: add the K largest contributions (SHAP values) per row as columns "
                            "explain_1_feature, explain_1_value, ...; recommenders: the K history items behind each "
                            "recommended item (explain_1_item, explain_1_value, ...); vision models: write one "
                            "Grad-CAM overlay PNG per image (where the model looked for its predicted class) into "
                            "folder DIR, created if needed")
        p.add_argument("--keep-formulas", action="store_true",
                       help="write text cells that start with = + - @ tab or CR as they are (by default they get a "
                            "leading ' so a spreadsheet shows them as text instead of running them)")
        p.add_argument("--jobs", type=int, default=None,
                       help="batch mode: local worker processes (default 1); the input may be a Parquet dataset "
                            "(folder, hive partitions, glob) or CSV glob and -o a folder: one Parquet file per partition")
        p.add_argument("--scheduler", default=None, help="batch mode on a Dask cluster, e.g. tcp://HOST:8786")
        p.add_argument("--partition-rows", type=int, default=None,
                       help="batch mode: rows read and scored at a time (default 200000; memory scales with it)")
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
  workbench serve churn@champion --shadow churn@challenger
  workbench serve churn@champion --canary churn@challenger=10 [--split-key customer_id]
  curl -s localhost:8000/models/churn/predict -H 'Content-Type: application/json' \\
       -d '{"records": [{"tenure": 3, "contract": "Month-to-month", ...}]}'
"""


def _serve_flag(p: argparse.ArgumentParser, flag: str, f: Any) -> None:
    name, metavar, unit = SERVE_FLAGS[flag]
    note = SERVE_NOTES.get(flag, "")
    if f.default is True:
        p.add_argument(flag, dest=name, action="store_false", default=argparse.SUPPRESS,
                       help=f"turn off {f.metadata['help']}")
        return
    shown = f"default: {f.default / unit:g}" if isinstance(f.default, (int, float)) else \
        (f"default: {f.default}" if f.default is not None else "")
    extra = ", ".join(x for x in (shown, note) if x)
    kind = float if unit != 1 else (type(f.default) if f.default is not None else str)
    p.add_argument(flag, dest=name, type=kind, metavar=metavar or name.upper(), default=argparse.SUPPRESS,
                   help=f.metadata["help"] + (f" ({extra})" if extra else ""))


def _serve_parser(sub) -> None:
    import dataclasses

    from ..serve._config import ServeConfig

    p = sub.add_parser("serve", help="serve saved models over HTTP (FastAPI): predict, cache, metrics, request log",
                       epilog=SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dirs", nargs="+", metavar="MODEL",
                   help="model folder or registry reference (churn@champion: followed when the alias moves), or "
                        "NAME=MODEL to name it (default name: the folder's or the registered model's)")
    fields = {f.name: f for f in dataclasses.fields(ServeConfig)}
    for flag, (name, _, _) in SERVE_FLAGS.items():
        _serve_flag(p, flag, fields[name])
    for flag, (name, metavar) in CHALLENGER_FLAGS.items():
        p.add_argument(flag, dest=name, action="append", metavar=metavar, default=argparse.SUPPRESS,
                       help=fields[name].metadata["help"] + " (repeatable: one per served name)")
    p.add_argument("--rollout", metavar="FILE", default=None, help="rollout.yaml: per served name shadow, or "
                   "canary and percent; and split_key, split_salt, shadow_queue (instead of those flags)")
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
    _registry.add_parsers(sub)
    _pipeline.add_parsers(sub)
    return parser
