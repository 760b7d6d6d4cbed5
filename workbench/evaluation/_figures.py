"""Figures for every domain, in one style: ROC, PR, calibration, confusion matrix, learning curves, bars,
predicted vs actual and residuals.

Every builder takes plain arrays and returns a ``plotly.graph_objects.Figure``; several series
(models, runs) overlay on one figure. :func:`figure_layout` is the shared style other figures use.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

STYLE = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50))


def figure_layout(**overrides) -> dict:
    """The shared figure style (white template, margins, 420 px high) with ``overrides`` applied."""
    return {**STYLE, "height": 420, **overrides}


_LAYOUT = figure_layout()
_GRID_BASE = {k: v for k, v in figure_layout(margin=dict(l=50, r=20, t=60, b=40)).items() if k != "height"}


def grid_axis(i: int) -> str:
    """The axis suffix of cell ``i`` of a :func:`grid_layout` (``""``, ``"2"``, ``"3"``, ...)."""
    return "" if i == 0 else str(i + 1)


def grid_layout(titles: Sequence[str], ncols: int, row_px: int, title: str) -> tuple[dict, int]:
    """Layout of a grid of small multiples with one title per cell, built as a dict (much faster than
    ``make_subplots`` plus ``add_trace(row=, col=)`` for dozens of cells); and its number of rows.
    Cell ``i`` draws on axes ``x{grid_axis(i)}``/``y{grid_axis(i)}``."""
    n = len(titles)
    nrows = max(1, math.ceil(n / ncols))
    height = max(320, row_px * nrows + 90)
    hgap, vgap_px = 0.06, 70
    w = (1 - hgap * (ncols - 1)) / ncols
    usable = height - 90
    cell = (usable - vgap_px * (nrows - 1)) / nrows / usable
    vgap = vgap_px / usable
    layout: dict = dict(title=dict(text=title), height=height, bargap=0.05, showlegend=False, annotations=[],
                        shapes=[], **_GRID_BASE)
    for i, t in enumerate(titles):
        r, k = divmod(i, ncols)
        x0 = k * (w + hgap)
        y1 = 1 - r * (cell + vgap)
        a = grid_axis(i)
        layout[f"xaxis{a}"] = dict(domain=[x0, x0 + w], anchor=f"y{a}", tickfont=dict(size=9), automargin=True)
        layout[f"yaxis{a}"] = dict(domain=[max(0.0, y1 - cell), y1], anchor=f"x{a}", tickfont=dict(size=9))
        layout["annotations"].append(dict(text=t, x=x0 + w / 2, y=y1, xref="paper", yref="paper", xanchor="center",
                                          yanchor="bottom", showarrow=False, font=dict(size=11)))
    return layout, nrows


def roc_figure(y_true: Sequence, scores: Mapping[str, Sequence[float]], pos_label=1,
               title: str = "ROC curve") -> go.Figure:
    """ROC curves of one or more score vectors against binary ``y_true``, with AUC in the legend."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig = go.Figure()
    y = np.asarray(y_true) == pos_label
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y, np.asarray(s, dtype=float))
        auc = roc_auc_score(y, np.asarray(s, dtype=float))
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"{name} (AUC {auc:.3f})"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                             line=dict(dash="dash", color="gray")))
    fig.update_layout(title=title, xaxis_title="false positive rate", yaxis_title="true positive rate", **_LAYOUT)
    return fig


def pr_figure(y_true: Sequence, scores: Mapping[str, Sequence[float]], pos_label=1,
              title: str = "Precision-recall curve") -> go.Figure:
    """Precision-recall curves with average precision in the legend and the base rate as reference."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig = go.Figure()
    y = np.asarray(y_true) == pos_label
    for name, s in scores.items():
        p, r, _ = precision_recall_curve(y, np.asarray(s, dtype=float))
        ap = average_precision_score(y, np.asarray(s, dtype=float))
        fig.add_trace(go.Scatter(x=r, y=p, mode="lines", name=f"{name} (AP {ap:.3f})"))
    base = float(y.mean()) if len(y) else 0.0
    fig.add_trace(go.Scatter(x=[0, 1], y=[base, base], mode="lines", name=f"base rate {base:.3f}",
                             line=dict(dash="dash", color="gray")))
    fig.update_layout(title=title, xaxis_title="recall", yaxis_title="precision", **_LAYOUT)
    return fig


def calibration_figure(y_true: Sequence, scores: Mapping[str, Sequence[float]], pos_label=1, n_bins: int = 10,
                       title: str = "Calibration") -> go.Figure:
    """Reliability diagram: mean predicted probability vs observed frequency per quantile bin."""
    from sklearn.calibration import calibration_curve

    fig = go.Figure()
    y = np.asarray(y_true) == pos_label
    for name, s in scores.items():
        frac, mean_pred = calibration_curve(y, np.clip(np.asarray(s, dtype=float), 0, 1), n_bins=n_bins,
                                            strategy="quantile")
        fig.add_trace(go.Scatter(x=mean_pred, y=frac, mode="lines+markers", name=name))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line=dict(dash="dash", color="gray")))
    fig.update_layout(title=title, xaxis_title="mean predicted probability", yaxis_title="observed frequency",
                      **_LAYOUT)
    return fig


def confusion_matrix_figure(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None,
                            title: str = "Confusion matrix", normalize: bool = False) -> go.Figure:
    """Heatmap of counts (and row-normalized rates in the hover), true labels on rows."""
    from sklearn.metrics import confusion_matrix

    labels = list(labels) if labels is not None else sorted(set(np.asarray(y_true).tolist()) | set(np.asarray(y_pred).tolist()))
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    z = rates if normalize else cm
    text = [[f"{cm[i, j]}<br>({rates[i, j]:.1%})" for j in range(len(labels))] for i in range(len(labels))]
    names = [str(x) for x in labels]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, text=text, texttemplate="%{text}", colorscale="Blues",
                               showscale=False))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed",
                      **{**_LAYOUT, "height": max(320, 80 * len(labels) + 120)})
    return fig


def learning_curve_figure(history: Mapping[str, Sequence[float]], x: Sequence | None = None,
                          title: str = "Learning curves", xaxis_title: str = "epoch") -> go.Figure:
    """One line per series (e.g. ``train_loss``, ``val_loss``, ``val_accuracy``) over epochs."""
    fig = go.Figure()
    for name, values in history.items():
        xs = list(x) if x is not None else list(range(1, len(values) + 1))
        fig.add_trace(go.Scatter(x=xs, y=list(values), mode="lines+markers", name=name))
    fig.update_layout(title=title, xaxis_title=xaxis_title, **_LAYOUT)
    return fig


def bar_figure(names: Sequence[str], values: Sequence[float], errors: Sequence[float] | None = None,
               title: str = "", xaxis_title: str = "", horizontal: bool = True) -> go.Figure:
    """Bar chart, horizontal by default (importances, per-model scores), optional error bars."""
    err = dict(type="data", array=list(errors)) if errors is not None else None
    if horizontal:
        bar = go.Bar(y=list(names), x=list(values), orientation="h", error_x=err)
    else:
        bar = go.Bar(x=list(names), y=list(values), error_y=err)
    fig = go.Figure(bar)
    layout = {**_LAYOUT, "height": max(320, 22 * len(names) + 120) if horizontal else _LAYOUT["height"]}
    fig.update_layout(title=title, **layout)
    if horizontal:
        fig.update_layout(xaxis_title=xaxis_title, yaxis_autorange="reversed")
    else:
        fig.update_layout(yaxis_title=xaxis_title)
    return fig


def predicted_actual_figure(y_true: Sequence[float], preds: Mapping[str, Sequence[float]],
                            title: str = "Predicted vs actual", max_points: int = 5000) -> go.Figure:
    """Predicted against true values, one series per model, with the identity line (a seeded sample of
    ``max_points`` rows per series when larger)."""
    fig = go.Figure()
    y = np.asarray(y_true, dtype=float)
    idx = _sample(len(y), max_points)
    for name, p in preds.items():
        p = np.asarray(p, dtype=float)
        fig.add_trace(go.Scatter(x=y[idx], y=p[idx], mode="markers", name=name, marker=dict(size=4, opacity=0.5)))
    if len(y):
        lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect",
                                 line=dict(dash="dash", color="gray")))
    fig.update_layout(title=title, xaxis_title="actual", yaxis_title="predicted", **_LAYOUT)
    return fig


def residual_figure(y_true: Sequence[float], pred: Sequence[float], title: str = "Residuals",
                    lower: Sequence[float] | None = None, upper: Sequence[float] | None = None,
                    max_points: int = 5000) -> go.Figure:
    """Residuals (actual - predicted) against the prediction, with the zero line; with ``lower`` and
    ``upper``, the prediction interval's half-widths around zero (rows outside it are marked)."""
    y, p = np.asarray(y_true, dtype=float), np.asarray(pred, dtype=float)
    r = y - p
    idx = _sample(len(y), max_points)
    fig = go.Figure()
    if lower is not None and upper is not None:
        lo, hi = np.asarray(lower, dtype=float) - p, np.asarray(upper, dtype=float) - p
        out = (r < lo) | (r > hi)
        order = idx[np.argsort(p[idx])]
        fig.add_trace(go.Scatter(x=p[order], y=hi[order], mode="lines", name="interval", line=dict(color="lightgray")))
        fig.add_trace(go.Scatter(x=p[order], y=lo[order], mode="lines", name="interval (lower)", showlegend=False,
                                 line=dict(color="lightgray"), fill="tonexty"))
        inside = idx[~out[idx]]
        fig.add_trace(go.Scatter(x=p[inside], y=r[inside], mode="markers", name="inside the interval",
                                   marker=dict(size=4, opacity=0.5)))
        idx = idx[out[idx]]
        name = f"outside the interval ({out.mean():.1%})"
    else:
        name = "residual"
    fig.add_trace(go.Scatter(x=p[idx], y=r[idx], mode="markers", name=name, marker=dict(size=4, opacity=0.6)))
    if len(p):
        fig.add_trace(go.Scatter(x=[float(np.min(p)), float(np.max(p))], y=[0, 0], mode="lines", name="zero",
                                 line=dict(dash="dash", color="gray")))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="actual - predicted", **_LAYOUT)
    return fig


def _sample(n: int, max_points: int) -> np.ndarray:
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, max_points, replace=False))
