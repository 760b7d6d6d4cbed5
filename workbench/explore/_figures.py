"""Plotly figures for :mod:`workbench.explore`. Histograms are binned with numpy first, so a figure
carries at most a few hundred numbers whatever the table's size. Figures are built from plain dicts
by :func:`build_figure`, which skips plotly's per-property validation and per-figure template copy
(about 50 ms a figure; the column explorer draws two per column)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from ..data._profile import as_float
from ..evaluation._figures import figure_layout
from ..evaluation._figures import grid_axis as _axis
from ..evaluation._figures import grid_layout as _grid

_LAYOUT = {k: v for k, v in figure_layout(margin=dict(l=50, r=20, t=60, b=40)).items() if k != "height"}
_BLUE, _ORANGE = "#4C78A8", "#F58518"


_TEMPLATES: dict[tuple, dict] = {}


def _template(name: str, types: frozenset) -> dict:
    """The named template's JSON with trace defaults for the trace ``types`` drawn only (the rest,
    defaults for some forty other trace types, is most of its size and serialization time)."""
    key = (name, types)
    if key not in _TEMPLATES:
        full = pio.templates[name].to_plotly_json()
        _TEMPLATES[key] = {**full, "data": {t: v for t, v in full.get("data", {}).items() if t in types}}
    return _TEMPLATES[key]


def build_figure(data: list[dict], layout: dict) -> go.Figure:
    """``go.Figure(dict(data=data, layout=layout))`` without validating the (known-good) dicts and
    with the named template resolved to its JSON once per process instead of deep-copied per figure
    (trace defaults kept for the trace types in ``data``). The figure validates later updates
    (``update_layout`` etc.) as usual."""
    layout = {k: v for k, v in layout.items() if not (isinstance(v, list) and not v)}  # as validation drops them
    name = layout.get("template")
    if isinstance(name, str):
        layout = {**layout, "template": _template(name, frozenset(t["type"] for t in data))}
    fig = go.Figure(dict(data=data, layout=layout), _validate=False)
    fig._validate = fig._layout_obj._validate = True  # later changes by the user are checked again
    for trace in fig.data:
        trace._validate = True
    return fig


def _short(x: object, width: int = 24) -> str:
    s = str(x)
    return s if len(s) <= width else s[: width - 1] + "…"


def distribution_data(s: pd.Series, kind: str, bins: int = 40, top: int = 15, factorized: tuple | None = None,
                      hist: tuple | None = None) -> dict:
    """Bar positions, heights and labels of one column's distribution (all rows), or a ``note``;
    reuses ``factorized`` = (codes, uniques, counts) for categories and ``hist`` = (counts, edges)
    for numbers when given (see :func:`workbench.data.column_summary`)."""
    if kind == "empty":
        return {"note": "all values missing"}
    if kind in ("numeric", "datetime"):
        if hist is not None:
            counts, edges = hist
        else:
            v = as_float(s)
            v = v[np.isfinite(v)]
            if v.size == 0:
                return {"note": "no finite values"}
            lo, hi = float(v.min()), float(v.max())
            if lo == hi:
                counts, edges = np.array([v.size]), np.array([lo - 0.5, hi + 0.5])
            else:
                counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
        centers = (edges[:-1] + edges[1:]) / 2
        width = float(edges[1] - edges[0])
        if kind == "datetime":
            return {"x": pd.to_datetime(centers.astype("int64")), "y": counts, "width": width / 1e6,
                    "numeric": True}
        return {"x": np.round(centers, 6), "y": counts, "width": width, "numeric": True}
    if factorized is not None:
        _, uniq, cnt = factorized
        order = np.argsort(-cnt, kind="stable")
        vc = pd.Series(cnt[order], index=[uniq[i] for i in order])
    else:
        vc = s.value_counts(dropna=True)
    vc = vc[vc > 0]
    labels = [_short(i) for i in vc.index[:top]]
    counts = vc.to_numpy()[:top].tolist()
    if len(vc) > top:
        labels.append(f"({len(vc) - top:,} others)")
        counts.append(int(vc.to_numpy()[top:].sum()))
    return {"x": labels, "y": counts, "numeric": False}


def _bar(d: dict, color: str = _BLUE, name: str = "") -> dict:
    bar = dict(type="bar", x=d["x"], y=d["y"], marker=dict(color=color), name=name, showlegend=False)
    if d.get("numeric"):
        bar["width"] = d["width"]
    return bar


def distributions_figure(data: list[dict], columns: list[str], kinds: dict[str, str], ncols: int = 3) -> go.Figure:
    """Small multiples: one pre-binned histogram or top-values bar chart per column, from
    :func:`distribution_data` of each column."""
    titles = [f"{_short(c, 30)} ({kinds[c]})" for c in columns]
    layout, _ = _grid(titles, ncols, 230, "Distributions (all rows)")
    traces = []
    for i, d in enumerate(data):
        a = _axis(i)
        if "note" in d:
            layout["annotations"].append(dict(text=d["note"], showarrow=False, x=0.5, y=0.5,
                                              xref=f"x{a} domain", yref=f"y{a} domain"))
            traces.append(dict(type="bar", x=[], y=[], xaxis=f"x{a}", yaxis=f"y{a}", showlegend=False))
            continue
        traces.append({**_bar(d), "xaxis": f"x{a}", "yaxis": f"y{a}"})
    return build_figure(traces, layout)


def column_figure(s: pd.Series, kind: str, factorized: tuple | None = None, hist: tuple | None = None
                  ) -> go.Figure:
    """The distribution of one column (50 bins or the top 25 values)."""
    d = distribution_data(s, kind, bins=50, top=25, factorized=factorized, hist=hist)
    layout = dict(title=dict(text=f"{_short(s.name, 40)}: distribution ({kind})"), height=340, bargap=0.05,
                  yaxis=dict(title=dict(text="rows")), **_LAYOUT)
    if "note" in d:
        layout["annotations"] = [dict(text=d["note"], showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")]
        return build_figure([], layout)
    return build_figure([_bar(d)], layout)


def _rate_trace(t: pd.DataFrame) -> dict:
    return dict(type="scatter", x=[_short(g, 20) for g in t["group"]], y=t["rate"].to_numpy(), mode="markers",
                showlegend=False, marker=dict(color=_ORANGE, size=8),
                error_y=dict(type="data", symmetric=False, array=(t["high"] - t["rate"]).fillna(0).to_numpy(),
                             arrayminus=(t["rate"] - t["low"]).fillna(0).to_numpy()),
                customdata=t["rows"].to_numpy(), hovertemplate="%{x}: %{y:.3f} (%{customdata} rows)<extra></extra>")


def target_figure(tables: dict[str, pd.DataFrame], target: str, overall: float, binary: bool,
                  ncols: int = 3) -> go.Figure:
    """Small multiples: target rate (or mean) per category / numeric bin with 95% intervals."""
    cols = list(tables)
    what = f"rate of {target!r}" if binary else f"mean of {target!r}"
    layout, _ = _grid([_short(c, 30) for c in cols], ncols, 260,
                      f"Target analysis: {what} by group, 95% intervals (dotted: overall {overall:.3g})")
    traces = []
    for i, c in enumerate(cols):
        a = _axis(i)
        traces.append({**_rate_trace(tables[c]), "xaxis": f"x{a}", "yaxis": f"y{a}"})
        layout["shapes"].append(dict(type="line", xref=f"x{a} domain", yref=f"y{a}", x0=0, x1=1, y0=overall,
                                     y1=overall, line=dict(dash="dot", color="gray")))
    return build_figure(traces, layout)


def column_target_figure(t: pd.DataFrame, column: str, target: str, overall: float, binary: bool) -> go.Figure:
    """Target rate (or mean) of one column's groups, with group sizes as bars."""
    x = [_short(g, 20) for g in t["group"]]
    what = "rate" if binary else "mean"
    data = [dict(type="bar", x=x, y=t["rows"].to_numpy(), name="rows", yaxis="y2", marker=dict(color="#D0D7DE"),
                 opacity=0.6),
            {**_rate_trace(t), "name": what, "showlegend": True}]
    layout = dict(title=dict(text=f"{_short(column, 40)}: {what} of {target!r} by group"), height=340,
                  yaxis=dict(title=dict(text=what), side="left"),
                  yaxis2=dict(title=dict(text="rows"), overlaying="y", side="right", showgrid=False),
                  shapes=[dict(type="line", xref="x domain", yref="y", x0=0, x1=1, y0=overall, y1=overall,
                               line=dict(dash="dot", color="gray"))], **_LAYOUT)
    return build_figure(data, layout)


_COLORSCALES: dict[str, list] = {}


def _colorscale(name: str) -> list:
    """A named colorscale as plotly's validation spells it out (once per name)."""
    if name not in _COLORSCALES:
        _COLORSCALES[name] = [list(step) for step in go.Heatmap(colorscale=name).colorscale]
    return _COLORSCALES[name]


def heatmap_figure(m: pd.DataFrame, title: str, zmin: float, zmax: float, colorscale: str) -> go.Figure:
    """A labelled square heatmap (correlations, Cramér's V)."""
    names = [_short(c, 24) for c in m.columns]
    z = np.round(m.to_numpy(dtype=float), 3)
    text = [["" if np.isnan(v) else f"{v:.2f}" for v in row] for row in z] if len(names) <= 25 else None
    trace = dict(type="heatmap", z=z, x=names, y=names, zmin=zmin, zmax=zmax, textfont=dict(size=9),
                 colorscale=_colorscale(colorscale))
    if text:
        trace.update(text=text, texttemplate="%{text}")
    side = max(380, 26 * len(names) + 160)
    return build_figure([trace], {**_LAYOUT, "title": dict(text=title), "height": side,
                                  "yaxis": dict(autorange="reversed")})


def missing_figure(missing: pd.Series) -> go.Figure:
    """Share of missing values per column (columns with any missing value)."""
    bar = dict(type="bar", y=[_short(c, 30) for c in missing.index], x=missing.to_numpy(), orientation="h",
               marker=dict(color=_BLUE), hovertemplate="%{y}: %{x:.2%}<extra></extra>")
    return build_figure([bar], {**_LAYOUT, "title": dict(text="Missing values per column (all rows)"),
                                "xaxis": dict(title=dict(text="missing share"), tickformat=".2~%"),
                                "yaxis": dict(autorange="reversed"), "height": max(260, 22 * len(missing) + 120)})


def class_figure(s: pd.Series, factorized: tuple | None = None) -> go.Figure:
    """Class counts of a (non-binary) target (``factorized``: (codes, values, counts) of all rows)."""
    d = distribution_data(s, "categorical", top=30, factorized=factorized)
    return build_figure([_bar(d)], {**_LAYOUT, "title": dict(text=f"Classes of {s.name!r}"), "height": 340,
                                    "yaxis": dict(title=dict(text="rows"))})
