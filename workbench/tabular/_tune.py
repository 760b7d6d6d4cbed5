"""Tuning: Optuna (TPE sampler, median pruning across folds) on the comparison's own CV folds.

Each trial fits its folds one after another and reports the running mean of the ranking metric after
each fold; the median pruner stops a trial whose running mean is worse than the median of earlier
trials at the same fold. Trials run in parallel threads (one thread per fit), for ``seconds`` per
model. The best trial becomes a leaderboard row of its own (``<model>_tuned``) with its out-of-fold
predictions, so it can win, be ensembled and be refit like any other row.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from ..core.parallel import cpu_count
from ._board import Candidate, Comparison, fold_scores
from ._fold import FoldData, fit_fold
from ._prep import set_final_params
from ._registry import REGISTRY, build_model


def tune_models(comparison: Comparison, top: int = 3, seconds: float = 30.0, *, n_jobs: int | None = None,
                verbose: bool = False, max_model_seconds: float | None = None) -> list[str]:
    """Tune the ``top`` best registry models that have a search space, ``seconds`` each; returns the rows added."""
    task = comparison.task
    names = [n for n in comparison.ok_models if comparison.candidate(n).kind == "model"
             and REGISTRY.get(comparison.candidate(n).base or n).space is not None][:top]
    if not names:
        comparison.notes.append("tuning: no successful model with a search space")
        return []
    data = FoldData(task)
    added = []
    for name in names:
        study, best = _study(comparison, name, seconds, data, n_jobs or cpu_count(), max_model_seconds)
        comparison.studies[f"{name}_tuned"] = study
        if best is None:
            comparison.notes.append(f"tuning {name}: no trial finished every fold in {seconds:g} s")
            continue
        params, oof, rows = best
        cand = Candidate(f"{name}_tuned", "tuned", base=name, params=params)
        comparison.add(cand, oof, rows)
        added.append(cand.name)
        if verbose:
            m, row = task.metric, comparison.leaderboard.loc[cand.name]
            print(f"{'':9}{cand.name:<18} {m.label} {row[m.key + '_mean']:.4f} ± {row[m.key + '_std']:.4f} "
                  f"({study['n_complete']} trials, {study['n_pruned']} pruned)", flush=True)
    return added


def _study(comparison: Comparison, name: str, seconds: float, data: FoldData, n_jobs: int,
           max_model_seconds: float | None) -> tuple[dict[str, Any], Any]:
    import optuna
    from threadpoolctl import threadpool_limits

    task = comparison.task
    metric = task.metric
    spec = REGISTRY.get(name)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if metric.greater_is_better else "minimize",
                                sampler=optuna.samplers.TPESampler(seed=task.seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1))
    results: dict[int, tuple[dict[str, Any], np.ndarray, list[dict[str, Any]]]] = {}

    def objective(trial: Any) -> float:
        params = spec.space(trial, task.kind)
        shape = (len(task.y_train),) if task.regression else (len(task.y_train), len(task.classes))
        oof, rows, t0 = np.full(shape, np.nan), [], time.perf_counter()
        for k, (tr, va) in enumerate(task.folds):
            est = set_final_params(build_model(name, task.numeric, task.categorical, seed=task.seed, threads=1,
                                               task=task.kind), params)
            est, X_tr, X_va = data.split(est, k)
            res = fit_fold(name, k, est, X_tr, task.y_train[tr], X_va, task.classes, task.regression,
                           task.class_weight)
            if res["error"]:
                raise ValueError(res["error"])
            oof[va] = res["pred"]
            rows.append({**fold_scores(task, task.y_train[va], res["pred"]), "fit_time": res["fit_time"],
                         "predict_time": res["predict_time"]})
            trial.report(float(np.mean([r[metric.key] for r in rows])), k)
            if trial.should_prune() or (max_model_seconds and time.perf_counter() - t0 > max_model_seconds):
                raise optuna.TrialPruned()
        results[trial.number] = (params, oof, rows)
        return float(np.mean([r[metric.key] for r in rows]))

    with threadpool_limits(1):
        study.optimize(objective, timeout=seconds, n_jobs=n_jobs, catch=(Exception,), gc_after_trial=False)
    trials = _trials_frame(study)
    out: dict[str, Any] = {"base": name, "trials": trials, "seconds": seconds, "metric": metric.key,
                           "n_complete": int((trials["state"] == "COMPLETE").sum()) if len(trials) else 0,
                           "n_pruned": int((trials["state"] == "PRUNED").sum()) if len(trials) else 0,
                           "untuned": float(comparison.leaderboard.loc[name, f"{metric.key}_mean"])}
    done = [t for t in study.trials if t.number in results and t.value is not None]
    if not done:
        return out, None
    best = max(done, key=lambda t: t.value if metric.greater_is_better else -t.value)
    out.update(best_value=float(best.value), best_params=_jsonable(results[best.number][0]), best_trial=best.number)
    return out, results[best.number]


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _trials_frame(study: Any) -> pd.DataFrame:
    rows = []
    for t in study.trials:
        dur = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start \
            else np.nan
        last = max(t.intermediate_values) + 1 if t.intermediate_values else 0
        rows.append({"trial": t.number, "state": t.state.name, "value": t.value, "folds": last, "seconds": dur,
                     **{f"param {k}": v for k, v in t.params.items()}})
    return pd.DataFrame(rows)
