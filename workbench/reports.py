"""HTML reports: one self-contained, offline file per run, plus the index and ``latest.html``.

The exporter is nbconvert's lab template with every CDN reference taken out (see
``templates/workbench_report``); ipywidgets are drawn statically from their saved state and a
header shows the run's status, parameters, metrics, commit and rerun command.
"""

from __future__ import annotations

import copy
import datetime as _dt
import html
import json
import re
import shutil
import threading
from pathlib import Path
from typing import Any, Iterable

from . import _widgets
from .runs import atomic_write_text, load_records

TEMPLATES = Path(__file__).parent / "templates"

CSS = """
.wb-header{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;border:1px solid #d0d7de;
 border-radius:8px;padding:12px 16px;margin:12px 0 20px;background:#f6f8fa;font-size:14px;line-height:1.45}
.wb-header h1{font-size:20px;margin:0 0 6px}
.wb-status{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;font-size:12px;
 vertical-align:middle}
.wb-status-succeeded{background:#1a7f37}.wb-status-failed{background:#cf222e}
.wb-status-interrupted,.wb-status-running{background:#9a6700}.wb-status-cached{background:#0969da}
.wb-error-box{border:1px solid #cf222e;background:#ffebe9;border-radius:6px;padding:8px 12px;margin:8px 0}
.wb-kv{border-collapse:collapse;margin:6px 0}.wb-kv td,.wb-kv th{border:1px solid #d0d7de;padding:2px 8px;
 text-align:left;font-size:13px;vertical-align:top}
.wb-kv th{background:#eaeef2}
.wb-cmd{display:block;white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid #d0d7de;
 padding:4px 8px;border-radius:4px;font-size:12px}
.wb-widget{margin:2px 0;font-family:system-ui,sans-serif;font-size:13px}
.wb-widget-label{font-weight:600;margin-right:4px}
.wb-muted{color:#57606a}
"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


def _kv_table(d: dict[str, Any], head: tuple[str, str]) -> str:
    if not d:
        return ' <span class="wb-muted">none</span>'
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_fmt(v))}</td></tr>" for k, v in d.items())
    return f'<table class="wb-kv"><tr><th>{head[0]}</th><th>{head[1]}</th></tr>{rows}</table>'


def header_html(rec: dict[str, Any]) -> str:
    """The report header: status, run id, times, parameters, metrics, commit, rerun command."""
    status = rec.get("status", "unknown")
    esc = html.escape
    err = ""
    if rec.get("error"):
        e = rec["error"]
        where = (f'<a href="#papermill-error-cell">cell {e.get("cell_index")} (In [{e.get("exec_count")}])</a>'
                 if e.get("cell_index") is not None else "the run")
        err = (f'<div class="wb-error-box"><b>Failed</b> at {where}: '
               f'<code>{esc(str(e.get("ename", "")))}: {esc(str(e.get("evalue", "")))}</code></div>')
    git = rec.get("git") or {}
    commit = (git.get("commit") or "")[:12] or "not in git"
    if git.get("dirty"):
        commit += " (uncommitted changes)"
    cache = ""
    if rec.get("cached_from"):
        cache = f' · <span class="wb-muted">reused from run {esc(rec["cached_from"])}</span>'
    dur = rec.get("duration_s")
    return (
        '<section class="wb-header" id="workbench-header">'
        f'<h1>{esc(rec.get("notebook", ""))} <span class="wb-status wb-status-{esc(status)}">{esc(status)}</span></h1>'
        f'<div class="wb-muted">run <code>{esc(rec.get("run_id", ""))}</code> · started {esc(str(rec.get("started", "")))}'
        f'{f" · {dur:.1f} s" if isinstance(dur, (int, float)) else ""} · commit <code>{esc(commit)}</code>{cache}</div>'
        f"{err}"
        '<div style="display:flex;gap:24px;flex-wrap:wrap">'
        f'<div><b>Parameters</b>{_kv_table(rec.get("params", {}), ("name", "value"))}</div>'
        f'<div><b>Metrics</b>{_kv_table(rec.get("metrics", {}), ("name", "value"))}</div>'
        "</div>"
        f'<div><b>Rerun</b><code class="wb-cmd">{esc(rec.get("rerun_command", ""))}</code></div>'
        "</section>"
    )


_exporters: dict[bool, Any] = {}
_exporter_lock = threading.Lock()


def warm_up(hide_code: bool = False) -> threading.Thread:
    """Import nbconvert and compile the report template in a background thread.

    The runner calls this while the kernel executes (the main thread only waits on the kernel
    then), so the export at the end does not pay for it.
    """
    t = threading.Thread(target=_exporter, args=(hide_code,), name="workbench-report-warmup", daemon=True)
    t.start()
    return t


def _exporter(hide_code: bool):
    with _exporter_lock:
        return _make_exporter(hide_code)


def _make_exporter(hide_code: bool):
    if hide_code not in _exporters:
        from nbconvert import HTMLExporter

        ex = HTMLExporter(template_name="workbench_report", extra_template_basedirs=[str(TEMPLATES)])
        ex.exclude_input = hide_code
        ex.exclude_input_prompt = hide_code
        ex.embed_images = True
        # compile the template now (first render otherwise pays for it)
        ex.from_notebook_node(__import__("nbformat").v4.new_notebook(),
                              resources={"workbench_header": "", "workbench_css": ""})
        _exporters[hide_code] = ex
    return _exporters[hide_code]


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


def render_report(nb, rec: dict[str, Any], hide_code: bool = False) -> str:
    """The offline HTML report of an executed notebook ``nb`` described by run record ``rec``."""
    nb = copy.deepcopy(nb)
    _widgets.staticize_widgets(nb)
    strip_remote_scripts(nb)
    nb.metadata["title"] = f'{rec.get("notebook", "report")} · {rec.get("run_id", "")}'
    body, _ = _exporter(hide_code).from_notebook_node(
        nb, resources={"workbench_header": header_html(rec), "workbench_css": CSS})
    return body


def write_report(path: str | Path, nb, rec: dict[str, Any], hide_code: bool = False) -> None:
    atomic_write_text(path, render_report(nb, rec, hide_code))


# ----------------------------------------------------------------------------- index


def _rel(reports: Path, rec: dict[str, Any], name: str) -> str:
    return str((Path(rec["_dir"]) / name).relative_to(reports))


def _key_params(params: dict[str, Any], limit: int = 6) -> str:
    items = list(params.items())[:limit]
    return ", ".join(f"{k}={_fmt(v)}" for k, v in items) + (" …" if len(params) > limit else "")


def index_html(reports: Path, records: Iterable[dict[str, Any]], extra_links: dict[str, str] | None = None) -> str:
    esc = html.escape
    rows = []
    for r in records:
        metrics = ", ".join(f"{k}={_fmt(v)}" for k, v in list((r.get("metrics") or {}).items())[:5])
        dur = r.get("duration_s")
        sweep = r.get("sweep_id")
        sweep_cell = ""
        if sweep:
            link = (extra_links or {}).get(sweep)
            sweep_cell = f'<a href="{esc(link)}">{esc(sweep)}</a>' if link else esc(sweep)
        rows.append(
            "<tr>"
            f'<td>{esc(r.get("notebook", ""))}</td>'
            f'<td><code>{esc(r.get("run_id", ""))}</code></td>'
            f'<td>{esc(str(r.get("started", ""))[:19].replace("T", " "))}</td>'
            f'<td><span class="wb-status wb-status-{esc(r.get("status", ""))}">{esc(r.get("status", ""))}</span>'
            f'{" <span class=wb-muted>reused " + esc(r["cached_from"]) + "</span>" if r.get("cached_from") else ""}</td>'
            f'<td>{f"{dur:.1f} s" if isinstance(dur, (int, float)) else ""}</td>'
            f'<td>{esc(_key_params(r.get("params") or {}))}</td>'
            f"<td>{esc(metrics)}</td>"
            f"<td>{sweep_cell}</td>"
            f'<td><a href="{esc(_rel(reports, r, "report.html"))}">report</a> · '
            f'<a href="{esc(_rel(reports, r, "notebook.ipynb"))}">notebook</a> · '
            f'<a href="{esc(_rel(reports, r, "run.json"))}">run.json</a></td>'
            "</tr>"
        )
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>workbench runs</title>'
        f"<style>{CSS} body{{font-family:system-ui,sans-serif;margin:24px}} "
        "table.runs{border-collapse:collapse;font-size:13px}table.runs td,table.runs th{border-bottom:1px solid #d0d7de;"
        "padding:4px 8px;text-align:left;vertical-align:top}</style></head><body>"
        f'<h1>workbench runs</h1><p class="wb-muted">{len(rows)} runs, newest first · generated {now}</p>'
        '<table class="runs"><tr><th>notebook</th><th>run</th><th>started (UTC)</th><th>status</th><th>duration</th>'
        "<th>parameters</th><th>metrics</th><th>sweep</th><th>links</th></tr>"
        + "".join(rows) + "</table></body></html>"
    )


def update_index(reports: str | Path, notebook: str | None = None) -> Path:
    """Regenerate ``reports/index.html`` and the notebooks' ``latest.html`` from the run records.

    Callers hold the reports lock (see :func:`workbench.execute.reports_lock`).
    """
    reports = Path(reports)
    records = load_records(reports)
    sweeps = {}
    for r in records:
        sid = r.get("sweep_id")
        if sid and (reports / "sweeps" / sid / "compare.html").exists():
            sweeps[sid] = f"sweeps/{sid}/compare.html"
    index = reports / "index.html"
    atomic_write_text(index, index_html(reports, records, sweeps))
    names = {notebook} if notebook else {r.get("notebook_name") for r in records}
    for name in filter(None, names):
        ok = [r for r in records if r.get("notebook_name") == name and r.get("status") == "succeeded"
              and (Path(r["_dir"]) / "report.html").exists()]
        if ok:
            src = Path(ok[0]["_dir"]) / "report.html"
            dst = reports / name / "latest.html"
            tmp = dst.with_name(".latest.html.tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
    return index
