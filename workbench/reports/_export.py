"""The report of one run: a self-contained, offline HTML file.

The exporter is nbconvert's lab template with every CDN reference taken out (see
``templates/workbench_report``); ipywidgets are drawn statically from their saved state and a
header (``templates/pages/header.html.j2``) shows the run's status, parameters, metrics, commit and
rerun command.
"""

from __future__ import annotations

import copy
import re
import threading
from pathlib import Path
from typing import Any

from ..core.io import atomic_write_text
from ..core.runs import RunRecord
from ..core.runstore import RunStore
from ..errors import WorkbenchError
from . import _assets, _sanitize, _widgets
from ._pages import CSS, TEMPLATES, render
from ._plotlyjs import slim_plotlyjs


def header_html(rec: RunRecord | dict[str, Any]) -> str:
    """The report header: status, run id, times, parameters, metrics, commit, rerun command."""
    if isinstance(rec, dict):
        rec = RunRecord.from_dict({"run_id": "", **rec})
    git = rec.git or {}
    commit = (git.get("commit") or "")[:12] or "not in git"
    if git.get("dirty"):
        commit += " (uncommitted changes)"
    return render("header.html.j2", rec=rec, commit=commit, notes=rec.notes, kernel_note=None)


_exporters: dict[tuple[bool, bool], Any] = {}
_exporter_lock = threading.Lock()


def warm_up(hide_code: bool = False, trust_html: bool = False) -> threading.Thread:
    """Import nbconvert and compile the report template in a background thread.

    The runner calls this while the kernel executes (the main thread only waits on the kernel
    then), so the export at the end does not pay for it.
    """
    t = threading.Thread(target=_exporter, args=(hide_code, trust_html), name="workbench-report-warmup", daemon=True)
    t.start()
    return t


def _exporter(hide_code: bool, trust_html: bool = False):
    with _exporter_lock:
        return _make_exporter(hide_code, trust_html)


def _make_exporter(hide_code: bool, trust_html: bool):
    if (hide_code, trust_html) not in _exporters:
        from nbconvert import HTMLExporter

        # nh3 in place of nbconvert's bleach-based clean_html (bleach is deprecated)
        ex = HTMLExporter(template_name="workbench_report", extra_template_basedirs=[str(TEMPLATES)],
                          filters={"clean_html": _sanitize.clean_html})
        ex.sanitize_html = not trust_html
        ex.exclude_input = hide_code
        ex.exclude_input_prompt = hide_code
        ex.embed_images = True
        # compile the template now (first render otherwise pays for it)
        ex.from_notebook_node(__import__("nbformat").v4.new_notebook(),
                              resources={"workbench_header": "", "workbench_css": ""})
        _exporters[(hide_code, trust_html)] = ex
    return _exporters[(hide_code, trust_html)]


_REMOTE_SCRIPT = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>\s*</script>""", re.I)


def strip_remote_scripts(nb) -> int:
    """Remove ``<script src="https://...">`` tags from HTML outputs (e.g. plotly's MathJax loader):
    a report must not reach out to a CDN. Returns how many were removed."""
    removed = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = out.get("data") or {}
            if "text/html" in data:
                text = data["text/html"]
                text = "".join(text) if isinstance(text, list) else text
                new, n = _REMOTE_SCRIPT.subn("", text)
                if n:
                    data["text/html"] = new
                    removed += n
    return removed


def render_report(nb, rec: RunRecord, hide_code: bool = False, trust_html: bool = False) -> str:
    """The offline HTML report of an executed notebook ``nb`` described by run record ``rec``.

    The notebook's own HTML (markdown cells, HTML outputs, widget HTML) is sanitized unless
    ``trust_html`` (see :mod:`workbench.reports._sanitize`)."""
    nb = copy.deepcopy(nb)
    token = _sanitize.new_token()
    if not trust_html:
        _sanitize.clean_widget_state(_widgets.widget_state(nb))
        _sanitize.mark_trusted_outputs(nb, token, _widgets.VIEW_MIME)
    _widgets.staticize_widgets(nb)
    strip_remote_scripts(nb)
    slim_plotlyjs(nb)  # 1.2 MB of plotly.js instead of 4.8 MB when the figures allow
    nb.metadata["title"] = f"{rec.notebook or 'report'} · {rec.run_id}"
    body, _ = _exporter(hide_code, trust_html).from_notebook_node(
        nb, resources={"workbench_header": header_html(rec), "workbench_css": CSS, "workbench_trust_token": token})
    return body


def write_report(path: str | Path, nb, rec: RunRecord, hide_code: bool = False, trust_html: bool = False,
                 reports: str | Path | None = None) -> None:
    """Write the report to ``path``; with ``reports`` (the reports tree it is written into), plotly.js and
    the theme CSS go to the tree's asset store and are linked (see :mod:`workbench.reports._assets`)."""
    html = render_report(nb, rec, hide_code, trust_html)
    if reports is not None:
        html = _assets.externalize(html, Path(path).parent, reports)
    atomic_write_text(path, html)


def export_report(reports: str | Path, run_id: str, output: str | Path) -> Path:
    """Write run ``run_id``'s report as one self-contained file ``output`` (shared assets inlined)."""
    row = RunStore(reports).find(run_id)
    report = row["dir"] / "report.html"
    if not report.is_file():
        raise WorkbenchError(f"run {row['run_id']} has no report.html (it ended before one was written)")
    out = Path(output)
    if out.resolve() == report.resolve() or out.is_dir():
        raise WorkbenchError(f"output {str(output)!r} is the run's report or a folder: give a new file name, "
                             "e.g. -o report.html")
    atomic_write_text(out, self_contained(report, reports, f"the report of run {row['run_id']}"))
    return out


def self_contained(report: str | Path, reports: str | Path, what: str = "the report") -> str:
    """The report file ``report`` of the reports tree ``reports`` with its shared assets inlined."""
    return _assets.inline_assets(Path(report).read_text(encoding="utf-8"), reports, what)


