"""Ensembles of the top models from their out-of-fold predictions: soft voting and stacking.

Both are scored on the same folds as every other row without refitting anything: voting averages the
members' out-of-fold predictions; stacking's meta-model (logistic regression on the members' logits,
or non-negative least squares on their predictions for a regression) is itself cross-validated on the
same folds — fitted on the other folds' out-of-fold predictions, scored on the held-out fold. The final
ensemble refits its members on the whole train split and uses the meta-model fitted on all out-of-fold
predictions (as scikit-learn's ``StackingClassifier`` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from ._board import Candidate, Comparison, fold_scores
from ._prep import fit_weighted, set_final_params
from ._registry import build_model
from ._task import TabularTask

TOP = 3
_EPS = 1e-6


def meta_features(preds: list[np.ndarray], kind: str) -> np.ndarray:
    """The stacking meta-model's inputs: each member's positive-class logit (binary), log-probabilities
    (multiclass) or predicted value (regression)."""
    if kind == "regression":
        return np.column_stack([np.asarray(p, dtype=float).ravel() for p in preds])
    if kind == "binary":
        cols = [np.clip(np.asarray(p, dtype=float)[:, 1], _EPS, 1 - _EPS) for p in preds]
        return np.column_stack([np.log(c / (1 - c)) for c in cols])
    return np.column_stack([np.log(np.clip(np.asarray(p, dtype=float), _EPS, 1.0)) for p in preds])


def combine(preds: list[np.ndarray], kind: str, method: str, coef: np.ndarray | None = None,
            intercept: np.ndarray | None = None) -> np.ndarray:
    """The ensemble's prediction from its members' predictions."""
    if method == "voting":
        return np.mean([np.asarray(p, dtype=float) for p in preds], axis=0)
    z = meta_features(preds, kind) @ np.asarray(coef, dtype=float).T + np.asarray(intercept, dtype=float)
    if kind == "regression":
        return z.ravel()
    if kind == "binary":
        p = 1.0 / (1.0 + np.exp(-z.ravel()))
        return np.column_stack([1 - p, p])
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_meta(F: np.ndarray, y: np.ndarray, kind: str, classes: list) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and intercept of the meta-model on meta-features ``F``."""
    if kind == "regression":
        from sklearn.linear_model import LinearRegression

        m = LinearRegression(positive=True).fit(F, y)
        return np.atleast_2d(m.coef_), np.atleast_1d(m.intercept_)
    from sklearn.linear_model import LogisticRegression

    yi = np.array([classes.index(v) for v in y])
    m = LogisticRegression(C=1.0, max_iter=2000).fit(F, yi)
    return m.coef_, m.intercept_


class Ensemble(BaseEstimator):
    """Soft voting or stacking of fitted members: ``members`` is a list of ``(name, estimator)``; each
    member predicts from the raw table (a pipeline or CatBoost). ``fit`` refits the members."""

    def __init__(self, members: list[tuple[str, Any]], method: str = "voting", kind: str = "binary",
                 classes: list | None = None, coef: Any = None, intercept: Any = None, class_weight: str = "none"):
        self.members = members
        self.method = method
        self.kind = kind
        self.classes = classes
        self.coef = coef
        self.intercept = intercept
        self.class_weight = class_weight

    def fit(self, X: Any, y: Any) -> "Ensemble":
        for _, est in self.members:
            fit_weighted(est, X, np.asarray(y), self.class_weight)
        self.classes_ = np.asarray(self.classes if self.classes is not None else [], dtype=object)
        return self

    def _member_preds(self, X: Any) -> list[np.ndarray]:
        from ._fold import predict_oof

        return [predict_oof(est, X, list(self.classes_), self.kind == "regression") for _, est in self.members]

    def predict_proba(self, X: Any) -> np.ndarray:
        return combine(self._member_preds(X), self.kind, self.method, self.coef, self.intercept)

    def predict(self, X: Any) -> np.ndarray:
        out = self.predict_proba(X)
        return out if self.kind == "regression" else self.classes_[np.argmax(out, axis=1)]


def build_candidate(task: TabularTask, comparison: Comparison, name: str, threads: int = 1) -> Any:
    """An unfitted estimator for a leaderboard row: a registry model, a tuned model or an ensemble."""
    cand = comparison.candidate(name)
    if cand.kind in ("voting", "stacking"):
        members = [(m, build_candidate(task, comparison, m, threads)) for m in cand.members]
        return Ensemble(members, cand.kind, task.kind, list(task.classes), cand.params.get("coef"),
                        cand.params.get("intercept"), task.class_weight)
    est = build_model(cand.base or name, task.numeric, task.categorical, seed=task.seed, threads=threads,
                      task=task.kind)
    return set_final_params(est, cand.params if cand.kind == "tuned" else {})


def add_ensembles(comparison: Comparison, top: int = TOP, verbose: bool = False) -> list[str]:
    """Add ``voting`` and ``stacking`` rows built from the ``top`` best single models (not the dummy);
    nothing when fewer than ``top`` succeeded. Returns the names added."""
    task = comparison.task
    singles = [n for n in comparison.ok_models if comparison.candidate(n).kind in ("model", "tuned")
               and (comparison.candidate(n).base or n) != "dummy"]
    if len(singles) < top:
        comparison.notes.append(f"ensembles need {top} successful models besides the dummy, {len(singles)} "
                                "succeeded: none built")
        return []
    members = singles[:top]
    preds = [comparison.oof[m] for m in members]
    vote = combine(preds, task.kind, "voting")
    comparison.add(Candidate("voting", "voting", members=members), vote, _per_fold(task, vote))
    stack, coef, intercept = _stacked_oof(task, preds)
    comparison.add(Candidate("stacking", "stacking", members=members,
                             params={"coef": coef.tolist(), "intercept": intercept.tolist()}),
                   stack, _per_fold(task, stack))
    if verbose:
        m = task.metric
        for name in ("voting", "stacking"):
            row = comparison.leaderboard.loc[name]
            print(f"{'':9}{name:<18} {m.label} {row[m.key + '_mean']:.4f} ± {row[m.key + '_std']:.4f} "
                  f"(of {', '.join(members)})", flush=True)
    return ["voting", "stacking"]


def _stacked_oof(task: TabularTask, preds: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold predictions of the stacked model (the meta-model cross-validated on the same folds),
    and the meta-model fitted on all rows."""
    F = meta_features(preds, task.kind)
    y = task.y_train
    out = np.zeros_like(np.asarray(preds[0], dtype=float))
    for tr, va in task.folds:
        coef, intercept = fit_meta(F[tr], y[tr], task.kind, list(task.classes))
        out[va] = combine([p[va] for p in preds], task.kind, "stacking", coef, intercept)
    coef, intercept = fit_meta(F, y, task.kind, list(task.classes))
    return out, coef, intercept


def _per_fold(task: TabularTask, pred: np.ndarray) -> list[dict[str, Any]]:
    return [{**fold_scores(task, task.y_train[va], pred[va]), "fit_time": np.nan, "predict_time": np.nan}
            for _, va in task.folds]
