"""A shared report must not run the notebook's own scripts (issue 21, item 6): markdown cells, HTML and
JavaScript outputs and widget HTML are sanitized with nh3 unless the run trusts them; plotly figures are
rebuilt from their JSON and keep drawing; ``trust_html`` keeps everything as it was."""

import re
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import pytest
from plotly.io._base_renderers import NotebookRenderer
from plotly.offline import get_plotlyjs
from support import chromium_path, render_dom

from workbench.core.runs import RunRecord
from workbench.reports import render_report
from workbench.reports._sanitize import TRUST_KEY, clean_html, rebuild_figure

MARKDOWN = ("# Results\n\n<script>document.title = 'PWNED-md'</script>\n"
            "<img src=x onerror=\"document.title='PWNED-img'\">\n\n[link](javascript:alert(1)) **bold**")
EVIL_HTML = "<table class='t'><tr><td>kept cell</td></tr></table><script>document.title = 'PWNED-html'</script>"
FAKE_BUNDLE = ("<script>window.PlotlyConfig = {};</script><script>/** plotly.js v0 */ document.title = 'PWNED-bundle';"
               + " " * 200_000 + "</script>")


def _figure_html(title: str) -> str:
    return NotebookRenderer(connected=False).to_mimebundle(go.Figure(go.Bar(y=[1, 2]), layout_title_text=title)
                                                           .to_dict())["text/html"]


def _html_out(html: str, **meta) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("display_data", data={"text/html": html}, metadata=meta)


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x = 1")
    injected_after_args = _figure_html("ok").replace("{\"responsive\": true}", "{\"responsive\": true}); "
                                                     "document.title = 'PWNED-args'; (function(){")
    code.outputs = [
        _html_out("<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n<script>" + get_plotlyjs()
                  + "</script>"),
        _html_out(_figure_html("a </script><script>document.title='PWNED-figtext'</script> title")),
        _html_out(injected_after_args),
        _html_out(EVIL_HTML),
        _html_out("<b>marked</b><script>document.title = 'PWNED-marked'</script>", **{TRUST_KEY: "guess"}),
        _html_out(FAKE_BUNDLE),
        nbformat.v4.new_output("display_data", data={"application/javascript": "document.title = 'PWNED-js'"}),
        nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "w1", "version_major": 2, "version_minor": 0}}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell(MARKDOWN), code]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
        "w1": {"model_name": "VBoxModel", "state": {"_model_name": "VBoxModel", "children": ["IPY_MODEL_w2",
                                                                                            "IPY_MODEL_w3"]}},
        "w2": {"model_name": "HTMLModel", "state": {"_model_name": "HTMLModel",
                                                    "value": "<i>w</i><script>document.title='PWNED-widget'</script>"}},
        "w3": {"model_name": "OutputModel", "state": {"_model_name": "OutputModel", "outputs": [
            {"output_type": "display_data", "metadata": {},
             "data": {"text/html": "<script>document.title='PWNED-output'</script>out",
                      "image/svg+xml": "<svg><script>document.title='PWNED-svg'</script></svg>"}}]}},
    }}}
    return nb


REC = RunRecord.from_dict({"run_id": "r1", "notebook": "nb", "status": "succeeded"})


def test_notebook_html_is_sanitized_and_plotly_figures_are_rebuilt():
    html = render_report(_notebook(), REC)
    for tag in ("md", "img", "html", "marked", "bundle", "js", "widget", "output", "svg", "json", "args"):
        assert f"PWNED-{tag}" not in html.replace("PWNED-figtext'&lt;", ""), tag
    own = re.sub(r"<script>/\*\*.*?</script>", "", html, flags=re.S)  # the page without plotly.js
    assert "javascript:alert" not in own and "onerror" not in own
    assert "<h1" in html and "<strong>bold</strong>" in html and "kept cell" in html and "<i>w</i>" in html
    assert own.count("Plotly.newPlot(") == 2 and len(html) - len(own) > 1_000_000, "two figures, plotly.js once"
    assert "\\u003c\\u002fscript\\u003e" in html, "text in a figure stays data, escaped inside the script"
    trusted = render_report(_notebook(), REC, trust_html=True)
    assert "document.title = 'PWNED-md'" in trusted and "PWNED-html" in trusted, "--trust-html keeps it all"


def test_the_sanitizer_keeps_tables_styles_and_images_and_drops_handlers():
    assert clean_html('<div style="color:red" class="c"><img src="data:image/png;base64,AAAA" alt="a"></div>') == \
        '<div style="color:red" class="c"><img src="data:image/png;base64,AAAA" alt="a"></div>'
    assert clean_html("<style>.t{color:red}</style><p onclick=\"x()\">p</p>") == "<style>.t{color:red}</style><p>p</p>"
    assert rebuild_figure("<div>not a figure</div>") is None


def test_a_sanitized_report_still_draws_its_figures_and_runs_no_notebook_script(tmp_path: Path):
    if chromium_path() is None:
        pytest.skip("Chromium is not installed")
    page = tmp_path / "report.html"
    page.write_text(render_report(_notebook(), REC))
    dom = render_dom(page)
    assert dom.count('class="main-svg"') >= 2, "plotly did not draw"
    assert "PWNED" not in dom.split("<body")[0], "a notebook script ran (it sets the title)"
