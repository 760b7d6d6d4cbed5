"""The outcome of a comparison (:class:`Comparison`): leaderboard with bootstrap CIs, tuning trials,
cold-start table, and the report's sections (tables, figures, example recommendations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..evaluation import fmt_mean, full
from . import _figures
from ._base import Recommender
from ._metrics import AT_K, METRIC_LABELS, bootstrap_ci, coverage
from ._outcomes import Result, Tuned
from ._task import RecTask


def _mean_ci(values: np.ndarray, seed: int) -> str:
    lo, hi = bootstrap_ci(values, seed=seed)[:, 0]
    return fmt_mean(values.mean(), lo=lo, hi=hi)


@dataclass
class Comparison:
    """Results of :func:`compare_models`: per model, the final fit, test metrics and tuning trials.

    ``best`` is the model with the best *validation* NDCG@k (the one to save); the leaderboard reports
    test metrics as the mean over users with a 95% bootstrap interval. The report's sections are
    methods: :meth:`table`, :meth:`leaderboard_figure`, :meth:`metric_curves_figure`, :meth:`cold_start`,
    :meth:`cold_start_figure`, :meth:`popularity_bias_figure`, :meth:`settings`,
    :meth:`example_recommendations`.
    """

    task: RecTask
    results: dict[str, Result]
    errors: dict[str, str]
    tuned: dict[str, Tuned]
    wall_time: float = 0.0

    @property
    def k(self) -> int:
        return self.task.k

    @property
    def best(self) -> str:
        """The model with the best validation NDCG@k."""
        if not self.results:
            raise ModelError("every model failed, so there is no best model ("
                             + "; ".join(f"{m}: {e}" for m, e in self.errors.items()) + "); fix: see the errors")
        return max(self.results, key=lambda m: self.results[m].val_ndcg)

    @property
    def best_model(self) -> Recommender:
        return self.results[self.best].model

    def mean(self, model: str, metric: str = "ndcg", k: int | None = None) -> float:
        """Mean test ``metric`` at ``k`` (default: the task's k) of ``model`` over evaluated users."""
        res = self.results[model]
        if metric == "coverage":
            return coverage(res.top, k or self.k, self.task.data.n_items)
        values = res.metrics[metric]
        return float(values.mean() if values.ndim == 1 else values[:, (k or self.k) - 1].mean())

    def _row(self, name: str, res: Result) -> dict[str, Any]:
        k, j = self.k, self.k - 1
        cols = [f"{m}@{k}" for m in AT_K] + ["mrr", f"novelty@{k}"]
        values = np.column_stack([res.metrics[m][:, j] for m in AT_K] + [res.metrics["mrr"], res.metrics["novelty"][:, j]])
        lo, hi = bootstrap_ci(values, seed=self.task.seed)
        row: dict[str, Any] = {"model": name}
        for c, v, a, b in zip(cols, values.mean(0), lo, hi):
            row.update({c: v, f"{c}_lo": a, f"{c}_hi": b})
        row.update({f"coverage@{k}": coverage(res.top, k, self.task.data.n_items), f"val_ndcg@{k}": res.val_ndcg,
                    "fit_time_s": res.fit_time, "tune_time_s": res.tune_time, "ms_per_user": res.ms_per_user,
                    "settings": res.model.settings(), "status": "ok", "error": None})
        return row

    @property
    def leaderboard(self) -> pd.DataFrame:
        """One row per model, sorted by test NDCG@k (failed models last, with their error)."""
        key = (tuple(self.results), tuple(self.errors))
        if getattr(self, "_board", (None,))[0] != key:
            self._board = (key, self._leaderboard())
        return self._board[1].copy()

    def _leaderboard(self) -> pd.DataFrame:
        rows = [self._row(n, r) for n, r in self.results.items()]
        rows += [{"model": n, "status": "error", "error": e} for n, e in self.errors.items()]
        if not rows:
            return pd.DataFrame(columns=["status", "error"])
        lb = pd.DataFrame(rows).set_index("model")
        key = f"ndcg@{self.k}"
        if key in lb:
            lb = lb.sort_values(key, ascending=False, na_position="last")
        return lb

    def table(self) -> pd.DataFrame:
        """The leaderboard for display: test mean [95% CI] per metric, coverage, novelty, validation
        NDCG, times; the chosen model marked."""
        lb, k = self.leaderboard, self.k
        out = pd.DataFrame(index=lb.index)
        ok = lb["status"] == "ok"
        for m in [*AT_K, "mrr"]:
            c = f"{m}@{k}" if m != "mrr" else "mrr"
            out[f"{METRIC_LABELS[m]}{'@' + str(k) if m != 'mrr' else ''}"] = [
                fmt_mean(lb.loc[i, c], lo=lb.loc[i, f"{c}_lo"], hi=lb.loc[i, f"{c}_hi"]) if ok[i] else ""
                for i in lb.index]
        if ok.any():
            out[f"Coverage@{k}"] = lb[f"coverage@{k}"].map(lambda v: f"{v:.1%}" if v == v else "")
            out[f"Novelty@{k} (bits)"] = lb[f"novelty@{k}"].map(lambda v: f"{v:.2f}" if v == v else "")
            out[f"val NDCG@{k}"] = lb[f"val_ndcg@{k}"].map(lambda v: f"{v:.4f}" if v == v else "")
            out["fit (s)"] = lb["fit_time_s"].map(lambda v: f"{v:.1f}" if v == v else "")
            out["ms / user"] = lb["ms_per_user"].map(lambda v: f"{v:.2f}" if v == v else "")
            out["chosen"] = ["✓ best on validation" if i == self.best else "" for i in lb.index]
        if (~ok).any():
            out["error"] = lb["error"].fillna("")
        out.index.name = f"model (test, mean [95% bootstrap CI] over {self.task.test.n} users)"
        return full(out)

    def settings(self) -> pd.DataFrame:
        """The settings each model ended with (hyperparameters, profile; hybrid weights)."""
        return full(pd.DataFrame({"settings": [r.model.settings() for r in self.results.values()],
                                  "tuning (s)": [round(r.tune_time, 1) for r in self.results.values()]},
                                 index=pd.Index(list(self.results), name="model")))

    def trials(self) -> pd.DataFrame:
        """Every validation trial (model, parameters, profile, validation NDCG@k)."""
        return pd.DataFrame([t for tuned in self.tuned.values() for t in tuned.trials])

    def cold_start(self, numeric: bool = False) -> pd.DataFrame:
        """NDCG@k per model on warm users, real cold-start users (if any) and the simulated slice."""
        k, rows = self.k, {}
        cold = self.task.cold_rows
        slices = {f"warm (> {self.task.cold_start_max}), {int((~cold).sum())} users": ~cold}
        if cold.any():
            slices[f"cold start (≤ {self.task.cold_start_max}), {int(cold.sum())} users"] = cold
        sim = self.task.simulated
        for name, res in self.results.items():
            vals = {label: res.metrics["ndcg"][mask, k - 1] for label, mask in slices.items()}
            if sim is not None and "simulated" in res.slices:
                vals[f"simulated cold start (latest 1-{self.task.cold_start_max}), {sim.n} users"] = \
                    res.slices["simulated"]["ndcg"][:, 0]
            rows[name] = {c: v.mean() if numeric else _mean_ci(v, self.task.seed) for c, v in vals.items()}
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = f"NDCG@{k} (mean [95% CI])"
        return out if numeric else full(out)

    def record_values(self) -> dict[str, Any]:
        """What the notebook records for the run: best model and its test metrics."""
        best = self.best
        return {"best_model": best, f"ndcg_at_{self.k}": self.mean(best, "ndcg"),
                f"recall_at_{self.k}": self.mean(best, "recall"), "coverage": self.mean(best, "coverage"),
                f"val_ndcg_at_{self.k}": self.results[best].val_ndcg}

    # ------------------------------------------------------------------ figures and examples

    def leaderboard_figure(self, metric: str = "ndcg"):
        """Test ``metric``@k per model, mean with its 95% bootstrap CI, best first."""
        return _figures.leaderboard_figure(self.leaderboard, self.task, metric)

    def metric_curves_figure(self, metrics: tuple[str, ...] = ("ndcg", "recall", "precision")):
        """Mean test metric against the cut-off k (1..max_k), one line per model, one panel per metric."""
        return _figures.metric_curves_figure(self.results, self.task, metrics)

    def cold_start_figure(self):
        """NDCG@k per model on warm users and the cold-start slices (grouped bars)."""
        return _figures.cold_start_figure(self.cold_start(numeric=True), self.k)

    def popularity_bias_figure(self, bins: int = 10):
        """Share of recommended items per item-popularity decile, per model, against the held-out liked items."""
        return _figures.popularity_bias_figure(self.results, self.task, bins)

    def figures(self) -> dict[str, Any]:
        """Every figure of the report, in order, by name."""
        return {"leaderboard": self.leaderboard_figure(), "metric_vs_k": self.metric_curves_figure(),
                "cold_start": self.cold_start_figure(), "popularity_bias": self.popularity_bias_figure()}

    def example_recommendations(self, n_users: int = 3, model: str | None = None, n_history: int = 8) -> pd.DataFrame:
        """For ``n_users`` test users (seeded pick): their latest training interactions next to ``model``'s
        top-k (default: the chosen model), ✓ where the held-out data shows the user liked it."""
        name = model or self.best
        return _figures.example_recommendations(self.task, name, self.results[name], n_users, n_history)
