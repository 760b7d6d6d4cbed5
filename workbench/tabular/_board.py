"""The comparison's result: one leaderboard row per candidate (a registry model, a tuned model, an
ensemble), the per-fold scores and the out-of-fold predictions every later step reuses, and the
report's sections (leaderboard table and figure, out-of-fold curves, tuning)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..evaluation import Metric, Panel, fmt_mean
from . import _figures
from ._fold import score
from ._registry import REGISTRY, TIMES
from ._task import TabularTask

STATUS_ORDER = {"ok": 0, "stopped": 1, "raced": 1, "error": 2}


@dataclass
class Candidate:
    """How to build a leaderboard row's model: a registry model (``kind`` ``model``), the same with tuned
    parameters (``tuned``), or an ensemble of other rows (``voting``, ``stacking``)."""

    name: str
    kind: str = "model"
    base: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        if self.kind == "model":
            return REGISTRY.get(self.base or self.name).description
        if self.kind == "tuned":
            return f"{self.base} tuned with Optuna: " + ", ".join(f"{k}={_figures.param_text(v)}"
                                                                  for k, v in self.params.items())
        what = "soft voting (mean of the probabilities)" if self.kind == "voting" else "stacking"
        if self.kind == "voting" and not self.members:
            what = "voting"
        return f"{what} of {', '.join(self.members)}"


def fold_scores(task: TabularTask, y: np.ndarray, pred: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Every metric of the task's kind for one set of predictions (probabilities or values)."""
    return score(y, pred, list(task.classes), task.regression, threshold)


def aggregate(task: TabularTask, cand: Candidate, rows: list[dict[str, Any]], status: str, note: str | None
              ) -> dict[str, Any]:
    """A leaderboard record: mean and std over the folds that finished, status and note."""
    rec: dict[str, Any] = {"model": cand.name, "status": status, "error": note, "description": cand.description,
                           "kind": cand.kind, "folds_done": len(rows)}
    for key in [*task.metrics, *TIMES]:
        vals = np.array([r.get(key, np.nan) for r in rows], dtype=float) if rows else np.array([np.nan])
        rec[f"{key}_mean"] = float(np.mean(vals))
        rec[f"{key}_std"] = float(np.std(vals)) if len(vals) > 1 else 0.0
    return rec


def sorted_board(records: list[dict[str, Any]], metric: Metric) -> pd.DataFrame:
    lb = pd.DataFrame(records).set_index("model")
    key = lb[f"{metric.key}_mean"] * (-1 if metric.greater_is_better else 1)
    lb = lb.assign(_st=lb["status"].map(STATUS_ORDER).fillna(3), _key=key.fillna(np.inf))
    return lb.sort_values(["_st", "_key"], kind="stable").drop(columns=["_st", "_key"])


@dataclass
class Comparison:
    """The outcome of :func:`compare_models` (with tuning and ensembles when asked for).

    Attributes
    ----------
    leaderboard : one row per candidate: ``<metric>_mean``/``<metric>_std`` columns, status (``ok``,
        ``stopped`` by the time guard, ``raced`` out early, ``error``) and a note, sorted by the ranking
        metric (ok rows first).
    fold_scores : one row per (candidate, fold).
    oof : out-of-fold predictions on the train split per successful candidate (rows as ``task.X_train``):
        class probabilities ``(n, k)`` or predicted values ``(n,)``.
    candidates : how to build each row's model.
    studies : per tuned model, the Optuna trials (a DataFrame) and the best parameters.

    The report's sections are methods: :meth:`table`, :meth:`leaderboard_figure`, :meth:`curves`
    (out-of-fold curves of the top rows), :meth:`tuning` (each study's history and the parameters chosen).
    """

    task: TabularTask
    leaderboard: pd.DataFrame
    fold_scores: pd.DataFrame
    oof: dict[str, np.ndarray] = field(default_factory=dict)
    wall_time: float = 0.0
    n_jobs: int = 1
    candidates: dict[str, Candidate] = field(default_factory=dict)
    studies: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def metric(self) -> Metric:
        return self.task.metric

    @property
    def ok_models(self) -> list[str]:
        return self.leaderboard.index[self.leaderboard["status"] == "ok"].tolist()

    @property
    def best(self) -> str:
        """The best successful candidate by the mean CV value of the ranking metric."""
        ok = self.ok_models
        if not ok:
            errors = "; ".join(f"{m}: {e}" for m, e in self.leaderboard["error"].items())
            raise ModelError(f"every model failed, so there is no best model ({errors}); fix: see the errors, "
                             "or try other models")
        return ok[0]

    def candidate(self, name: str) -> Candidate:
        return self.candidates.get(name) or Candidate(name=REGISTRY.resolve(name), base=REGISTRY.resolve(name))

    def add(self, cand: Candidate, oof: np.ndarray | None, rows: list[dict[str, Any]], status: str = "ok",
            note: str | None = None) -> None:
        """Add (or replace) a row computed elsewhere (tuning, ensembles), re-sorting the leaderboard."""
        self.candidates[cand.name] = cand
        rec = aggregate(self.task, cand, rows, status, note)
        records = [r for r in self.leaderboard.reset_index().to_dict("records") if r["model"] != cand.name]
        self.leaderboard = sorted_board([*records, rec], self.metric)
        if rows:
            new = pd.DataFrame([{"model": cand.name, "fold": i + 1, **r} for i, r in enumerate(rows)])
            old = self.fold_scores[self.fold_scores["model"] != cand.name] if len(self.fold_scores) else None
            self.fold_scores = pd.concat([old, new], ignore_index=True) if old is not None else new
        if oof is not None and status == "ok":
            self.oof[cand.name] = oof

    def table(self) -> pd.DataFrame:
        """The leaderboard for display: ``mean ± std`` per metric, best first."""
        lb = self.leaderboard
        cols = {**{k: m.label for k, m in self.task.metrics.items()}, **TIMES}
        out = pd.DataFrame(index=lb.index)
        for key, label in cols.items():
            digits = 2 if key in TIMES else 4
            out[label] = [fmt_mean(m, s, digits=digits) for m, s in zip(lb[f"{key}_mean"], lb[f"{key}_std"])]
        if "class_weight" in lb.columns:
            out["class weights"] = lb["class_weight"].fillna("via the members")
        out["status"] = lb["status"]
        if (lb["status"] != "ok").any():
            out["note"] = lb["error"].fillna("")
        out.index.name = f"model (sorted by {self.metric.label})"
        return out

    def leaderboard_figure(self):
        """The ranking metric per successful row, mean ± std over folds."""
        return _figures.leaderboard_figure(self.leaderboard, self.metric, len(self.task.folds))

    def curves(self, top: int = _figures.OVERLAY_TOP) -> Panel:
        """From the out-of-fold predictions of the ``top`` rows: ROC, PR and calibration curves, or
        predicted vs actual (regression)."""
        return Panel(*_figures.overlay_figures(self.task, self.oof, self.ok_models[:top]))

    def tuning(self) -> Panel:
        """Each tuned model's study (trials, pruned trials, best so far) and a table of the parameters
        chosen, or why nothing was tuned."""
        return Panel(*_figures.tuning_figures(self.studies, self.metric),
                     _figures.tuning_table(self.studies, self.metric, self.notes))
