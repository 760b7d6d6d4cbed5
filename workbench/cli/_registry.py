"""``workbench models``: the model registry's subcommands (their parser and their printing).

``add_parsers`` is the one call ``build_parser`` makes; it also gives ``predict``/``score`` their
``--registry`` option, so everything the registry adds to the command line lives here.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..core.text import fmt

EPILOG = """references:
  NAME@ALIAS     what an alias points at now (churn@champion)
  NAME:VERSION   one version (churn:3)
  NAME           the newest version (NAME@latest); a path that exists as a folder is always that folder

examples:
  workbench models register churn reports/compare_models/RUN_ID/artifacts/model --alias challenger
  workbench models register churn RUN_ID            # the run's artifacts/model (an id or a unique prefix)
  workbench models list; workbench models list churn
  workbench models show churn@champion
  workbench models alias churn champion 3           # or: ... champion @challenger (promote)
  workbench models rollback churn champion          # back to its previous target
  workbench models delete churn:2                   # refused while an alias points at it
  workbench predict churn@champion new.csv -o predictions.csv

environment:
  WORKBENCH_REGISTRY   the registry folder (default ./registry; --registry wins)
"""


def _registry_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registry", default=None, metavar="DIR",
                   help="registry folder (default: $WORKBENCH_REGISTRY, else ./registry)")


def _json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON (for scripts) instead of a table")


def add_parsers(sub) -> None:
    """``workbench models ...``, and ``--registry`` on ``predict``/``score`` (call after they exist)."""
    group = sub.add_parser("models", help="the model registry: register versions, list, show, aliases, rollback",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = group.add_subparsers(dest="models_command", metavar="ACTION")
    cmds.required = True
    p = cmds.add_parser("register", help="copy a model folder (or a run's artifacts/model) in as a new version")
    p.add_argument("name", help="model name (letters, digits, '._-')")
    p.add_argument("source", help="model folder, or a run id (or unique prefix) whose artifacts/model to register")
    p.add_argument("--alias", help="point this alias at the new version")
    p.add_argument("--reports", default="reports", help="reports folder run ids are looked up in (default ./reports)")
    p.set_defaults(func=cmd_register)
    p = cmds.add_parser("list", help="the registered models, or one model's versions")
    p.add_argument("name", nargs="?")
    _json_option(p)
    p.set_defaults(func=cmd_list)
    p = cmds.add_parser("show", help="one version: NAME@ALIAS, NAME:VERSION or NAME (the newest)")
    p.add_argument("ref", metavar="REF")
    _json_option(p)
    p.set_defaults(func=cmd_show)
    p = cmds.add_parser("alias", help="point an alias at a version (or at another alias's target: @ALIAS)")
    p.add_argument("name")
    p.add_argument("alias")
    p.add_argument("version", nargs="?", metavar="VERSION", help="a version number, or @OTHER_ALIAS")
    p.add_argument("--remove", action="store_true", help="remove the alias instead")
    p.set_defaults(func=cmd_alias)
    p = cmds.add_parser("rollback", help="point an alias back at its previous target (from the audit log)")
    p.add_argument("name")
    p.add_argument("alias")
    p.set_defaults(func=cmd_rollback)
    p = cmds.add_parser("delete", help="delete one version (refused while an alias points at it)")
    p.add_argument("ref", metavar="NAME:VERSION")
    p.set_defaults(func=cmd_delete)
    p = cmds.add_parser("log", help="the audit log of a model: every registration, alias change and deletion")
    p.add_argument("name")
    p.add_argument("--alias", help="only this alias's changes")
    p.add_argument("--limit", type=int, default=50, help="the last N entries (default 50; 0: all)")
    _json_option(p)
    p.set_defaults(func=cmd_log)
    for p in cmds.choices.values():
        _registry_option(p)
    for name in ("predict", "score"):  # `workbench predict churn@champion ...`
        if name in sub.choices:
            _registry_option(sub.choices[name])
            for action in sub.choices[name]._actions:
                if action.dest == "model_dir":
                    action.help = "model folder, or a registry reference: NAME@ALIAS, NAME:VERSION, NAME (the newest)"


# ---------------------------------------------------------------------------------------- commands
def _registry(args: argparse.Namespace):
    from ..registry import ModelRegistry

    return ModelRegistry(args.registry)


def _json(obj: Any) -> None:
    from ..core.io import dumps

    print(dumps(obj))


def _table(rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def headline(metrics: dict[str, Any], limit: int = 2) -> str:
    """The card's main metric (``roc_auc=0.8431``), else its first numbers (nested ones as ``a.b``)."""
    if isinstance(metrics.get("metric"), str) and isinstance(metrics.get("test_score"), (int, float)):
        return f"{metrics['metric']}={fmt(metrics['test_score'])}"
    flat: list[str] = []

    def walk(prefix: str, d: dict[str, Any]) -> None:
        for k, v in d.items():
            if len(flat) >= limit:
                return
            if isinstance(v, dict):
                walk(f"{prefix}{k}.", v)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                flat.append(f"{prefix}{k}={fmt(v)}")

    walk("", metrics)
    return ", ".join(flat)


def _source(v) -> str:
    if v.source.get("run_id"):
        return f"run {v.source['run_id']}" + (f" ({v.source['notebook']})" if v.source.get("notebook") else "")
    return str(v.source.get("path", ""))


def cmd_register(args: argparse.Namespace) -> int:
    v = _registry(args).register(args.name, args.source, alias=args.alias, reports=args.reports)
    alias = f" @{args.alias}" if args.alias else ""
    print(f"registered {v.ref}{alias} ({v.card.get('kind')} {v.card.get('task')}, {headline(v.metrics) or 'no metrics'}) "
          f"from {_source(v)}")
    print(f"folder: {v.folder}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    reg = _registry(args)
    if args.name:
        versions = reg.versions(args.name)
        if args.json:
            _json({"name": args.name, "aliases": reg.aliases(args.name), "versions": [v.to_dict() for v in versions]})
        elif not versions:
            print(f"{args.name} has no versions (all were deleted)")
        else:
            rows: list[tuple] = [("VERSION", "CREATED", "USER", "MODEL", "ALIASES", "METRICS", "SOURCE")]
            rows += [(v.version, v.created[:19] + "Z", v.user, f"{v.card.get('kind')}/{v.card.get('name')}",
                      " ".join("@" + a for a in v.aliases), headline(v.metrics), _source(v)) for v in versions]
            _table(rows)
        return 0
    summary = []
    for name in reg.names():
        numbers = reg.version_numbers(name)
        summary.append({"name": name, "versions": len(numbers), "latest": numbers[-1] if numbers else None,
                        "aliases": reg.aliases(name)})
    if args.json:
        _json({"registry": str(reg.root), "models": summary})
    elif not summary:
        print(f"no models in {reg.root}; register one with `workbench models register NAME MODEL_FOLDER_OR_RUN_ID`")
    else:
        rows = [("NAME", "VERSIONS", "LATEST", "ALIASES")]
        rows += [(s["name"], s["versions"], s["latest"] or "", " ".join(f"@{a}={n}" for a, n in sorted(s["aliases"].items())))
                 for s in summary]
        _table(rows)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    v = _registry(args).resolve(args.ref)
    if args.json:
        _json(v.to_dict())
        return 0
    via = f" (@{v.via})" if v.via else ""
    card = v.card
    lines = [("model", f"{card.get('kind')} · {card.get('task')} · {card.get('flavor')} · {card.get('name')}"),
             ("classes", ", ".join(map(str, card.get("classes") or [])) or "-"),
             ("aliases", " ".join("@" + a for a in v.aliases) or "-"),
             ("created", f"{v.created} by {v.user}"), ("source", str(v.source.get("path", "")))]
    if v.source.get("run_id"):
        lines.append(("run", v.source["run_id"] + (f" ({v.source['notebook']})" if v.source.get("notebook") else "")))
    lines += [("metrics", headline(v.metrics, limit=4) or "-")]
    if v.run_metrics:
        lines.append(("run metrics", ", ".join(f"{k}={fmt(x)}" for k, x in list(v.run_metrics.items())[:6])))
    lines += [("files", ", ".join(sorted(v.files))), ("digest", v.digest), ("folder", str(v.folder))]
    print(f"{v.ref}{via}")
    for key, value in lines:
        print(f"  {key:<12}{value}")
    return 0


def _entry_line(e: dict[str, Any]) -> str:
    what = f"@{e['alias']}" if e.get("alias") else f"{e['name']}:{e.get('to') or e.get('from')}"
    return f"{e['action']} {what}: {e.get('from') if e.get('from') is not None else '-'} -> " \
           f"{e.get('to') if e.get('to') is not None else '-'}"


def cmd_alias(args: argparse.Namespace) -> int:
    from ..errors import WorkbenchError

    reg = _registry(args)
    if args.remove == (args.version is not None):
        raise WorkbenchError("give either a VERSION (a number, or @OTHER_ALIAS) or --remove "
                             f"(workbench models alias {args.name} {args.alias} 3)")
    entry = reg.remove_alias(args.name, args.alias) if args.remove else reg.set_alias(args.name, args.alias, args.version)
    print(f"{args.name}: {_entry_line(entry)}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    entry = _registry(args).rollback(args.name, args.alias)
    print(f"{args.name}: {_entry_line(entry)}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from ..errors import WorkbenchError
    from ..registry import parse_ref

    ref = parse_ref(args.ref)
    if ref.version is None:
        raise WorkbenchError(f"delete takes one version, NAME:VERSION (e.g. {ref.name}:1), got {args.ref!r}")
    _registry(args).delete(ref.name, ref.version)
    print(f"deleted {ref}")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    entries = _registry(args).history(args.name, args.alias)
    if args.limit > 0:
        entries = entries[-args.limit:]
    if args.json:
        _json(entries)
    elif not entries:
        print(f"no audit entries for {args.name}" + (f"@{args.alias}" if args.alias else ""))
    else:
        _table([("TIME", "USER", "ACTION", "ALIAS", "FROM", "TO")] +
               [(e["ts"], e["user"], e["action"], e.get("alias") or "", e.get("from") or "", e.get("to") or "")
                for e in entries])
    return 0
