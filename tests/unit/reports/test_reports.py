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
