"""Comparing recommenders like a paper: tune on validation, refit on train, evaluate on test.

For each model: every candidate of its grid is fitted on *fit* (train minus validation) and scored on
the validation users; the profile settings (recency, weight of disliked items) are tuned the same way;
the best settings are refit on the whole train split and evaluated once on the test users, ranking
every item they have not interacted with. The hybrid blends the tuned components (the collaborative
model with the best validation NDCG, content, popularity) with weights tuned on validation. The model
chosen for saving is the best by *validation* NDCG, so the test split only reports.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from ..core.parallel import cpu_count
from ..errors import ModelError
from ._base import MODELS, FitContext, Recommender, build
from ._hybrid import Hybrid, tune_blend
from ._metrics import exclude_seen, ndcg_at, user_metrics
from ._outcomes import Result, Tuned
from ._results import Comparison
from ._task import RecTask, Slice


def _val_score(model: Recommender, sl: Slice, task: RecTask) -> float:
    """Validation NDCG@k (ties go to items popular in *fit*: nothing from the validation period leaks)."""
    return ndcg_at(exclude_seen(model.score(sl.history), sl.history, task.fit_popularity), sl.targets, task.k)


def _tune_profile(model: Recommender, task: RecTask, trials: list[dict[str, Any]]) -> float:
    best, best_spec = -1.0, model.profile
    for spec in task.profile_grid():
        model.profile = spec
        score = _val_score(model, task.validation, task)
        trials.append({"model": model.key, **model.params, **spec.to_dict(), f"val_ndcg@{task.k}": score})
        if score > best + 1e-9:
            best, best_spec = score, spec
    model.profile = best_spec
    return best


def tune(name: str, task: RecTask, ctx: FitContext) -> Tuned:
    """Fit every grid candidate of ``name`` on *fit*, keep the best by validation NDCG@k (profiles tuned
    with the first candidate, then again with the winner)."""
    t0 = time.perf_counter()
    cls, trials = MODELS.get(name), []
    best_model = build(name, **cls.grid[0]).fit(task.fit, ctx)
    if cls.tune_profile:
        best = _tune_profile(best_model, task, trials)
    else:
        best = _val_score(best_model, task.validation, task)
        trials.append({"model": name, **best_model.params, f"val_ndcg@{task.k}": best})
    first, fitted = best_model, [best_model]
    for params in cls.grid[1:]:
        m = next((d for d in (f.derive(params) for f in fitted) if d is not None), None)
        if m is None:
            m = build(name, **params).fit(task.fit, ctx)
            fitted.append(m)
        m.profile = first.profile
        score = _val_score(m, task.validation, task)
        trials.append({"model": name, **m.params, **(m.profile.to_dict() if cls.tune_profile else {}),
                       f"val_ndcg@{task.k}": score})
        if score > best + 1e-9:
            best, best_model = score, m
        elif cls.ordered_grid:
            break
    if best_model is not first and cls.tune_profile:
        best = _tune_profile(best_model, task, trials)
    return Tuned(name, best_model, best, trials, time.perf_counter() - t0)


def _refit(tuned: Tuned, task: RecTask, ctx: FitContext) -> tuple[Recommender, float]:
    t0 = time.perf_counter()
    model = build(tuned.name, **tuned.model.params).fit(task.train, ctx)
    model.profile = tuned.model.profile
    return model, time.perf_counter() - t0


def evaluate(model: Recommender, task: RecTask) -> tuple[dict[str, np.ndarray], np.ndarray, dict, float]:
    """Per-user test metrics at k = 1..max_k, the top lists, the simulated cold-start slice's metrics at
    k, and milliseconds per user of batch scoring."""
    sl, pop = task.test, task.popularity
    t0 = time.perf_counter()
    scores = model.score(sl.history)
    ms = 1000 * (time.perf_counter() - t0) / max(1, sl.n)
    ks = range(1, task.max_k + 1)
    metrics, top = user_metrics(exclude_seen(scores, sl.history, pop), sl.targets, task.max_k, pop,
                                task.n_train_users, ks)
    slices = {}
    if task.simulated is not None:
        h = task.simulated.history
        m, _ = user_metrics(exclude_seen(model.score(h), h, pop), task.simulated.targets, task.k, pop,
                            task.n_train_users, [task.k])
        slices["simulated"] = m
    return metrics, top, slices, ms


def _hybrid(task: RecTask, tuned: dict[str, Tuned], final: dict[str, tuple[Recommender, float]],
            ctx: FitContext) -> tuple[Tuned, Recommender, float]:
    collab = [n for n in task.models if n in tuned and MODELS.get(n).collaborative]
    name = max(collab, key=lambda n: tuned[n].val_ndcg) if collab else "ease"
    for dep in (name, "content", "popularity"):
        if dep not in tuned:
            tuned[dep] = tune(dep, task, ctx)
        if dep not in final:
            final[dep] = _refit(tuned[dep], task, ctx)
    t0 = time.perf_counter()
    h = Hybrid(collaborative=name, cold_max=task.cold_start_max).set_components(
        {"collaborative": tuned[name].model, "content": tuned["content"].model, "popularity": tuned["popularity"].model})
    cold = None if task.val_cold is None else (task.val_cold.history, task.val_cold.targets)
    trials = [{"model": "hybrid", **t} for t in tune_blend(h, (task.validation.history, task.validation.targets),
                                                             cold)]
    val = _val_score(h, task.validation, task)
    out = Hybrid(collaborative=name, cold_max=task.cold_start_max).set_components(
        {"collaborative": final[name][0], "content": final["content"][0], "popularity": final["popularity"][0]})
    out.weights = {g: dict(w) for g, w in h.weights.items()}
    fit_time = sum(final[d][1] for d in (name, "content", "popularity"))
    return Tuned("hybrid", h, val, trials, time.perf_counter() - t0), out, fit_time


def _run_one(name: str, task: RecTask, ctx: FitContext, tuned: dict[str, Tuned],
             final: dict[str, tuple[Recommender, float]]) -> Result:
    if name == "hybrid":
        t, model, fit_time = _hybrid(task, tuned, final, ctx)
        tuned[name] = t
    else:
        t = tuned[name] = tune(name, task, ctx)
        final[name] = _refit(t, task, ctx)
        model, fit_time = final[name]
    metrics, top, slices, ms = evaluate(model, task)
    return Result(name, model, t.val_ndcg, metrics, top, slices, fit_time, t.seconds, ms)


def compare_models(task: RecTask, out_dir: str | Path | None = None, verbose: bool = True) -> Comparison:
    """Tune, refit and evaluate every model of ``task`` (see the module docstring).

    A model that fails becomes an error row; the others go on. With ``out_dir``, ``leaderboard.csv``
    is rewritten after each model, and ``cold_start.csv`` and ``validation_trials.csv`` are written at
    the end. Returns a :class:`~workbench.recsys.Comparison`.
    """
    t0 = time.perf_counter()
    try:  # top-k of large batches uses torch: import it here, not inside the first model's timing
        import torch  # noqa: F401
    except ImportError:  # pragma: no cover - torch is a dependency of workbench
        pass
    ctx = FitContext(item_text=task.data.item_text(), seed=task.seed, threads=cpu_count())
    tuned: dict[str, Tuned] = {}
    final: dict[str, tuple[Recommender, float]] = {}
    results: dict[str, Result] = {}
    errors: dict[str, str] = {}
    comparison = Comparison(task, results, errors, tuned)
    order = [m for m in task.models if m != "hybrid"] + (["hybrid"] if "hybrid" in task.models else [])
    for name in order:
        t1 = time.perf_counter()
        try:
            results[name] = _run_one(name, task, ctx, tuned, final)
        except Exception as e:  # one failing model must not lose the others
            errors[name] = f"{type(e).__name__}: {e}"
            if not isinstance(e, (ModelError, ValueError, MemoryError, np.linalg.LinAlgError)):
                errors[name] += " | " + traceback.format_exc(limit=-2).strip().replace("\n", " ")
        if verbose:
            status = (f"NDCG@{task.k} {results[name].metrics['ndcg'][:, task.k - 1].mean():.4f}"
                      if name in results else f"failed: {errors[name]}")
            print(f"{name:<11} {status} ({time.perf_counter() - t1:.1f} s)", flush=True)
        if out_dir is not None:
            comparison.leaderboard.to_csv(Path(out_dir) / "leaderboard.csv")
    comparison.wall_time = time.perf_counter() - t0
    if out_dir is not None and results:
        comparison.cold_start(numeric=True).to_csv(Path(out_dir) / "cold_start.csv")
        comparison.trials().to_csv(Path(out_dir) / "validation_trials.csv", index=False)
    return comparison

