"""The explanation figures of the report (plotly): global importance (mean |SHAP|), a beeswarm, dependence
plots of the top columns, and waterfalls of single rows (the worst mistakes on the test split)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..evaluation import bar_figure, figure_layout, grid_axis, grid_layout
from ..models._explain import Explanation

MAX_POINTS = 500
"""Points per column in the beeswarm and dependence plots: a seeded sample of the explained rows (the importance
bar and the waterfalls use every row); 1,409 Telco rows x 12 columns of hover text were 1 MB of the report."""


def order(e: Explanation) -> np.ndarray:
    """Column positions by mean |contribution|, largest first."""
    return np.argsort(-np.nanmean(np.abs(e.values), axis=0), kind="stable")


def importance_figure(e: Explanation, top: int = 15) -> go.Figure:
    """Mean |SHAP| per input column (the ``top`` largest)."""
    idx = order(e)[:top]
    mean = np.nanmean(np.abs(e.values), axis=0)
    return bar_figure([e.features[j] for j in idx], mean[idx].tolist(),
                      title=f"Global importance: mean |SHAP value| over {len(e.values):,} test rows",
                      xaxis_title=f"mean |contribution| ({e.output})")


def _colour(values: pd.Series) -> np.ndarray:
    """A column's values as 0..1 for the beeswarm's colour: numeric by rank, categories by their mean order."""
    if pd.api.types.is_numeric_dtype(values):
        r = values.rank(pct=True)
        return r.fillna(0.5).to_numpy(dtype=float)
    codes = values.astype(str).astype("category").cat.codes.to_numpy(dtype=float)
    return codes / max(codes.max(), 1.0)


def beeswarm_figure(e: Explanation, X: pd.DataFrame, top: int = 12, seed: int = 0) -> go.Figure:
    """One row of points per top column: each point a test row at its contribution, coloured by the column's
    value (high red, low blue; categories in alphabetical order), jittered vertically by density."""
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(X), min(len(X), MAX_POINTS), replace=False))
    idx = order(e)[:top]
    fig = go.Figure()
    for pos, j in enumerate(idx):
        v = e.values[keep, j]
        col = X.iloc[keep][e.features[j]]
        hist, edges = np.histogram(v, bins=40)
        density = hist[np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(hist) - 1)] / max(hist.max(), 1)
        y = pos + rng.uniform(-0.4, 0.4, len(v)) * density
        fig.add_trace(go.Scattergl(
            x=v, y=y, mode="markers", name=e.features[j], showlegend=False,
            text=[str(c) for c in col.astype(object).where(col.notna(), "missing").tolist()],  # the name once:
            hovertemplate=f"{e.features[j]} = %{{text}}<br>contribution %{{x:.3f}}<extra></extra>",  # per trace
            marker=dict(size=4, color=_colour(col), colorscale="RdBu_r", cmin=0, cmax=1, opacity=0.7,
                        colorbar=dict(title="value", tickvals=[0, 1], ticktext=["low", "high"]) if pos == 0 else None,
                        showscale=pos == 0)))
    fig.update_layout(title=f"How each value moves the prediction ({e.output}; {len(keep):,} test rows)",
                      **figure_layout(height=max(360, 34 * len(idx) + 120)),
                      yaxis=dict(tickvals=list(range(len(idx))), ticktext=[e.features[j] for j in idx],
                                 autorange="reversed"),
                      xaxis_title=f"contribution ({e.output})")
    return fig


def dependence_figure(e: Explanation, X: pd.DataFrame, top: int = 4) -> go.Figure:
    """Per top column: its contribution against its value (numeric: points; categories: one strip each)."""
    idx = order(e)[:top].tolist()
    names = [e.features[j] for j in idx]
    layout, _ = grid_layout(names, min(len(names), 2), 300, f"Dependence of the top {len(names)} columns")
    fig = go.Figure()
    keep = np.arange(min(len(X), MAX_POINTS))
    for i, j in enumerate(idx):
        a = grid_axis(i)
        col = X.iloc[keep][e.features[j]]
        x = col.to_numpy(dtype=float) if pd.api.types.is_numeric_dtype(col) else \
            col.astype(object).where(col.notna(), "missing").astype(str).to_numpy()
        fig.add_trace(go.Scattergl(x=x, y=e.values[keep, j], mode="markers", xaxis=f"x{a}", yaxis=f"y{a}",
                                   marker=dict(size=4, opacity=0.5), showlegend=False,
                                   hovertemplate="%{x}<br>contribution %{y:.3f}<extra></extra>"))
    fig.update_layout(**layout)
    return fig


def waterfall_figure(e: Explanation, i: int, X: pd.DataFrame, title: str, top: int = 10) -> go.Figure:
    """Row ``i``'s prediction built from the base value: the ``top`` largest contributions, the rest summed."""
    v = e.values[i]
    idx = np.argsort(-np.abs(v), kind="stable")[:top]
    rest = float(v.sum() - v[idx].sum())
    row = X.iloc[i]
    labels = [f"{e.features[j]} = {_show(row[e.features[j]])}" for j in idx]
    steps = v[idx].tolist()
    if len(v) > top:
        labels.append(f"{len(v) - top} other columns")
        steps.append(rest)
    fig = go.Figure(go.Waterfall(
        orientation="h", measure=["absolute", *["relative"] * len(steps), "total"],
        y=["base value", *labels, "prediction"], x=[float(e.base[i]), *steps, 0.0],
        connector=dict(line=dict(width=1)), decreasing=dict(marker=dict(color="#2166ac")),
        increasing=dict(marker=dict(color="#b2182b"))))
    fig.update_layout(title=title, **figure_layout(height=max(360, 26 * (len(steps) + 2) + 120)),
                      yaxis=dict(autorange="reversed"), xaxis_title=e.output)
    return fig


def _show(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "missing"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def worst_rows(y_true: Sequence, pred: np.ndarray, classes: list, regression: bool, n: int) -> list[int]:
    """Positions of the ``n`` worst test predictions: largest absolute error, or lowest probability given to the
    true class."""
    if regression:
        err = np.abs(np.asarray(y_true, dtype=float) - np.asarray(pred, dtype=float))
    else:
        true = np.array([list(classes).index(y) for y in y_true])
        err = -np.log(np.clip(np.asarray(pred, dtype=float)[np.arange(len(true)), true], 1e-15, 1))
    return np.argsort(-err, kind="stable")[:n].tolist()


PERMUTATION_ROWS = 300
"""Test rows the report explains with the sampled permutation explainer (every row with an exact method)."""


def explain_test(model, X: pd.DataFrame) -> tuple[Explanation, np.ndarray, str]:
    """The explanation of the test rows (a seeded sample of :data:`PERMUTATION_ROWS` for the permutation
    explainer), the positions explained, and a note saying how."""
    from ._explain import TabularExplainer

    explainer = TabularExplainer(model)
    rows = np.arange(len(X))
    if explainer.method == "permutation" and len(X) > PERMUTATION_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(len(X), PERMUTATION_ROWS, replace=False))
    e = explainer.explain(X.iloc[rows])
    note = (f"{model.name}: {e.method}; contributions in {e.output}, base value {float(np.mean(e.base)):.4g}; "
            f"{len(rows):,} of {len(X):,} test rows explained. Each row's contributions add up to its prediction "
            "minus the base value.")
    return e, rows, note
