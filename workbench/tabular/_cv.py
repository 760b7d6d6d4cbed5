"""Cross-validated model comparison: every (model, fold) fit in parallel, one leaderboard.

Fits are independent tasks, fold by fold (the first folds of every model first, the costliest model
first within a fold), over the machine's cores (one thread each, so CatBoost and OpenMP models do not
oversubscribe): in threads of this process by default (every model's fit releases the GIL in its
compiled core, and no worker interpreter has to start, import scikit-learn and CatBoost and receive the
fold data: a quarter less CPU on Ames), in worker processes when a time guard is set (a process can be
killed). Each task returns its out-of-fold predictions; all metrics are computed from those once, so
nothing is predicted twice. Preprocessing is computed once per fold and shared (:class:`~._fold.FoldData`).
Two guards keep a comparison bounded:

* **time guard** (``max_model_seconds``): a model whose fits would exceed the budget (measured, or
  projected from its finished folds) is stopped — its worker is killed if need be — and shown as
  ``stopped``; the run never hangs on one model.
* **racing** (``race=True``): once a model has finished at least half of the folds (two of three or
  four), it is dropped (``raced``) when it lost on every one of those folds, by a paired margin of more
  than 2.5 standard errors, to as many other models as the later steps need from the top (1; 3 with
  ensembles; ``tune_top``): it cannot become the leader or an ensemble member, and its remaining folds
  are not fitted.
"""

from __future__ import annotations

import math
import time
from collections import deque
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.io import atomic_write_text
from ..core.parallel import cpu_count
from ..errors import ModelError
from ._board import Candidate, Comparison, aggregate, fold_scores, sorted_board
from ._fold import FoldData, fit_fold, warm_up
from ._prep import weighting
from ._registry import REGISTRY, build_model, validate_models
from ._task import TabularTask

RACE_Z = 2.5


def compare_models(task: TabularTask, models: Sequence[str] | None = None, *, n_jobs: int | None = None,
                   out_dir: str | Path | None = None, verbose: bool = True, backend: str = "auto",
                   max_model_seconds: float | None = None, race: bool = True, tune_top: int = 0,
                   tune_seconds: float = 30.0, ensemble: bool = True) -> Comparison:
    """CV of each model on the train split, the same folds for all; the leaderboard sorted by the task metric.

    Parameters
    ----------
    task : from :func:`prepare_task` (folds, seed, metric and class weights come from it).
    models : registry names or presets; default: the task's models.
    n_jobs : parallel fits (default: all cores this process may use).
    out_dir : where ``leaderboard.csv`` is rewritten after each finished model (None: not written).
    verbose : print one line per finished model.
    backend : ``"auto"`` (threads, or worker processes with ``max_model_seconds``), ``"threading"`` or
        ``"loky"`` (worker processes; the time guard can kill a fit; threads are only abandoned).
    max_model_seconds : budget of fit + predict seconds per model over all its folds (None or 0: no limit).
    race : drop models early that cannot reach the leader (see the module notes).
    tune_top : tune the best N models with Optuna (see :func:`tune_models`), each a row of its own.
    tune_seconds : seconds of tuning per model.
    ensemble : add soft voting and stacking of the top 3 (see :func:`add_ensembles`) when >= 3 models succeed.
    """
    names = validate_models(models, task=task.kind) if models is not None else list(task.models)
    _check_budget(max_model_seconds, tune_top, tune_seconds)
    n_jobs = max(1, min(n_jobs or cpu_count(), len(names) * len(task.folds)))
    path = Path(out_dir) / "leaderboard.csv" if out_dir is not None else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    keep = max(1, int(tune_top), 3 if ensemble else 1)  # racing never drops a model that could reach the top `keep`
    board = _Board(task, names, path, t0 if verbose else None, max_model_seconds, race, keep)
    _Scheduler(task, board, n_jobs, backend).run()
    comp = board.comparison(n_jobs)
    if tune_top:
        from ._tune import tune_models

        tune_models(comp, top=tune_top, seconds=tune_seconds, verbose=verbose, max_model_seconds=max_model_seconds)
    if ensemble:
        from ._ensemble import add_ensembles

        add_ensembles(comp, verbose=verbose)
    comp.wall_time = time.perf_counter() - t0
    if out_dir is not None:
        atomic_write_text(Path(out_dir) / "leaderboard.csv", comp.leaderboard.to_csv())
        atomic_write_text(Path(out_dir) / "fold_scores.csv", comp.fold_scores.set_index(["model", "fold"]).to_csv())
    return comp


def _check_budget(max_model_seconds: Any, tune_top: Any, tune_seconds: Any) -> None:
    if max_model_seconds is not None and (isinstance(max_model_seconds, bool) or
                                          not isinstance(max_model_seconds, (int, float)) or max_model_seconds < 0):
        raise ModelError(f"max_model_seconds must be a positive number of seconds, or 0/None for no limit "
                         f"(max_model_seconds={max_model_seconds!r}); e.g. max_model_seconds=300")
    if isinstance(tune_top, bool) or not isinstance(tune_top, (int, np.integer)) or tune_top < 0:
        raise ModelError(f"tune_top must be an integer >= 0, 0 for no tuning (tune_top={tune_top!r}); e.g. tune_top=3")
    if tune_top and (not isinstance(tune_seconds, (int, float)) or isinstance(tune_seconds, bool) or tune_seconds <= 0):
        raise ModelError(f"tune_seconds must be a positive number (tune_seconds={tune_seconds!r}); e.g. tune_seconds=30")
    if tune_top:
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise ModelError("tune_top needs Optuna, which is not installed; fix: pip install optuna") from None


class _Scheduler:
    """Submits (model, fold) fits to workers, collects results, enforces the time guard."""

    def __init__(self, task: TabularTask, board: "_Board", n_jobs: int, backend: str):
        if backend not in ("auto", "loky", "threading"):
            raise ModelError(f"backend must be 'auto', 'loky' or 'threading', got {backend!r}")
        if backend == "auto":
            backend = "threading" if board.budget is None else "loky"
        self.task, self.board, self.n_jobs, self.backend = task, board, n_jobs, backend
        order = sorted(((k, n) for n in board.names for k in range(len(task.folds))),
                       key=lambda t: (t[0], -REGISTRY.get(t[1]).cost))
        self.pending = deque((n, k) for k, n in order)
        self.data = FoldData(task)

    def _args(self, name: str, k: int) -> tuple:
        task = self.task
        est = build_model(name, task.numeric, task.categorical, seed=task.seed, threads=1, task=task.kind)
        est, X_tr, X_va = self.data.split(est, k)
        tr, va = task.folds[k]
        return (name, k, est, X_tr, task.y_train[tr], X_va, task.classes, task.regression, task.class_weight, 1,
                task.y_train[va])

    def run(self) -> None:
        if self.n_jobs == 1 and self.board.budget is None:
            while self.pending:
                name, k = self.pending.popleft()
                if not self.board.skip(name):
                    self.board.add(fit_fold(*self._args(name, k)))
            return
        if self.backend != "threading":
            return self._run_pool()
        import warnings

        from threadpoolctl import threadpool_limits

        # warning filters and BLAS limits are process-wide: set once here, so the fits' own (nested, same
        # values) settings cannot leave them changed when threads enter and leave them interleaved
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            self._run_pool()

    def _executor(self, fresh: bool = False):
        if self.backend == "threading":
            from concurrent.futures import ThreadPoolExecutor

            return ThreadPoolExecutor(self.n_jobs)
        from concurrent.futures import wait

        from joblib.externals.loky import get_reusable_executor

        pool = get_reusable_executor(max_workers=self.n_jobs, kill_workers=fresh, reuse=not fresh)
        if self.board.budget is not None:  # start and import in every worker first: the guard times fits only
            wait([pool.submit(warm_up) for _ in range(self.n_jobs)])
        return pool

    def _run_pool(self) -> None:
        """Keep two fits per worker submitted (no worker waits on the parent); the first ``n_jobs`` in
        submission order are the running ones, timed by the guard."""
        from concurrent.futures import FIRST_COMPLETED, wait

        pool = self._executor()
        running: dict[Any, list] = {}  # future -> [name, fold, start time once among the first n_jobs]
        try:
            while self.pending or running:
                while len(running) < 2 * self.n_jobs and self.pending:
                    name, k = self.pending.popleft()
                    if not self.board.skip(name):
                        running[pool.submit(fit_fold, *self._args(name, k))] = [name, k, None]
                self._started(running)
                done, _ = wait(list(running), timeout=0.25, return_when=FIRST_COMPLETED)
                for fut in done:
                    name, k, _ = running.pop(fut)
                    self.board.add(self._result(fut, name, k))
                for fut in [f for f, (n, _, t) in running.items() if t is None and self.board.dead(n)]:
                    if fut.cancel():  # a queued fit of a model raced out or stopped meanwhile
                        self.board.skip(running.pop(fut)[0])
                self._started(running)
                now = time.perf_counter()
                over = self.board.over_budget({f: (n, now - t) for f, (n, _, t) in running.items() if t is not None})
                if over:
                    pool = self._stop(pool, running, over)
        finally:
            if self.backend == "threading":
                pool.shutdown(wait=False, cancel_futures=True)

    def _started(self, running: dict[Any, list]) -> None:
        now = time.perf_counter()
        for entry in list(running.values())[: self.n_jobs]:
            if entry[2] is None:
                entry[2] = now

    def _result(self, fut: Any, name: str, k: int) -> dict[str, Any]:
        try:
            return fut.result()
        except Exception as e:  # the worker died (out of memory, killed): an error row
            return {"model": name, "fold": k, "error": f"worker failed: {type(e).__name__}: {e}"[:500]}

    def _stop(self, pool: Any, running: dict[Any, list], over: dict[str, str]):
        """Stop the models in ``over``; on loky, kill the workers and resubmit the other running fits."""
        for name, why in over.items():
            self.board.stop(name, why)
        for fut in [f for f, (n, _, _) in running.items() if n in over]:
            self.board.skip(running.pop(fut)[0])  # threads cannot be killed: their results are ignored
        if self.backend == "threading":
            return pool
        requeue = [(n, k) for n, k, _ in running.values()]
        running.clear()
        pool.shutdown(wait=False, kill_workers=True)
        self.pending.extendleft(reversed(requeue))
        return self._executor(fresh=True)


class _Board:
    """Collects fold results; a model's row is written (and printed) as soon as its last fold ends."""

    def __init__(self, task: TabularTask, names: list[str], path: Path | None, t0: float | None,
                 budget: float | None, race: bool, keep: int = 1):
        self.task, self.names, self.path, self.t0, self.keep = task, names, path, t0, keep
        self.budget = float(budget) if budget else None
        self.race = race and len(task.folds) >= 3
        n = len(task.folds)
        self.pending = {m: n for m in names}
        self.scores: dict[str, dict[int, dict[str, Any]]] = {m: {} for m in names}
        self.spent = {m: 0.0 for m in names}
        self.errors: dict[str, str] = {}
        self.stopped: dict[str, tuple[str, str]] = {}
        shape = (len(task.y_train),) if task.regression else (len(task.y_train), len(task.classes))
        self.oof = {m: np.full(shape, np.nan) for m in names}
        self.records: list[dict[str, Any]] = []

    def dead(self, name: str) -> bool:
        """Whether ``name`` failed or was stopped (its remaining fits are not needed)."""
        return name in self.errors or name in self.stopped

    def skip(self, name: str) -> bool:
        """Whether ``name``'s remaining folds are not to be fitted (failed, stopped or raced out)."""
        if name in self.errors or name in self.stopped:
            self._done(name)
            return True
        return False

    def add(self, res: dict[str, Any]) -> None:
        task, name, k = self.task, res["model"], res["fold"]
        if name in self.stopped:
            return self._done(name)
        if res["error"]:
            self.errors.setdefault(name, f"fold {k + 1}: {res['error']}")
        else:
            va = task.folds[k][1]
            self.oof[name][va] = res["pred"]
            scores = res.get("scores") or fold_scores(task, task.y_train[va], res["pred"])
            scores.update(fit_time=res["fit_time"], predict_time=res["predict_time"])
            self.scores[name][k] = scores
            self.spent[name] += res["fit_time"] + res["predict_time"]
            self._guard(name)
            if self.race:
                self._race()
        self._done(name)

    def _done(self, name: str) -> None:
        self.pending[name] -= 1
        if self.pending[name] == 0:
            self._finish(name)

    def _guard(self, name: str) -> None:
        """Stop a model whose finished folds project past the budget."""
        done = len(self.scores[name])
        n = len(self.task.folds)
        if self.budget is None or done == n:
            return
        projected = self.spent[name] / done * n
        if projected > self.budget:
            self.stop(name, f"stopped by the time guard: {done} fold(s) took {self.spent[name]:.1f} s, {n} folds would "
                            f"take about {projected:.0f} s > max_model_seconds={self.budget:g}")

    def over_budget(self, running: dict[Any, tuple[str, float]]) -> dict[str, str]:
        """Models whose finished plus running fits already exceed the budget."""
        if self.budget is None:
            return {}
        now: dict[str, float] = {}
        for name, elapsed in running.values():
            now[name] = now.get(name, 0.0) + elapsed
        return {name: f"stopped by the time guard: over max_model_seconds={self.budget:g} "
                      f"({self.spent[name] + t:.0f} s with {len(self.scores[name])} fold(s) finished)"
                for name, t in now.items() if self.spent[name] + t > self.budget and name not in self.stopped}

    def stop(self, name: str, why: str, status: str = "stopped") -> None:
        if name not in self.stopped and name not in self.errors:
            self.stopped[name] = (status, why)

    def _race(self) -> None:
        m = self.task.metric
        sign = 1.0 if m.greater_is_better else -1.0
        n = len(self.task.folds)
        need = max(2, math.ceil(n / 2))
        live = [x for x in self.names if x not in self.errors and x not in self.stopped]
        for cand in live:
            folds = set(self.scores[cand])
            if len(folds) < need or len(folds) == n:
                continue
            ahead = []
            for other in live:
                if other == cand or not folds <= set(self.scores[other]):
                    continue
                d = np.array([sign * (self.scores[cand][k][m.key] - self.scores[other][k][m.key]) for k in folds])
                se = d.std(ddof=1) / math.sqrt(len(d))
                if np.isfinite(d).all() and (d < 0).all() and d.mean() + RACE_Z * se < 0:
                    ahead.append((other, d.mean() * sign, se))
            if len(ahead) >= self.keep:
                other, diff, se = ahead[0]
                top = "the leader" if self.keep == 1 else f"the top {self.keep}"
                self.stop(cand, f"raced out after {len(folds)} of {n} folds: behind {len(ahead)} model(s) on every one "
                                f"of them (vs {other}: {m.label} {diff:+.4f} ± {se:.4f} paired); cannot reach {top}",
                          status="raced")

    def _finish(self, name: str) -> None:
        rows = [self.scores[name][k] for k in sorted(self.scores[name])]
        if name in self.errors:
            status, note = "error", self.errors[name]
        elif name in self.stopped:
            status, note = self.stopped[name]
        else:
            status, note = "ok", None
        rec = aggregate(self.task, Candidate(name=name, base=name), rows if status != "error" else [], status, note)
        if self.task.class_weight != "none":
            est = build_model(name, self.task.numeric, self.task.categorical, task=self.task.kind)
            rec["class_weight"] = weighting(est, self.task.class_weight)
        self.records.append(rec)
        if self.path is not None:
            atomic_write_text(self.path, sorted_board(self.records, self.task.metric).to_csv())
        if self.t0 is not None:
            m = self.task.metric
            what = (f"{m.label} {rec[m.key + '_mean']:.4f} ± {rec[m.key + '_std']:.4f}" if status == "ok"
                    else f"{status.upper()}: {note}")
            print(f"[{time.perf_counter() - self.t0:6.1f} s] {name:<18} {what}", flush=True)

    def comparison(self, n_jobs: int) -> Comparison:
        lb = sorted_board(self.records, self.task.metric)
        rows = [{"model": n, "fold": k + 1, **s} for n in self.names for k, s in sorted(self.scores[n].items())
                if n not in self.errors]
        folds = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["model", "fold"])
        ok = lb.index[lb["status"] == "ok"]
        return Comparison(task=self.task, leaderboard=lb, fold_scores=folds, oof={n: self.oof[n] for n in ok},
                          n_jobs=n_jobs, candidates={n: Candidate(name=n, base=n) for n in self.names})
