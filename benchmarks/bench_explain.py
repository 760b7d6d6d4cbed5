"""Benchmark: SHAP explanations of the 1,409 Telco test rows (the compare notebook's split) with CatBoost,
logistic regression and their soft voting with hist_gb, against predicting the same rows.

    .venv/bin/python benchmarks/bench_explain.py            # 7 alternating rounds
    .venv/bin/python benchmarks/bench_explain.py --quick    # 3 rounds

Both models are fitted by workbench (``compare_models`` on 2 folds, ``fit_best``), saved through the contract and
loaded back (``models.load``), as ``workbench predict --explain`` and ``serve`` use them. Per round, per model,
alternating the order (A B B A ...): the wall time of ``explainer.explain(X_test)`` (all 1,409 rows, every input
column) and of ``predict(X_test)``. Medians, the explain/predict ratio, and the goals (issue 26: CatBoost <= 2 s,
logistic regression <= 0.2 s), with the load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOALS = {"catboost": 2.0, "logreg": 0.2, "voting": None}
"""Seconds per model (None: no goal; ``voting``, the demo's usual winner, soft voting of logreg, hist_gb and
CatBoost, explained as its members)."""
MEMBERS = {"voting": ["logreg", "hist_gb", "catboost"]}


def fitted(work: Path) -> tuple[dict, object]:
    sys.path.insert(0, str(REPO))
    import workbench
    from workbench import tabular
    from workbench.models import load
    from workbench.tabular._persist import save_model

    ds = workbench.load_dataset("telco_churn")
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in GOALS:
            task = tabular.prepare_task(ds, "churn", positive_label="Yes", models=MEMBERS.get(name, [name]), folds=2)
            comparison = tabular.compare_models(task, n_jobs=1, verbose=False, ensemble=name in MEMBERS)
            best = tabular.fit_best(task, comparison, name if name in MEMBERS else None)
            out[name] = load(save_model(best.model, work / name))
    return out, task.X_test


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="3 rounds")
    args = ap.parse_args()
    rounds = 3 if args.quick else args.rounds
    work = Path(tempfile.mkdtemp(prefix="bench-explain-"))
    try:
        predictors, X = fitted(work)
        for p in predictors.values():  # warm-up: imports, the background's mean, CatBoost's first call
            p.explainer.explain(X.iloc[:50])
            p.predict(X.iloc[:50])
        times: dict[tuple[str, str], list[float]] = {}
        loads = []
        for rnd in range(rounds):
            for name in (list(predictors) if rnd % 2 == 0 else list(predictors)[::-1]):
                p = predictors[name]
                sides = [("explain", lambda p=p: p.explainer.explain(X)), ("predict", lambda p=p: p.predict(X))]
                for side, fn in (sides if rnd % 2 == 0 else sides[::-1]):
                    t0 = time.perf_counter()
                    fn()
                    times.setdefault((name, side), []).append(time.perf_counter() - t0)
            loads.append(os.getloadavg()[0])
            print(f"round {rnd + 1}: " + ", ".join(f"{n} {s} {v[-1]:.3f} s" for (n, s), v in times.items()), flush=True)
        print(f"\n{len(X):,} Telco test rows, medians over {rounds} rounds; load average {min(loads):.2f}-{max(loads):.2f} "
              f"on {os.cpu_count()} CPUs")
        for name, goal in GOALS.items():
            e, p = statistics.median(times[(name, "explain")]), statistics.median(times[(name, "predict")])
            ratios = [a / b for a, b in zip(times[(name, "explain")], times[(name, "predict")])]
            said = "no goal" if goal is None else f"goal <= {goal} s: {'met' if e <= goal else 'MISSED'}"
            print(f"{name:9} explain {e:.3f} s ({said}), predict {p:.3f} s, "
                  f"explain/predict {statistics.median(ratios):.1f}x; method: {predictors[name].explainer.method}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
