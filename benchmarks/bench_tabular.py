"""Benchmark: workbench's model comparison vs a plain sequential scikit-learn baseline on Telco churn.

Both sides run the default model set (the same estimators from the registry, the same stratified folds
on the same train split, the same metrics), then refit the best model by mean CV ROC-AUC on the train
split, as PyCaret's compare_models does:

* A, workbench: ``tabular.compare_models`` (all (model, fold) fits in parallel on every core,
  longest first, metrics computed once from out-of-fold probabilities) + ``tabular.fit_best``.
* B, baseline: ``sklearn.model_selection.cross_validate`` per model, ``n_jobs=1``, one thread per
  model (CatBoost ``thread_count=1``, OpenMP limited to 1), the eight leaderboard metrics as
  scorers, then the same refit.

The sides alternate (A B A B ...); medians are quoted; ratio = baseline / workbench wall time. CPU
seconds (this process and its workers) are printed too: on a machine shared with other jobs (or with
Linux autogroup scheduling, where a session gets a fixed share however many processes it runs) the
wall-time gain of parallel fits shrinks, while the CPU work stays comparable.
PyCaret itself cannot be installed next to our pins, so it is not measured here.

    python benchmarks/bench_tabular.py [--repeat 3] [--folds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def baseline(task, models: list[str]) -> tuple[dict[str, float], str, float]:
    """Sequential ``cross_validate`` per model; returns mean CV ROC-AUC per model, the best, its test AUC."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_validate
    from threadpoolctl import threadpool_limits

    from workbench import tabular

    pos = task.classes[-1]
    y = (task.y_train == pos).astype(int)  # 0/1 labels, so the stock scorers apply
    scoring = ["roc_auc", "average_precision", "accuracy", "f1", "precision", "recall", "neg_log_loss",
               "neg_brier_score"]
    aucs = {}
    with threadpool_limits(1):
        for name in models:
            est = tabular.build_model(name, task.numeric, task.categorical, seed=task.seed, threads=1)
            res = cross_validate(est, task.X_train, y, cv=task.folds, scoring=scoring, n_jobs=1,
                                 error_score="raise")
            aucs[name] = float(np.mean(res["test_roc_auc"]))
        best = max(aucs, key=aucs.get)
        est = tabular.build_model(best, task.numeric, task.categorical, seed=task.seed, threads=1)
        est.fit(task.X_train, y)
    p = est.predict_proba(task.X_test)[:, 1]
    return aucs, best, float(roc_auc_score(task.y_test == pos, p))


def ours(task, models: list[str]) -> tuple[dict[str, float], str, float]:
    from workbench import tabular

    comp = tabular.compare_models(task, models, verbose=False)
    model = tabular.fit_best(task, comp)
    aucs = comp.leaderboard["roc_auc_mean"].to_dict()
    return aucs, model.name, float(model.meta["test_metrics"]["roc_auc"])


def cpu_seconds() -> float:
    """User + system CPU seconds of this process, its live workers and its reaped children."""
    import psutil

    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children(recursive=True):
        try:
            c = child.cpu_times()
            total += c.user + c.system
        except psutil.Error:  # exited in between
            pass
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per side, alternated (default 3)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--models", default=None, help="comma-separated registry names (default: the default set)")
    args = ap.parse_args(argv)

    import workbench
    from workbench import tabular
    from workbench.core.parallel import cpu_count

    models = tabular.validate_models(args.models) if args.models else list(tabular.DEFAULT_MODELS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        task = tabular.prepare_task(workbench.load_dataset("telco_churn"), "churn", positive_label="Yes",
                                    models=models, folds=args.folds, seed=0)
    print(f"telco_churn: {len(task.y_train)} train / {len(task.y_test)} test rows, {args.folds} folds, "
          f"models {', '.join(models)}, {cpu_count()} cores, repeat {args.repeat}", flush=True)
    times: dict[str, list[float]] = {"workbench": [], "baseline": []}
    cpus: dict[str, list[float]] = {"workbench": [], "baseline": []}
    results = {}
    warnings.simplefilter("ignore")
    for i in range(args.repeat):
        for side, fn in (("workbench", ours), ("baseline", baseline)):
            c0, t0 = cpu_seconds(), time.perf_counter()
            results[side] = fn(task, models)
            times[side].append(time.perf_counter() - t0)
            cpus[side].append(cpu_seconds() - c0)
            print(f"  run {i + 1} {side:<9} {times[side][-1]:7.1f} s wall, {cpus[side][-1]:6.1f} s CPU, "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    print(f"\nmedian wall time: workbench {med['workbench']:.1f} s, baseline {med['baseline']:.1f} s "
          f"-> ratio {med['baseline'] / med['workbench']:.2f}x")
    print(f"median CPU time:  workbench {cpu['workbench']:.1f} s, baseline {cpu['baseline']:.1f} s "
          f"-> ratio {cpu['baseline'] / cpu['workbench']:.2f}x")
    print(f"{'model':<14} {'CV ROC-AUC workbench':>21} {'baseline':>9}")
    for m in models:
        print(f"{m:<14} {results['workbench'][0][m]:21.4f} {results['baseline'][0][m]:9.4f}")
    for side in ("workbench", "baseline"):
        _, best, auc = results[side]
        print(f"best ({side}): {best}, held-out test ROC-AUC {auc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
