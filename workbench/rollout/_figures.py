"""The monitoring figure: the difference and its intervals day by day, and both tests' p-values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..evaluation import figure_layout


def monitoring_figure(table: pd.DataFrame, *, unit: str, alpha: float, margin: float = 0.0,
                      greater_is_better: bool = False, title: str = "Sequential monitoring, one look a day") -> go.Figure:
    """Top: the estimate of ``challenger - champion`` per day with the always-valid confidence sequence
    (band) and the fixed-horizon 95% interval (dashed). Bottom: the always-valid p-value and the
    fixed-horizon p-value per day on a log scale, with ``alpha``."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.58, 0.42],
                        subplot_titles=(f"challenger - champion ({unit})", "p-value"))
    x = table["day"].tolist()
    finite = np.isfinite(table["low"]) & np.isfinite(table["high"])
    if finite.any():
        xs = [d for d, f in zip(x, finite) if f]
        fig.add_trace(go.Scatter(x=xs + xs[::-1], y=table.loc[finite, "high"].tolist() + table.loc[finite, "low"].tolist()[::-1],
                                 fill="toself", fillcolor="rgba(9,105,218,0.18)", line=dict(width=0),
                                 name="always-valid confidence sequence", hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=table["estimate"], mode="lines+markers", name="estimate",
                             line=dict(color="#0969da")), row=1, col=1)
    for col, show in (("naive_low", True), ("naive_high", False)):
        fig.add_trace(go.Scatter(x=x, y=table[col], mode="lines", name="fixed-horizon 95% interval", showlegend=show,
                                 line=dict(color="#9a6700", dash="dash", width=1)), row=1, col=1)
    fig.add_hline(y=0, line=dict(color="#57606a", width=1), row=1, col=1)
    if margin:
        worse = margin if not greater_is_better else -margin
        fig.add_hline(y=worse, line=dict(color="#cf222e", dash="dot", width=1), row=1, col=1,
                      annotation_text="non-inferiority margin")
    fig.add_trace(go.Scatter(x=x, y=np.clip(table["p_value"], 1e-12, 1), mode="lines+markers", name="always-valid p (mSPRT)",
                             line=dict(color="#0969da")), row=2, col=1)
    fig.add_trace(go.Scatter(x=x, y=np.clip(table["naive_p"], 1e-12, 1), mode="lines+markers",
                             name="fixed-horizon p, recomputed daily (not valid under peeking)",
                             line=dict(color="#9a6700", dash="dash")), row=2, col=1)
    fig.add_trace(go.Scatter(x=[x[0], x[-1]], y=[alpha, alpha], mode="lines", name=f"alpha {alpha:g}",
                             line=dict(color="#cf222e", dash="dot", width=1)), row=2, col=1)
    fig.update_yaxes(type="log", row=2, col=1)
    fig.update_layout(**figure_layout(height=620, title=dict(text=title),
                                      legend=dict(orientation="h", y=-0.12, x=0)))
    return fig
