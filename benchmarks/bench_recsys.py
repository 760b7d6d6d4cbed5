"""Benchmark: workbench's recommenders against the ``implicit`` package's ALS on the same MovieLens split.

    .venv/bin/python benchmarks/bench_recsys.py              # 3 alternating rounds
    .venv/bin/python benchmarks/bench_recsys.py --repeat 5 --factors 64

Both sides see the same data: the default temporal split of the recommend notebook (each user's latest
20% of ratings held out; relevant = rating >= 4), the same binary train matrix, and the same evaluation
(NDCG@10 over every item a user has not rated, no sampled negatives; one code path for all sides).

* baseline, ``implicit`` ALS: ``AlternatingLeastSquares`` on every core, twice: with the settings
  workbench's ``als`` chose on validation (the ratios are against this one) and with implicit's own
  defaults (100 factors, regularization 0.01, alpha 1, 15 iterations; ``--factors`` etc. to change);
  the top-10 of every test user from ``model.recommend(..., filter_already_liked_items=True)``.
* workbench ``ease`` and ``hybrid`` (and its ``als`` wrapper, for reference): settings tuned once on
  the validation split, as the notebook does (not timed); each round then fits on the train split and
  ranks all items for every test user.

Per side: fit seconds, seconds to rank all test users, NDCG@10, and one user's top-10 latency (median
over 200 users; workbench from the saved and loaded model folder, implicit from the fitted model).
The sides alternate (A B C ... A B C ...), medians are quoted, ratios are against implicit ALS.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def implicit_side(task, params):
    """Fit implicit's ALS with ``params``; returns (fit s, rank s, top-10 of every test user, one-user ms)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    X = task.train.matrix().tocsr()
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AlternatingLeastSquares(**params, random_state=0)
        t0 = time.perf_counter()
        model.fit(X, show_progress=False)
        fit = time.perf_counter() - t0
        users = task.test.targets.users
        t0 = time.perf_counter()
        ids, _ = model.recommend(users, X[users], N=10, filter_already_liked_items=True)
        rank = time.perf_counter() - t0
        lat = []
        for u in users[:200]:
            t1 = time.perf_counter()
            model.recommend(int(u), X[int(u)], N=10, filter_already_liked_items=True)
            lat.append(1000 * (time.perf_counter() - t1))
    return fit, rank, np.asarray(ids), float(np.median(lat))


def _refit(tuned, task, ctx):
    from workbench.recsys._base import build

    model = build(tuned.name, **tuned.model.params).fit(task.train, ctx)
    model.profile = tuned.model.profile
    return model


def workbench_side(name, tuned, task, ctx):
    """Refit ``name`` with its tuned settings on train; rank every test user; save, load, time one user."""
    import workbench
    from workbench import recsys
    from workbench.recsys._hybrid import Hybrid
    from workbench.recsys._metrics import exclude_seen, top_k
    from workbench.recsys._saved import save_model

    t0 = time.perf_counter()
    if name == "hybrid":
        model = Hybrid(collaborative="ease").set_components(
            {"collaborative": _refit(tuned["ease"], task, ctx), "content": _refit(tuned["content"], task, ctx),
             "popularity": _refit(tuned["popularity"], task, ctx)})
        model.weights = tuned["hybrid"].model.weights
    else:
        model = _refit(tuned[name], task, ctx)
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    h = task.test.history
    top = top_k(exclude_seen(model.score(h), h, task.popularity), 10)
    rank = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        save_model(model, task, d)
        predictor = workbench.load_model(d)
        lat = recsys.latency_ms(predictor, task.data.user_ids[task.test.targets.users[:200]].tolist())["median_ms"]
    return fit, rank, top, lat


def tune_hybrid(tuned, task):
    """The hybrid's blend weights on validation, from the tuned (validation-fitted) components."""
    from workbench.recsys._hybrid import Hybrid, tune_blend
    from workbench.recsys._outcomes import Tuned

    h = Hybrid(collaborative="ease", cold_max=task.cold_start_max).set_components(
        {"collaborative": tuned["ease"].model, "content": tuned["content"].model,
         "popularity": tuned["popularity"].model})
    tune_blend(h, (task.validation.history, task.validation.targets),
                      (task.val_cold.history, task.val_cold.targets) if task.val_cold is not None else None)
    return Tuned("hybrid", h, 0.0, [], 0.0)


def ndcg(top: np.ndarray, task) -> float:
    from workbench.recsys._metrics import user_metrics

    n_items = task.data.n_items
    scores = np.full((len(top), n_items), -np.inf)
    np.put_along_axis(scores, top, np.arange(top.shape[1], 0, -1, dtype=float)[None, :], axis=1)
    m, _ = user_metrics(scores, task.test.targets, 10, task.popularity, task.n_train_users, [10])
    return float(m["ndcg"][:, 0].mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="rounds per side, alternated (default 5)")
    ap.add_argument("--factors", type=int, default=100, help="implicit ALS factors (its default: 100)")
    ap.add_argument("--regularization", type=float, default=0.01)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--iterations", type=int, default=15)
    args = ap.parse_args(argv)

    import workbench
    from workbench import recsys
    from workbench.core.parallel import cpu_count
    from workbench.recsys._base import FitContext
    from workbench.recsys._compare import tune

    warnings.simplefilter("ignore")
    data = recsys.prepare_interactions(workbench.load_dataset("movielens"), "userId", "movieId", "rating",
                                       "timestamp", item_text_cols=["title", "genres"])
    task = recsys.prepare_task(data, ["als", "ease", "content", "popularity", "hybrid"])
    ctx = FitContext(item_text=data.item_text(), seed=0, threads=cpu_count())
    print(f"movielens: {len(task.train.items):,} train / {task.n_test:,} test interactions, {task.test.n} evaluated "
          f"users, {data.n_items:,} items; {cpu_count()} cores; repeat {args.repeat}, alternating", flush=True)
    t0 = time.perf_counter()
    tuned = {n: tune(n, task, ctx) for n in ("als", "ease", "content", "popularity")}
    tuned["hybrid"] = tune_hybrid(tuned, task)
    print(f"workbench settings tuned once on validation ({time.perf_counter() - t0:.1f} s, not timed below): "
          + "; ".join(f"{n}: {t.model.settings()}" for n, t in tuned.items() if n in ("als", "ease")), flush=True)

    defaults = dict(factors=args.factors, regularization=args.regularization, alpha=args.alpha,
                    iterations=args.iterations)
    als = tuned["als"].model.params
    baselines = {"implicit ALS": {k: als[k] for k in ("factors", "regularization", "alpha", "iterations")},
                 "implicit defaults": defaults}
    sides = [*baselines, "workbench ease", "workbench hybrid", "workbench als"]
    runs: dict[str, list] = {s: [] for s in sides}
    for r in range(args.repeat):
        for side in sides:
            out = (implicit_side(task, baselines[side]) if side in baselines
                   else workbench_side(side.split()[1], tuned, task, ctx))
            runs[side].append(out)
            print(f"  round {r + 1} {side:<17} fit {out[0]:6.2f} s  rank {out[1]:5.2f} s  NDCG@10 "
                  f"{ndcg(out[2], task):.4f}  one user {out[3]:.2f} ms", flush=True)
    base = {i: statistics.median(o[i] for o in runs["implicit ALS"]) for i in (0, 1, 3)}
    base_ndcg = ndcg(runs["implicit ALS"][0][2], task)
    print(f"\n{'side':<18} {'NDCG@10':>8} {'fit (s)':>8} {'rank all (s)':>13} {'one user (ms)':>14}   "
          f"vs implicit ALS: NDCG, fit time, one-user time")
    for side in sides:
        med = {i: statistics.median(o[i] for o in runs[side]) for i in (0, 1, 3)}
        nd = ndcg(runs[side][0][2], task)
        print(f"{side:<18} {nd:8.4f} {med[0]:8.2f} {med[1]:13.2f} {med[3]:14.2f}   "
              f"{nd / base_ndcg:5.2f}x {med[0] / base[0]:6.2f}x {med[3] / base[3]:6.2f}x")
    print(f"(implicit ALS: {baselines['implicit ALS']}; implicit defaults: {defaults}; medians of {args.repeat} "
          "rounds; one user: the median over 200 users of one top-10 request)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
