"""The column explorer's static copy for headless reports: one pane per column, plots pre-rendered."""

from __future__ import annotations

import html
import sys
from typing import Any

import pandas as pd

from ..evaluation import Note


def activate_plotly() -> None:
    """Let plotly's renderer emit its one-off setup output (plotly.js for the ``notebook`` renderer)
    now, outside any Output widget: the static panes need plotly.js on the page, and emitting those
    megabytes inside a captured Output makes nbclient (papermill) stall. Outside IPython there is no
    page to set up, and nothing is imported (plotly's renderers import nbformat and jsonschema)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None:
        return
    import plotly.io as pio

    activate = getattr(pio.renderers, "_activate_pending_renderers", None)
    if activate is not None:
        activate()


def display_data(obj: Any) -> dict[str, Any]:
    """``obj`` as a ``display_data`` output (what ``display(obj)`` would publish), for an Output widget's
    state. A figure's own ``_repr_mimebundle_`` comes first: IPython's formatter would call plotly's
    ``_ipython_display_`` instead, which displays the figure elsewhere and formats nothing."""
    from IPython import get_ipython

    bundle = obj._repr_mimebundle_(include=None, exclude=None) if hasattr(obj, "_repr_mimebundle_") else None
    shell = get_ipython()
    if bundle is not None:
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
    elif shell is not None:
        data, meta = shell.display_formatter.format(obj)
    else:  # outside IPython
        data, meta = {"text/plain": repr(obj)}, {}
    return {"output_type": "display_data", "data": data, "metadata": meta or {}}


def _part_html(p: Any) -> str:
    import plotly.graph_objects as go

    if isinstance(p, go.Figure):
        import plotly.io as pio

        return pio.to_html(p, include_plotlyjs=False, full_html=False, config={"displaylogo": False})
    if isinstance(p, pd.DataFrame):
        return p.to_html(border=0, classes="dataframe")
    if hasattr(p, "_repr_html_"):
        return p._repr_html_()
    return f"<pre>{html.escape(str(p))}</pre>"


def static_explorer(eda: Any, cols: list[str], more: Note | None) -> Any:
    """One Output widget per column, its outputs set directly (no capture), inside an Accordion."""
    import ipywidgets as w

    panes = []
    for c in cols:
        out = w.Output()
        body = "".join(_part_html(p) for p in eda.column_parts(c))
        out.outputs = ({"output_type": "display_data", "metadata": {}, "data": {"text/html": body}},)
        panes.append(out)
    acc = w.Accordion(children=panes, titles=tuple(f"{c} ({eda.kinds[c]})" for c in cols), selected_index=0)
    head = w.HTML("<b>Column explorer</b> (static copy: open a column below; in JupyterLab a dropdown "
                  "redraws these plots for the chosen column)")
    parts = [head, acc] + ([w.HTML(more._repr_html_())] if more is not None else [])
    return w.VBox(parts)
