import os
from pathlib import Path

import nbformat

from workbench.core.io import write_json
from workbench.core.runs import load_records, new_run_id
from workbench.reports import _widgets, header_html, strip_remote_scripts, update_index


def _state(**models):
    return {k: {"model_name": v["_model_name"], "state": v} for k, v in models.items()}


def test_static_widgets_render_values_and_nesting():
    state = _state(
        box={"_model_name": "HBoxModel", "children": ["IPY_MODEL_s", "IPY_MODEL_d", "IPY_MODEL_o"]},
        s={"_model_name": "FloatSliderModel", "value": 0.25, "min": 0, "max": 1, "step": 0.05, "description": "alpha"},
        d={"_model_name": "DropdownModel", "_options_labels": ["a", "b<c"], "index": 1, "description": "col"},
        o={"_model_name": "OutputModel", "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi <b>"},
                                                     {"output_type": "display_data", "data": {"text/html": "<i>x</i>"}}]},
    )
    html = _widgets.render_widget("box", state)
    assert 'data-widget="HBox"' in html and "flex-direction:row" in html
    assert 'value="0.25"' in html and "alpha" in html
    assert "<option selected>b&lt;c</option>" in html
    assert "hi &lt;b&gt;" in html and "<i>x</i>" in html
    assert "widget state not saved" in _widgets.render_widget("missing", state)


def test_staticize_replaces_views_and_drops_cdn_state():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("w")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        _widgets.VIEW_MIME: {"model_id": "c", "version_major": 2}, "text/plain": "Checkbox()"})]
    nb.cells = [cell]
    nb.metadata["widgets"] = {_widgets.STATE_MIME: {"state": _state(c={"_model_name": "CheckboxModel", "value": True})}}
    assert _widgets.staticize_widgets(nb) == 1
    data = nb.cells[0].outputs[0]["data"]
    assert _widgets.VIEW_MIME not in data and "checked" in data["text/html"]
    assert "widgets" not in nb.metadata


def test_strip_remote_scripts_keeps_inline_code():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": (
        '<div><script src="https://cdn.example.org/mathjax.js"></script><script>var u="https://x.org";</script></div>')})]
    nb.cells = [cell]
    assert strip_remote_scripts(nb) == 1
    assert nb.cells[0].outputs[0]["data"]["text/html"] == '<div><script>var u="https://x.org";</script></div>'


def test_header_escapes_and_shows_failure_link():
    rec = {"notebook": "x<y>", "status": "failed", "run_id": "r1", "params": {"a": "<b>"}, "metrics": {"m": 0.123456},
           "error": {"cell_index": 3, "exec_count": 2, "ename": "KeyError", "evalue": "'k'"},
           "rerun_command": "workbench run x.ipynb", "git": {"commit": "abcdef1234567890", "dirty": True}}
    html = header_html(rec)
    assert "x&lt;y&gt;" in html and "&lt;b&gt;" in html and "0.1235" in html
    assert 'href="#papermill-error-cell"' in html and "KeyError" in html
    assert "abcdef123456 (uncommitted changes)" in html


def test_records_listing_marks_dead_running_runs_and_index_regenerates(tmp_path: Path):
    reports = tmp_path / "reports"
    import datetime as dt

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    ids = [new_run_id(t0 + dt.timedelta(seconds=i)) for i in range(3)]
    assert len({new_run_id(t0) for _ in range(50)}) == 50, "same millisecond, still unique"
    for i, rid in enumerate(ids):
        d = reports / "nb" / rid
        (d).mkdir(parents=True)
        status = ["succeeded", "failed", "running"][i]
        write_json(d / "run.json", {"run_id": rid, "notebook": "nb.ipynb", "notebook_name": "nb", "status": status,
                                    "params": {"a": i}, "metrics": {"m": i}, "pid": 2**22 + 12345,
                                    "host": os.uname().nodename})
        (d / "report.html").write_text(f"report {i}")
    recs = load_records(reports)
    assert [r.run_id for r in recs] == sorted(ids, reverse=True)
    assert recs[0].status == "interrupted"  # its process is gone
    assert [r.run_id for r in load_records(reports, status="failed")] == [ids[1]]
    update_index(reports)
    index = (reports / "index.html").read_text()
    assert all(rid in index for rid in ids) and "nb/%s/report.html" % ids[0] in index
    assert (reports / "nb" / "latest.html").read_text() == "report 0"




def test_index_links_are_url_encoded(tmp_path: Path):
    """A run folder whose name needs encoding (``#``, ``%``, spaces: written by an older version or by
    hand) still links correctly."""
    reports = tmp_path / "reports"
    d = reports / "odd #1 100%" / "20260101T000000000Z-abcdef"
    d.mkdir(parents=True)
    write_json(d / "run.json", {"run_id": d.name, "notebook": "odd.ipynb", "notebook_name": "odd #1 100%",
                                "status": "succeeded", "params": {}, "metrics": {}})
    (d / "report.html").write_text("r")
    update_index(reports)
    index = (reports / "index.html").read_text()
    assert 'href="odd%20%231%20100%25/20260101T000000000Z-abcdef/report.html"' in index


def _fake_runs(reports: Path, specs: list[tuple[str, dict, dict]]) -> list[str]:
    ids = []
    for rid, params, metrics in specs:
        d = reports / "nb" / rid
        d.mkdir(parents=True)
        write_json(d / "run.json", {"run_id": rid, "notebook": "nb.ipynb", "notebook_name": "nb", "status": "succeeded",
                                    "params": params, "metrics": metrics})
        write_json(d / "curves.json", {"loss": {"x": [0, 1], "y": [1.0, metrics["auc"]], "xlabel": "e", "ylabel": "l"}})
        (d / "report.html").write_text("r")
        ids.append(rid)
    return ids


def test_compare_with_a_baseline_prefix_shows_deltas_and_refuses_ambiguity(tmp_path: Path):
    from support import run_cli

    reports = tmp_path / "reports"
    ids = _fake_runs(reports, [("20260101T000000000Z-aaa111", {"lr": 0.1, "k": 1}, {"auc": 0.80, "model": "a"}),
                               ("20260101T000000000Z-aab222", {"lr": 0.01, "k": 1}, {"auc": 0.85, "model": "b"}),
                               ("20260102T000000000Z-ccc333", {"lr": 0.001, "k": 1}, {"auc": 0.78, "model": "c"})])
    proc = run_cli("compare", *ids, "--baseline", "20260101T000000000Z-aab", "-o", "cmp.html", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "cmp.html").read_text()
    assert "20260101T000000000Z-aab222 (baseline)" in html
    assert '<span class="wb-delta down">(-0.05)</span>' in html and '<span class="wb-delta down">(-0.07)</span>' in html
    assert '<tr class="wb-diff"><td>lr</td>' in html and "<tr><td>k</td>" in html  # only lr varies
    assert "varying: lr" in html and html.count('class="wb-plot"') == 2  # auc vs lr, and the loss curves
    assert 'href="reports/nb/20260101T000000000Z-aaa111/report.html"' in html
    cases = [(["--baseline", "20260101T000000000Z-aa"], "ambiguous among the compared runs"),
             (["--baseline", "2027"], "not among the compared runs"), ]
    for extra, message in cases:
        bad = run_cli("compare", *ids, *extra, cwd=tmp_path)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
    for args, message in ((["2026"], "at least two run ids"), (["20260101", "2026"], "is ambiguous"),
                          (["nope", ids[0]], "no run 'nope'"), ([ids[0], ids[0]], "the same run is given twice")):
        bad = run_cli("compare", *args, cwd=tmp_path)
        assert bad.returncode == 2 and message in bad.stderr, (args, bad.stderr)
    default = run_cli("compare", ids[0], ids[2], cwd=tmp_path)
    assert default.returncode == 0
    page = tmp_path / default.stdout.split()[-1]
    assert f"{ids[0]} (baseline)" in page.read_text(), "the oldest run is the default baseline"
    assert 'src="../.assets/' in page.read_text() and "* plotly.js" not in page.read_text(), "in the tree: linked"
    assert "data-wb-asset" not in html and "* plotly.js" in html, "outside the tree: plotly.js inlined"
