"""Cross-validated model comparison: all (model, fold) fits in parallel, one leaderboard.

Every fit is an independent task scheduled longest-first over the machine's cores (joblib/loky, one
thread per task, so CatBoost and OpenMP models do not oversubscribe). Each task returns its
out-of-fold probabilities; all metrics are computed from those once, so nothing is predicted twice.
The leaderboard is rewritten after each finished model, and a model that fails becomes an error row.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.io import atomic_write_text
from ..core.parallel import cpu_count
from ..errors import ModelError
from ..evaluation import METRICS, Metric, classification_metrics
from ._models import REGISTRY, TIMES, build_model, validate_models
from ._task import TabularTask


def _fit_fold(name: str, fold: int, estimator: Any, X_tr: pd.DataFrame, y_tr: np.ndarray, X_va: pd.DataFrame,
              classes: list, threads: int) -> dict[str, Any]:
    """One (model, fold) fit in a worker: out-of-fold probabilities and timings, or the error."""
    import warnings

    from threadpoolctl import threadpool_limits

    out: dict[str, Any] = {"model": name, "fold": fold, "error": None}
    try:
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            t0 = time.perf_counter()
            estimator.fit(X_tr, y_tr)
            t1 = time.perf_counter()
            proba = estimator.predict_proba(X_va)
            t2 = time.perf_counter()
        order = [list(estimator.classes_).index(c) for c in classes]
        out.update(proba=np.asarray(proba, dtype=float)[:, order], fit_time=t1 - t0, predict_time=t2 - t1)
    except Exception as e:  # a failing model is a row in the leaderboard, not a lost comparison
        tb = traceback.format_exception_only(type(e), e)
        out["error"] = "".join(tb).strip().splitlines()[-1][:500]
    return out


@dataclass
class Comparison:
    """The outcome of :func:`compare_models`.

    Attributes
    ----------
    leaderboard : one row per model: ``<metric>_mean``/``<metric>_std`` columns, status and error,
        sorted by the ranking metric (errors last).
    fold_scores : one row per (model, fold).
    oof : out-of-fold probabilities on the train split per successful model (rows as ``task.X_train``).
    """

    task: TabularTask
    leaderboard: pd.DataFrame
    fold_scores: pd.DataFrame
    oof: dict[str, np.ndarray] = field(default_factory=dict)
    wall_time: float = 0.0
    n_jobs: int = 1

    @property
    def metric(self) -> Metric:
        return self.task.metric

    @property
    def ok_models(self) -> list[str]:
        return self.leaderboard.index[self.leaderboard["status"] == "ok"].tolist()

    @property
    def best(self) -> str:
        """The best successful model by the mean CV value of the ranking metric."""
        ok = self.ok_models
        if not ok:
            errors = "; ".join(f"{m}: {e}" for m, e in self.leaderboard["error"].items())
            raise ModelError(f"every model failed, so there is no best model ({errors}); fix: see the errors, "
                             "or try other models")
        return ok[0]

    def table(self) -> pd.DataFrame:
        """The leaderboard for display: ``mean ± std`` per metric, best first."""
        lb = self.leaderboard
        cols = {**{k: m.label for k, m in METRICS.items()}, **TIMES}
        out = pd.DataFrame(index=lb.index)
        for key, label in cols.items():
            digits = 2 if key in TIMES else 4
            out[label] = [f"{m:.{digits}f} ± {s:.{digits}f}" if np.isfinite(m) else ""
                          for m, s in zip(lb[f"{key}_mean"], lb[f"{key}_std"])]
        out["status"] = lb["status"]
        if (lb["status"] != "ok").any():
            out["error"] = lb["error"].fillna("")
        out.index.name = f"model (sorted by {self.metric.label})"
        return out


def _aggregate(name: str, rows: list[dict[str, Any]], error: str | None) -> dict[str, Any]:
    rec: dict[str, Any] = {"model": name, "status": "error" if error else "ok", "error": error,
                           "description": REGISTRY.get(name).description}
    for key in [*METRICS, *TIMES]:
        vals = np.array([r[key] for r in rows], dtype=float) if rows and not error else np.array([np.nan])
        rec[f"{key}_mean"] = float(np.mean(vals))
        rec[f"{key}_std"] = float(np.std(vals)) if len(vals) > 1 else 0.0
    return rec


def _sorted_board(records: list[dict[str, Any]], metric: Metric) -> pd.DataFrame:
    lb = pd.DataFrame(records).set_index("model")
    key = lb[f"{metric.key}_mean"] * (-1 if metric.greater_is_better else 1)
    lb = lb.assign(_err=lb["status"] != "ok", _key=key.fillna(np.inf)).sort_values(["_err", "_key"], kind="stable")
    return lb.drop(columns=["_err", "_key"])


def compare_models(task: TabularTask, models: Sequence[str] | None = None, *, n_jobs: int | None = None,
                   out_dir: str | Path | None = None, verbose: bool = True, backend: str = "loky") -> Comparison:
    """Stratified k-fold CV of each model on the train split; the leaderboard sorted by the task metric.

    Parameters
    ----------
    task : from :func:`prepare_task` (folds, seed and metric come from it).
    models : registry names; default: the task's models.
    n_jobs : parallel fits (default: all cores this process may use).
    out_dir : where ``leaderboard.csv`` is rewritten after each finished model (None: not written).
    verbose : print one line per finished model.
    backend : joblib backend for the parallel fits (``"loky"`` processes or ``"threading"``).
    """
    names = validate_models(models) if models is not None else list(task.models)
    n_jobs = max(1, min(n_jobs or cpu_count(), len(names) * len(task.folds)))
    path = Path(out_dir) / "leaderboard.csv" if out_dir is not None else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    board = _Board(task, names, path, t0 if verbose else None)
    for res in _fit_all(task, names, n_jobs, backend):
        board.add(res)
    lb = _sorted_board(board.records, task.metric)
    folds = pd.DataFrame(board.fold_rows).sort_values(["model", "fold"]).reset_index(drop=True) \
        if board.fold_rows else pd.DataFrame(columns=["model", "fold"])
    if out_dir is not None:
        atomic_write_text(Path(out_dir) / "fold_scores.csv", folds.set_index(["model", "fold"]).to_csv())
    ok = lb.index[lb["status"] == "ok"]
    return Comparison(task=task, leaderboard=lb, fold_scores=folds, oof={n: board.oof[n] for n in ok},
                      wall_time=time.perf_counter() - t0, n_jobs=n_jobs)


def _fit_all(task: TabularTask, names: list[str], n_jobs: int, backend: str):
    """Every (model, fold) fit, longest first so the last core is not left waiting on one CatBoost
    fold; results as they finish."""
    from joblib import Parallel, delayed

    jobs = sorted([(n, k) for n in names for k in range(len(task.folds))], key=lambda t: -REGISTRY.get(t[0]).cost)

    def job(name: str, k: int):
        tr, va = task.folds[k]
        est = build_model(name, task.numeric, task.categorical, seed=task.seed, threads=1)
        return delayed(_fit_fold)(name, k, est, task.X_train.iloc[tr], task.y_train[tr], task.X_train.iloc[va],
                                  task.classes, 1)

    if n_jobs == 1:
        return (f(*a, **kw) for f, a, kw in (job(n, k) for n, k in jobs))
    return Parallel(n_jobs=n_jobs, return_as="generator_unordered", backend=backend,
                    pre_dispatch="all")(job(n, k) for n, k in jobs)


class _Board:
    """Collects fold results; a model's row is written (and printed) as soon as its last fold ends."""

    def __init__(self, task: TabularTask, names: list[str], path: Path | None, t0: float | None):
        self.task, self.path, self.t0 = task, path, t0
        self.pending = {n: len(task.folds) for n in names}
        self.per_model: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        self.errors: dict[str, str] = {}
        self.oof = {n: np.full((len(task.y_train), len(task.classes)), np.nan) for n in names}
        self.records: list[dict[str, Any]] = []
        self.fold_rows: list[dict[str, Any]] = []

    def add(self, res: dict[str, Any]) -> None:
        task, name, k = self.task, res["model"], res["fold"]
        if res["error"]:
            self.errors.setdefault(name, f"fold {k + 1}: {res['error']}")
        else:
            va = task.folds[k][1]
            self.oof[name][va] = res["proba"]
            scores = classification_metrics(task.y_train[va], res["proba"], task.classes)
            scores.update(fit_time=res["fit_time"], predict_time=res["predict_time"])
            self.per_model[name].append(scores)
            self.fold_rows.append({"model": name, "fold": k + 1, **scores})
        self.pending[name] -= 1
        if self.pending[name] == 0:
            self._finish(name)

    def _finish(self, name: str) -> None:
        rec = _aggregate(name, self.per_model[name], self.errors.get(name))
        self.records.append(rec)
        if self.path is not None:
            atomic_write_text(self.path, _sorted_board(self.records, self.task.metric).to_csv())
        if self.t0 is not None:
            m = self.task.metric
            what = (f"{m.label} {rec[m.key + '_mean']:.4f} ± {rec[m.key + '_std']:.4f}"
                    if rec["status"] == "ok" else f"FAILED: {rec['error']}")
            print(f"[{time.perf_counter() - self.t0:6.1f} s] {name:<14} {what}", flush=True)
