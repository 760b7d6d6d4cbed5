"""Reports carry the basic plotly.js bundle when every figure fits it, the full one otherwise."""

from __future__ import annotations

import nbformat
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from workbench.reports._plotlyjs import basic_bundle, bundle_version, slim_plotlyjs, trace_types


def notebook_with(*figures: go.Figure):
    nb = nbformat.v4.new_notebook()
    bundle = f"<script>window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script><script>{get_plotlyjs()}</script>"
    outputs = [nbformat.v4.new_output("display_data", {"text/html": bundle})]
    outputs += [nbformat.v4.new_output("display_data", {"text/html": pio.to_html(f, include_plotlyjs=False,
                                                                                full_html=False)})
                for f in figures]
    nb.cells = [nbformat.v4.new_code_cell("fig.show()", outputs=outputs)]
    return nb


def bundle_of(nb) -> str:
    return nb.cells[0].outputs[0]["data"]["text/html"]


@pytest.mark.skipif(not basic_bundle() or bundle_version(basic_bundle()) != get_plotlyjs_version(),
                    reason="the vendored basic bundle is not this plotly's version")
def test_scatter_and_bar_figures_get_the_basic_bundle():
    nb = notebook_with(go.Figure(go.Bar(x=[1, 2], y=[3, 4])), go.Figure(go.Scatter(x=[1], y=[2], line_shape="hvh")))
    assert slim_plotlyjs(nb)
    html = bundle_of(nb)
    assert "plotly.js (basic - minified) v" + get_plotlyjs_version() in html
    assert 1_000_000 < len(html) < 1_500_000 and html.endswith("</script>")


def test_other_trace_types_keep_the_full_bundle():
    nb = notebook_with(go.Figure(go.Bar(x=[1], y=[1])), go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))
    assert trace_types(nb.cells[0].outputs[2]["data"]["text/html"]) == {"heatmap"}
    assert not slim_plotlyjs(nb)
    assert len(bundle_of(nb)) > 4_000_000


def test_unreadable_figure_calls_keep_the_full_bundle():
    nb = notebook_with(go.Figure(go.Bar(x=[1], y=[1])))
    nb.cells[0].outputs.append(nbformat.v4.new_output("display_data", {"text/html": 'Plotly.newPlot("x", [{oops'}))
    assert not slim_plotlyjs(nb)
