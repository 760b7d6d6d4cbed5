"""Figures and tables of a comparison, in the shared figure style: the leaderboard, the top models'
out-of-fold curves, and the tuning studies. Each takes the parts it draws; :class:`Comparison` offers
them as its sections."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..evaluation import Metric, curve_inputs, fmt
from ._task import TabularTask

OVERLAY_TOP = 8


def leaderboard_figure(leaderboard: pd.DataFrame, metric: Metric, folds: int):
    """The ranking metric per successful row, mean ± std over folds."""
    from ..evaluation import bar_figure

    lb = leaderboard[leaderboard["status"] == "ok"]
    m = metric
    return bar_figure(lb.index.tolist(), lb[f"{m.key}_mean"].tolist(), lb[f"{m.key}_std"].tolist(),
                      title=f"{m.label} over {folds} folds (mean ± std)", xaxis_title=m.label)


def overlay_figures(task: TabularTask, oof: dict[str, np.ndarray], names: list[str]) -> list:
    """From the out-of-fold predictions ``oof`` of the rows ``names`` (best first): ROC, PR and calibration
    curves, or predicted vs actual."""
    from ..evaluation import calibration_figure, pr_figure, predicted_actual_figure, roc_figure

    if not names:
        return []
    if task.regression:
        return [predicted_actual_figure(task.y_train, {n: oof[n] for n in names},
                                        title=f"Predicted vs actual — out-of-fold, train split, top {len(names)}")]
    series = {}
    for name in names:
        y, s, what = curve_inputs(task.y_train, oof[name], task.classes)
        series[name] = s
    sub = f" — out-of-fold, train split, {what}, top {len(names)}"
    return [roc_figure(y, series, pos_label=1, title="ROC" + sub), pr_figure(y, series, pos_label=1, title="PR" + sub),
            calibration_figure(y, series, pos_label=1, title="Calibration" + sub)]


def tuning_table(studies: dict[str, dict[str, Any]], metric: Metric, notes: list[str]) -> pd.DataFrame:
    """One row per tuned model: trials (finished / pruned), CV score before and after, the chosen parameters;
    without studies, why (``notes`` of the comparison) or that tuning was off."""
    m = metric
    rows = []
    for name, s in studies.items():
        rows.append({"tuned model": name, "trials": s["n_complete"], "pruned": s["n_pruned"],
                     f"{m.label} untuned": round(s["untuned"], 4),
                     f"{m.label} tuned": round(s["best_value"], 4) if "best_value" in s else None,
                     "chosen parameters": ", ".join(f"{k}={param_text(v)}" for k, v in s.get("best_params", {}).items())})
    if not rows:
        why = "; ".join(n for n in notes if n.startswith("tuning")) or "off (tune_top = 0)"
        return pd.DataFrame({"tuning": [why]}).set_index("tuning")
    return pd.DataFrame(rows).set_index("tuned model")


def param_text(value: Any) -> str:
    """A parameter value as the tables write it (4 significant digits; None stays None)."""
    return "None" if value is None else fmt(value)  # None is a choice (max_depth), not a missing value


def tuning_figures(studies: dict[str, dict[str, Any]], metric: Metric) -> list:
    """Per tuned model, its study's history: each finished trial's CV score, pruned trials at their last
    running mean, and the best so far."""
    import plotly.graph_objects as go

    from ..evaluation import figure_layout

    m = metric
    figs = []
    for s in studies.values():
        t = s["trials"]
        if not len(t):
            continue
        fig = go.Figure()
        done = t[t["state"] == "COMPLETE"]
        fig.add_trace(go.Scatter(x=done["trial"], y=done["value"], mode="markers", name="trial (all folds)"))
        best = done["value"].cummax() if m.greater_is_better else done["value"].cummin()
        fig.add_trace(go.Scatter(x=done["trial"], y=best, mode="lines", name="best so far", line=dict(shape="hv")))
        fig.add_trace(go.Scatter(x=[t["trial"].min(), t["trial"].max()], y=[s["untuned"]] * 2, mode="lines",
                                 name="untuned defaults", line=dict(dash="dash", color="gray")))
        fig.update_layout(title=f"Tuning {s['base']}: {s['n_complete']} trials, {s['n_pruned']} pruned in "
                                f"{s['seconds']:g} s (TPE, median pruning over folds)",
                          xaxis_title="trial", yaxis_title=f"CV {m.label}", **figure_layout())
        figs.append(fig)
    return figs
