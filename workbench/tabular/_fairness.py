"""Fairness of the chosen binary classifier by sensitive group: the columns checked before any training
(:func:`check_sensitive`), the held-out test split's rates and gaps (:func:`fairness_panel`), and an
optional mitigation by per-group thresholds (fairlearn's ``ThresholdOptimizer``, fitted on the
out-of-fold predictions of the train split, so the test split stays untouched) with its accuracy cost
(:func:`mitigation_table`). The numbers themselves live in :mod:`workbench.evaluation`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import DatasetError, ModelError

MITIGATIONS = ("none", "demographic_parity", "equalized_odds")


def check_sensitive(df: pd.DataFrame, target: str, sensitive: Any, name: str) -> list[str]:
    """The sensitive column names, each checked against ``df``'s columns (not the target)."""
    if sensitive in (None, "", []):
        return []
    cols = [sensitive] if isinstance(sensitive, str) else sensitive
    if not isinstance(cols, (list, tuple)) or not all(isinstance(c, str) and c for c in cols):
        raise DatasetError(f"sensitive must be a list of column names (sensitive={sensitive!r}); "
                           "e.g. sensitive=['female', 'senior_citizen']")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DatasetError(f"sensitive column(s) {', '.join(map(repr, missing))} not in {name!r} (sensitive={list(cols)!r}); "
                           f"columns: {', '.join(map(str, df.columns))}; fix: name columns of the table, or sensitive=[]")
    if target in cols:
        raise DatasetError(f"the target {target!r} cannot be a sensitive column (sensitive={list(cols)!r})")
    return list(dict.fromkeys(cols))


def check_binary(kind: str, sensitive: Sequence[str]) -> None:
    if sensitive and kind != "binary":
        raise DatasetError(f"fairness by group needs a binary target; this task is {kind} (sensitive={list(sensitive)!r}); "
                           "fix: sensitive=[]")


def check_mitigation(value: Any) -> str:
    key = "none" if value in (None, "", False) else str(value).strip().lower()
    if key not in MITIGATIONS:
        raise ModelError(f"mitigate must be one of {', '.join(MITIGATIONS)} (mitigate={value!r}); "
                         "e.g. mitigate='equalized_odds'")
    return key


def check_gap_threshold(value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
        raise ModelError(f"gap_threshold must be a number between 0 and 1 (gap_threshold={value!r}); "
                         "e.g. gap_threshold=0.1")
    return float(value)


def fairness_settings(df: pd.DataFrame, target: str, name: str, sensitive: Any, sensitive_as_feature: bool,
                      gap_threshold: Any, mitigate: Any) -> dict[str, Any]:
    """The fairness fields of a task, checked before any training: ``sensitive`` (columns whose groups the
    fairness section compares; binary targets), ``sensitive_as_feature`` (``False``: trained without them;
    they still define the groups), ``gap_threshold`` (a parity difference above it is a warning) and
    ``mitigate`` (``none``, ``demographic_parity``, ``equalized_odds``: the model with per-group thresholds)."""
    return {"sensitive": check_sensitive(df, target, sensitive, name), "sensitive_as_feature": bool(sensitive_as_feature),
            "gap_threshold": check_gap_threshold(gap_threshold), "mitigate": check_mitigation(mitigate)}


def left_out(fair: dict[str, Any]) -> list[str]:
    """The sensitive columns kept out of the features (none unless ``sensitive_as_feature`` is false)."""
    return [] if fair["sensitive_as_feature"] else list(fair["sensitive"])


def _test_inputs(best: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    task, model = best.task, best.model
    if not task.sensitive:
        raise ModelError("no sensitive columns: pass sensitive=[...] to prepare_task")
    y = (task.y_test == task.classes[1]).astype(int)
    score = np.asarray(best.test_pred)[:, 1]
    pred = (score >= model.threshold).astype(int)
    return y, pred, score, task.groups.loc[task.X_test.index]


def fairness_results(best: Any) -> dict[str, Any]:
    """The held-out test split's group table, gaps and headline numbers (``dp_difference``, ``eo_difference``,
    per column too) at the model's threshold."""
    from ..evaluation import fairness_gaps, group_table, headline_gaps

    y, pred, score, groups = _test_inputs(best)
    gaps = fairness_gaps(y, pred, groups)
    return {"table": group_table(y, pred, groups, score), "gaps": gaps,
            "headline": headline_gaps(gaps, best.task.sensitive)}


def fairness_panel(best: Any, gap_threshold: float | None = None) -> Any:
    """Warnings for gaps above ``gap_threshold`` (default: the task's), the gaps, the per-group table and
    its figure, then the mitigation table when the task asks for one."""
    from ..evaluation import MIN_GROUP_ROWS, Note, Panel, fairness_figure, full, gap_warnings

    if not best.task.sensitive:
        return Panel(Note("no sensitive columns given (sensitive=[]): no fairness section"))
    gap_threshold = best.task.gap_threshold if gap_threshold is None else check_gap_threshold(gap_threshold)
    res = fairness_results(best)
    warn = gap_warnings(res["gaps"], gap_threshold)
    notes = [Note(w, "warning") for w in warn] or [Note(f"no gap above {gap_threshold:g}")]
    how = ("trained with the sensitive columns as features" if best.task.sensitive_as_feature
           else "trained without the sensitive columns")
    intro = Note(f"Held-out test split, threshold {best.model.threshold:.3f}, {how}. 95% intervals: Wilson for rates, "
                 f"DeLong for ROC-AUC. Intersections need at least {MIN_GROUP_ROWS} rows. Differences: largest minus "
                 "smallest over the groups; equalized odds: the larger of the TPR and FPR differences; ratios: "
                 "smallest / largest.")
    table = res["table"].set_index(["feature", "group"]).round(4)
    parts = [intro, *notes, res["gaps"].set_index("feature").round(4), full(table), fairness_figure(res["table"])]
    if best.task.mitigate != "none":
        parts += [Note("Mitigation: per-group thresholds fitted on the train split's out-of-fold probabilities "
                       "(fairlearn's ThresholdOptimizer, accuracy objective), scored on the held-out test split; "
                       "the saved model is the unmitigated one."), mitigation_table(best)]
    return Panel(*parts)


def _score_estimator() -> Any:
    """A fitted "classifier" whose probability is its one input column (ThresholdOptimizer's prefit estimator)."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Scores(ClassifierMixin, BaseEstimator):
        def fit(self, X: Any, y: Any) -> Scores:
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, X: Any) -> np.ndarray:
            s = np.asarray(X, dtype=float)[:, 0]
            return np.column_stack([1 - s, s])

        def predict(self, X: Any) -> np.ndarray:
            return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    return Scores().fit(None, None)


def mitigation_table(best: Any, mitigate: str | None = None) -> pd.DataFrame:
    """The model as fitted and with per-group thresholds (fairlearn's ``ThresholdOptimizer`` under the
    ``mitigate`` constraint, fitted on the train split's out-of-fold probabilities and the intersections
    of the sensitive columns; randomized between two thresholds where needed, seeded): held-out test
    accuracy, its cost, and the gaps. Empty for ``mitigate='none'``."""
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.metrics import accuracy_score

    from ..evaluation import fairness_gaps, headline_gaps

    mitigate = best.task.mitigate if mitigate is None else check_mitigation(mitigate)
    if mitigate == "none":
        return pd.DataFrame()
    task = best.task
    y, pred, score, groups = _test_inputs(best)
    oof = best.comparison.oof[best.name][:, 1]
    opt = ThresholdOptimizer(estimator=_score_estimator(), constraints=mitigate, objective="accuracy_score", prefit=True,
                             predict_method="predict_proba")
    opt.fit(oof[:, None], (task.y_train == task.classes[1]).astype(int),
            sensitive_features=task.groups.loc[task.X_train.index].astype(str))
    fair = np.asarray(opt.predict(score[:, None], sensitive_features=groups.astype(str), random_state=task.seed))
    rows = []
    for name, p in ((best.name, pred), (f"{best.name} + ThresholdOptimizer ({mitigate})", fair)):
        head = headline_gaps(fairness_gaps(y, p, groups), task.sensitive)
        rows.append({"model": name, "accuracy": accuracy_score(y, p), "dp_difference": head["dp_difference"],
                     "eo_difference": head["eo_difference"]})
    out = pd.DataFrame(rows).set_index("model")
    out["accuracy_cost"] = out["accuracy"].iloc[0] - out["accuracy"]
    return out.round(4)
