"""The run folder's ``notebook.ipynb`` without the payloads its ``report.html`` already holds.

An executed notebook carries plotly.js (4.8 MB, inlined with its first figure), every figure's data and
every image (image outputs, or HTML with data-URI images); the report holds the same again. Once the
report is written, the notebook kept in the run folder drops the plotly.js bundle output and replaces
each large figure output (plotly, images) by a short note linking to the report: the figures are stored
once, in ``report.html``. Text, tables, records, curves and errors stay as they were; the notebook still
opens (and reruns) in JupyterLab.
"""

from __future__ import annotations

import copy
from pathlib import Path

from ..core.io import atomic_write_text

PLOTLY_MIME = "application/vnd.plotly.v1+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml")
MIN_IMAGE = 16384
"""An image output this large (its base64 text) is kept in the report only; smaller ones stay."""
NOTE = ('<p class="wb-in-report"><i>{what} kept once, in this run\'s <a href="report.html">report.html</a> '
        '(<code>workbench export RUN_ID -o report.html</code> gives one self-contained file)</i></p>')


def _text(v) -> str:
    return "".join(v) if isinstance(v, list) else str(v)


def _kind(data: dict) -> str | None:
    """What a rich output is, when the report keeps it alone: ``plotly.js``, ``figure``, ``image``."""
    html = _text(data.get("text/html", ""))
    if "window.PlotlyConfig" in html and "plotly.js" in html and len(html) > 100_000:
        return "plotly.js"
    if PLOTLY_MIME in data or "Plotly.newPlot(" in html:
        return "figure"
    if any(len(_text(data[m])) >= MIN_IMAGE for m in IMAGE_MIMES if m in data):
        return "image"
    if len(html) >= MIN_IMAGE and "data:image/" in html:  # a grid of images drawn as HTML (vision's mistakes)
        return "image"
    return None


def slim_notebook(nb):
    """A copy of the executed notebook ``nb`` without what its report holds (see the module)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            kind = _kind(out.get("data") or {}) if out.get("output_type") in ("display_data", "execute_result") else None
            if kind == "plotly.js":
                continue  # the bundle's own output: nothing to show
            if kind is not None:
                plain = out["data"].get("text/plain")
                out["data"] = {"text/html": NOTE.format(what="Figure" if kind == "figure" else "Image")}
                if plain is not None:
                    out["data"]["text/plain"] = plain
                out.setdefault("metadata", {})["workbench"] = {"in_report": kind}
            kept.append(out)
        cell["outputs"] = kept
    return nb


def write_notebook(path: str | Path, nb) -> None:
    """Write the slim copy of ``nb`` (its report written already) to ``path``, atomically."""
    import nbformat

    atomic_write_text(path, nbformat.writes(slim_notebook(nb)))
