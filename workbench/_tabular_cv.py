"""Cross-validated model comparison: all (model, fold) fits in parallel, one leaderboard.

Every fit is an independent task scheduled longest-first over the machine's cores (joblib/loky, one
thread per task, so CatBoost and OpenMP models do not oversubscribe). Each task returns its
out-of-fold probabilities; all metrics are computed from those once, so nothing is predicted twice.
The leaderboard is rewritten after each finished model, and a model that fails becomes an error row.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ._tabular_prep import METRICS, REGISTRY, TIMES, Metric, TabularTask, build_model, validate_models
from .errors import ModelError
from .runs import atomic_write_text


def cpu_count() -> int:
    """Cores this process may use (cgroup/affinity aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def score_proba(y_true: np.ndarray, proba: np.ndarray, classes: Sequence, threshold: float = 0.5
                ) -> dict[str, float]:
    """All leaderboard metrics from predicted probabilities (columns in ``classes`` order).

    Binary: the positive class is ``classes[-1]``; accuracy, F1, precision and recall at ``threshold``.
    Multiclass: one-vs-rest macro ROC-AUC and PR-AUC, macro F1/precision/recall, multiclass Brier.
    """
    from sklearn.metrics import (accuracy_score, average_precision_score, f1_score, log_loss,
                                 precision_score, recall_score, roc_auc_score)

    classes = list(classes)
    y_true = np.asarray(y_true)
    proba = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    onehot = (y_true[:, None] == np.asarray(classes, dtype=object)[None, :]).astype(float)
    if len(classes) == 2:
        y = onehot[:, 1].astype(int)
        p = proba[:, 1]
        pred = (p >= threshold).astype(int)
        both = len(np.unique(y)) == 2
        return {
            "roc_auc": roc_auc_score(y, p) if both else float("nan"),
            "pr_auc": average_precision_score(y, p) if both else float("nan"),
            "accuracy": accuracy_score(y, pred),
            "f1": f1_score(y, pred, zero_division=0),
            "precision": precision_score(y, pred, zero_division=0),
            "recall": recall_score(y, pred, zero_division=0),
            "log_loss": log_loss(y, p, labels=[0, 1]),
            "brier": float(np.mean((p - y) ** 2)),
        }
    pred = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
    present = onehot.sum(axis=0) > 0
    norm = proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-15, None)
    yi = np.argmax(onehot, axis=1)
    return {
        "roc_auc": roc_auc_score(yi, norm, multi_class="ovr", average="macro", labels=range(len(classes)))
        if present.all() else float("nan"),
        "pr_auc": float(np.mean([average_precision_score(onehot[:, k], proba[:, k])
                                 for k in range(len(classes)) if present[k]])),
        "accuracy": accuracy_score(y_true.astype(object), pred),
        "f1": f1_score(y_true.astype(object), pred, average="macro", labels=classes, zero_division=0),
        "precision": precision_score(y_true.astype(object), pred, average="macro", labels=classes, zero_division=0),
        "recall": recall_score(y_true.astype(object), pred, average="macro", labels=classes, zero_division=0),
        "log_loss": log_loss(yi, norm, labels=range(len(classes))),
        "brier": float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
    }


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
                           "description": REGISTRY[name].description}
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
    from joblib import Parallel, delayed

    names = validate_models(models) if models is not None else list(task.models)
    n_tasks = len(names) * len(task.folds)
    n_jobs = max(1, min(n_jobs or cpu_count(), n_tasks))
    # Longest tasks first, so the last core is not left waiting on one CatBoost fold.
    jobs = sorted([(n, k) for n in names for k in range(len(task.folds))], key=lambda t: -REGISTRY[t[0]].cost)
    path = Path(out_dir) / "leaderboard.csv" if out_dir is not None else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)

    def job(name: str, k: int):
        tr, va = task.folds[k]
        est = build_model(name, task.numeric, task.categorical, seed=task.seed, threads=1)
        return delayed(_fit_fold)(name, k, est, task.X_train.iloc[tr], task.y_train[tr], task.X_train.iloc[va],
                                  task.classes, 1)

    t0 = time.perf_counter()
    pending = {n: len(task.folds) for n in names}
    per_model: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    errors: dict[str, str] = {}
    oof = {n: np.full((len(task.y_train), len(task.classes)), np.nan) for n in names}
    records: list[dict[str, Any]] = []
    fold_rows: list[dict[str, Any]] = []
    if n_jobs == 1:
        results = (f(*a, **kw) for f, a, kw in (job(n, k) for n, k in jobs))
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator_unordered", backend=backend,
                           pre_dispatch="all")(job(n, k) for n, k in jobs)
    for res in results:
        name, k = res["model"], res["fold"]
        if res["error"]:
            errors.setdefault(name, f"fold {k + 1}: {res['error']}")
        else:
            va = task.folds[k][1]
            oof[name][va] = res["proba"]
            scores = score_proba(task.y_train[va], res["proba"], task.classes)
            scores.update(fit_time=res["fit_time"], predict_time=res["predict_time"])
            per_model[name].append(scores)
            fold_rows.append({"model": name, "fold": k + 1, **scores})
        pending[name] -= 1
        if pending[name] == 0:
            rec = _aggregate(name, per_model[name], errors.get(name))
            records.append(rec)
            if path is not None:
                atomic_write_text(path, _sorted_board(records, task.metric).to_csv())
            if verbose:
                m = task.metric.key
                what = (f"{task.metric.label} {rec[m + '_mean']:.4f} ± {rec[m + '_std']:.4f}"
                        if rec["status"] == "ok" else f"FAILED: {rec['error']}")
                print(f"[{time.perf_counter() - t0:6.1f} s] {name:<14} {what}", flush=True)
    board = _sorted_board(records, task.metric)
    folds = pd.DataFrame(fold_rows).sort_values(["model", "fold"]).reset_index(drop=True) if fold_rows else \
        pd.DataFrame(columns=["model", "fold"])
    if out_dir is not None:
        atomic_write_text(Path(out_dir) / "fold_scores.csv", folds.set_index(["model", "fold"]).to_csv())
    ok = board.index[board["status"] == "ok"]
    return Comparison(task=task, leaderboard=board, fold_scores=folds, oof={n: oof[n] for n in ok},
                      wall_time=time.perf_counter() - t0, n_jobs=n_jobs)
