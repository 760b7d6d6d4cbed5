"""Small run folders (issue 25): plotly.js and the theme CSS stored once per reports tree and linked from
each report, the run's notebook without the figures its report holds, and ``workbench export`` putting
the assets back into one self-contained file; all of it drawn by Chromium with the network cut off."""

import hashlib
import json
import shutil
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import pytest
from plotly.io._base_renderers import NotebookRenderer
from plotly.offline import get_plotlyjs
from support import chromium_path, remote_references, render_dom, run_cli

from workbench.core.runs import RunRecord, new_run_id
from workbench.errors import WorkbenchError
from workbench.reports import export_report, render_report, slim_notebook, update_index, write_report
from workbench.reports._assets import ASSETS, inline_assets, rebase

BUNDLE = "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n<script>" + get_plotlyjs() + "</script>"


def _figure_html(title: str) -> str:
    fig = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]]), layout_title_text=title)  # not basic: the full bundle
    return NotebookRenderer(connected=False).to_mimebundle(fig.to_dict())["text/html"]


def _out(data: dict) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("display_data", data=data)


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("fig")
    code.outputs = [_out({"text/html": BUNDLE}),
                    _out({"text/html": _figure_html("first figure"), "text/plain": "Figure()"}),
                    _out({"image/png": "iVBORw0KGgo" + "A" * 20000, "text/plain": "<Figure size 640x480>"}),
                    _out({"text/html": '<div><img src="data:image/png;base64,' + "B" * 20000 + '"/></div>'}),
                    nbformat.v4.new_output("stream", text="kept text\n"),
                    _out({"text/html": "<table><tr><td>kept table</td></tr></table>"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), code]
    return nb


def _run(reports: Path, nb=None) -> RunRecord:
    rec = RunRecord(run_id=new_run_id(), notebook="notebooks/nb.ipynb", notebook_name="nb", status="succeeded")
    folder = reports / "nb" / rec.run_id
    (folder / "artifacts").mkdir(parents=True)
    rec.save(folder)
    write_report(folder / "report.html", nb or _notebook(), rec, reports=reports)
    return rec


def test_a_report_links_plotlyjs_and_css_once_and_export_puts_them_back_exactly(tmp_path: Path):
    reports = tmp_path / "reports"
    nb = _notebook()
    a, b = _run(reports, nb), _run(reports, nb)
    assets = sorted(p.suffix for p in (reports / ASSETS).iterdir())
    assert assets == [".css", ".css", ".js"], "plotly.js and the two theme style sheets, once for both runs"
    js = next(p for p in (reports / ASSETS).iterdir() if p.suffix == ".js")
    assert js.read_text() == get_plotlyjs() and js.name == hashlib.sha256(js.read_bytes()).hexdigest() + ".js"
    report = (a.folder.report).read_text()
    assert len(report) < 200_000 and get_plotlyjs()[:2000] not in report
    assert f'src="../../{ASSETS}/{js.name}"' in report and remote_references(report) == []
    assert report.count("Plotly.newPlot(") == 1, "the figure's own data stays in the run's report"
    outside = tmp_path / "outside.html"
    write_report(outside, nb, b, reports=reports)
    assert "data-wb-asset" not in outside.read_text(), "a page outside the tree keeps its assets inline"
    out = tmp_path / "mail" / "report.html"
    assert export_report(reports, b.run_id, out) == out
    assert out.read_text() == render_report(nb, b), "export gives back the self-contained report, exactly"


def test_export_refuses_a_missing_or_changed_asset_and_never_follows_the_link(tmp_path: Path):
    reports = tmp_path / "reports"
    rec = _run(reports)
    js = next(p for p in (reports / ASSETS).iterdir() if p.suffix == ".js")
    secret = tmp_path / "secret.js"
    secret.write_text("SECRET")
    page = rec.folder.report
    page.write_text(page.read_text().replace(f"../../{ASSETS}/{js.name}", str(secret)))  # a forged link
    exported = export_report(reports, rec.run_id, tmp_path / "x.html").read_text()
    assert "SECRET" not in exported and get_plotlyjs()[:1000] in exported, "read from the store by hash only"
    js.chmod(0o644)
    js.write_text("changed")
    with pytest.raises(WorkbenchError, match="does not match its hash"):
        export_report(reports, rec.run_id, tmp_path / "y.html")
    js.unlink()
    proc = run_cli("export", rec.run_id[:12], "-o", str(tmp_path / "z.html"), "--reports", str(reports), cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and not (tmp_path / "z.html").exists()
    assert f"needs the shared asset {ASSETS}/{js.name}, which is missing" in proc.stderr, proc.stderr
    assert inline_assets('<script data-wb-asset="../x.js" src="../x.js"></script>', reports) == \
        '<script data-wb-asset="../x.js" src="../x.js"></script>', "only 64-hex names are asset links"


def test_the_run_notebook_keeps_text_and_drops_what_the_report_holds():
    nb = _notebook()
    slim = slim_notebook(nb)
    nbformat.validate(slim)
    outs = slim.cells[1].outputs
    assert len(nb.cells[1].outputs) == 6 and len(outs) == 5, "the plotly.js bundle output is gone"
    assert [o.get("metadata", {}).get("workbench", {}).get("in_report") for o in outs] == \
        ["figure", "image", "image", None, None]
    assert outs[0].data["text/plain"] == "Figure()" and 'href="report.html"' in outs[0].data["text/html"]
    assert "Plotly.newPlot" not in json.dumps(slim) and "iVBORw0KGgo" not in json.dumps(slim) and "BBBB" not in \
        json.dumps(slim), "figures, image outputs and HTML image grids are kept in the report only"
    assert outs[3].text == "kept text\n" and "kept table" in outs[4].data["text/html"]
    assert len(json.dumps(slim)) < 5000 < len(json.dumps(nb)), "the figures are stored once, in the report"


def test_latest_html_links_the_store_from_its_own_folder(tmp_path: Path):
    reports = tmp_path / "reports"
    _run(reports)
    update_index(reports)
    latest = (reports / "nb" / "latest.html").read_text()
    assert f'src="../{ASSETS}/' in latest and f'src="../../{ASSETS}/' not in latest
    assert rebase(latest, reports / "nb" / "x", reports) != latest


def test_an_exported_report_draws_offline_in_chromium_with_nothing_beside_it(tmp_path: Path):
    if chromium_path() is None:
        pytest.skip("Chromium is not installed")
    reports = tmp_path / "reports"
    rec = _run(reports)
    update_index(reports)
    alone = tmp_path / "elsewhere" / "report.html"
    export_report(reports, rec.run_id, alone)
    shutil.rmtree(reports / ASSETS)  # the exported file needs nothing beside it
    broken = render_dom(rec.folder.report)
    assert 'class="main-svg"' not in broken, "the store is what draws the run's report (checked without it)"
    dom = render_dom(alone)
    assert dom.count('class="main-svg"') >= 1 and "kept table" in dom and "first figure" in dom


def test_a_report_in_the_tree_draws_offline_with_the_store(tmp_path: Path):
    if chromium_path() is None:
        pytest.skip("Chromium is not installed")
    reports = tmp_path / "reports"
    rec = _run(reports)
    update_index(reports)
    for page in (rec.folder.report, reports / "nb" / "latest.html"):
        dom = render_dom(page)
        assert dom.count('class="main-svg"') >= 1, f"plotly did not draw {page.name}"
        assert "kept table" in dom and "first figure" in dom
