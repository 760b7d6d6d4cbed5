"""Figures of a drift report, in the shared style: reference and current overlaid per column (pre-
binned: a figure carries a few hundred numbers whatever the tables' size), the drift score of every
column against its threshold, and what the domain classifier used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..evaluation._figures import bar_figure, figure_layout, grid_axis, grid_layout
from ._column_drift import ColumnDrift

REFERENCE, CURRENT = "#4C78A8", "#F58518"
GREY = "#9AA5B1"


def _short(x: object, width: int = 22) -> str:
    s = str(x)
    return s if len(s) <= width else s[: width - 1] + "…"


def _cell_traces(c: ColumnDrift, a: str, legend: bool) -> list[dict]:
    p = c.plot or {}
    common = {"xaxis": f"x{a}", "yaxis": f"y{a}"}
    if p.get("numeric"):
        edges = p["edges"]
        centers = (edges[:-1] + edges[1:]) / 2
        x = pd.to_datetime(centers.astype("int64")) if c.kind == "datetime" else np.round(centers, 6)
        return [dict(type="scatter", x=x, y=p[side], mode="lines", line=dict(shape="hvh", color=color, width=1.5),
                     fill="tozeroy" if side == "reference" else None, name=side, legendgroup=side,
                     showlegend=legend, **common)
                for side, color in (("reference", REFERENCE), ("current", CURRENT))]
    names = [_short(v) for v in p.get("categories", [])]
    return [dict(type="bar", x=names, y=p[side], marker=dict(color=color), name=side, legendgroup=side,
                 showlegend=legend, offsetgroup=side, **common)
            for side, color in (("reference", REFERENCE), ("current", CURRENT)) if side in p]


def distributions_figure(results: list[ColumnDrift], title: str, ncols: int = 3) -> go.Figure:
    """Small multiples, one per column: the share of values per bin (numbers, dates) or per
    category, reference and current overlaid."""
    titles = [f"{_short(c.column, 28)} ({c.test} {c.score:.3g})" if np.isfinite(c.score) else _short(c.column, 28)
              for c in results]
    layout, _ = grid_layout(titles, ncols, 240, title)
    layout.update(showlegend=True, barmode="group", legend=dict(orientation="h", y=1.02, x=1, xanchor="right",
                                                                yanchor="bottom"))
    traces: list[dict] = []
    for i, c in enumerate(results):
        a = grid_axis(i)
        if not c.plot:
            layout["annotations"].append(dict(text="no values to draw on one side", showarrow=False, x=0.5, y=0.5,
                                              xref=f"x{a} domain", yref=f"y{a} domain"))
            traces.append(dict(type="bar", x=[], y=[], xaxis=f"x{a}", yaxis=f"y{a}", showlegend=False))
            continue
        traces += _cell_traces(c, a, legend=not any(t.get("showlegend") for t in traces))
        layout[f"yaxis{a}"]["tickformat"] = ".0%"
    return go.Figure(dict(data=traces, layout=layout))


def score_figure(results: list[ColumnDrift], title: str = "Drift score per column") -> go.Figure:
    """Each column's distance divided by its threshold (1 = at the threshold), drifted columns in
    orange; columns flagged by missing values or new categories only are marked too."""
    names = [c.column for c in results]
    values = [c.severity for c in results]
    colors = [CURRENT if c.drifted else GREY for c in results]
    text = [c.test for c in results]
    fig = go.Figure(go.Bar(y=names, x=values, orientation="h", marker=dict(color=colors), text=text,
                           textposition="outside", hovertemplate="%{y}: %{x:.2f} x threshold (%{text})<extra></extra>"))
    fig.add_vline(x=1, line=dict(color="#cf222e", dash="dash"))
    fig.update_layout(title=title, xaxis_title="distance / its threshold (Wasserstein or Jensen-Shannon)",
                      yaxis_autorange="reversed", **figure_layout(height=max(320, 22 * len(names) + 120)))
    return fig


def importance_figure(importance: pd.DataFrame, top: int = 15) -> go.Figure:
    """Permutation importance of the domain classifier: the ROC-AUC lost when a column is shuffled."""
    imp = importance.head(top)
    return bar_figure(list(imp["column"]), list(imp["importance"]), list(imp["std"]),
                      title="What tells current rows from reference rows", xaxis_title="ROC-AUC lost when shuffled")
