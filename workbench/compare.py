"""Comparison pages: several runs side by side in one offline HTML file.

``workbench compare RUN_ID... | --sweep ID`` writes a page with the parameter differences, a
metrics table with deltas against a baseline run, metric-vs-parameter plots, and the curves the
runs recorded (``workbench.record_curve``) overlaid. plotly.js is inlined once.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any, Sequence

from .errors import WorkbenchError
from .record import read_curves
from .reports import CSS, _fmt
from .runs import atomic_write_text, find_run, load_records


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _curves(rec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    path = Path(rec["_dir"]) / "curves.json"
    if path.exists():
        try:
            return json.loads(path.read_text())
        except ValueError:
            return {}
    nb = Path(rec["_dir"]) / "notebook.ipynb"
    return read_curves(nb) if nb.exists() else {}


def _label(rec: dict[str, Any], varying: Sequence[str]) -> str:
    parts = [f"{k}={_fmt(rec['params'].get(k))}" for k in varying]
    return ", ".join(parts) if parts else rec["run_id"]


def compare_html(records: list[dict[str, Any]], baseline: str | None = None, title: str = "Run comparison",
                 page_dir: str | Path = ".") -> str:
    """The comparison page of ``records`` (run records with ``_dir``); deltas against ``baseline``.
    Links to the run reports are relative to ``page_dir``, where the page will be written."""
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    if not records:
        raise WorkbenchError("nothing to compare: no runs given")
    records = sorted(records, key=lambda r: r["run_id"])
    base = next((r for r in records if r["run_id"].startswith(baseline)), None) if baseline else records[0]
    if base is None:
        raise WorkbenchError(f"baseline {baseline!r} is not among the compared runs")
    esc = html.escape
    all_params = sorted({k for r in records for k in (r.get("params") or {})})
    varying = [k for k in all_params if len({json.dumps(r["params"].get(k), sort_keys=True, default=str)
                                             for r in records}) > 1]
    metrics = sorted({k for r in records for k in (r.get("metrics") or {})})

    head = "".join(f"<th>{esc(r['run_id'])}{' (baseline)' if r is base else ''}</th>" for r in records)
    prow = []
    for k in all_params:
        cls = ' class="wb-diff"' if k in varying else ""
        prow.append(f"<tr{cls}><td>{esc(k)}</td>" + "".join(
            f"<td>{esc(_fmt(r['params'].get(k)))}</td>" for r in records) + "</tr>")
    mrow = []
    for m in metrics:
        cells = []
        b = (base.get("metrics") or {}).get(m)
        for r in records:
            v = (r.get("metrics") or {}).get(m)
            delta = ""
            if r is not base and _numeric(v) and _numeric(b):
                d = v - b
                delta = f' <span class="wb-delta {"up" if d > 0 else "down" if d < 0 else ""}">({d:+.4g})</span>'
            cells.append(f"<td>{esc(_fmt(v)) if v is not None else ''}{delta}</td>")
        mrow.append(f"<tr><td>{esc(m)}</td>{''.join(cells)}</tr>")
    status = "".join(f'<td><span class="wb-status wb-status-{esc(r.get("status", ""))}">{esc(r.get("status", ""))}'
                     f'</span> <a href="{esc(_report_link(r, page_dir))}">report</a></td>' for r in records)

    figs = []
    for m in metrics:
        for p in varying:
            xs = [(r["params"].get(p), r["metrics"].get(m)) for r in records if _numeric((r.get("metrics") or {}).get(m))]
            if len(xs) < 2:
                continue
            fig = go.Figure(go.Scatter(x=[_fmt(x) if not _numeric(x) else x for x, _ in xs], y=[y for _, y in xs],
                                       mode="markers", marker=dict(size=10),
                                       text=[_label(r, varying) for r in records
                                             if _numeric((r.get("metrics") or {}).get(m))]))
            fig.update_layout(title=f"{m} vs {p}", xaxis_title=p, yaxis_title=m, template="plotly_white",
                              height=340, margin=dict(l=60, r=20, t=50, b=50))
            figs.append(fig)
    curve_names: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for r in records:
        for name, c in _curves(r).items():
            curve_names.setdefault(name, []).append((r, c))
    for name, items in sorted(curve_names.items()):
        fig = go.Figure()
        for r, c in items:
            fig.add_trace(go.Scatter(x=c["x"], y=c["y"], mode="lines", name=_label(r, varying)))
        first = items[0][1]
        fig.update_layout(title=name, xaxis_title=first.get("xlabel", ""), yaxis_title=first.get("ylabel", ""),
                          template="plotly_white", height=380, margin=dict(l=60, r=20, t=50, b=50))
        figs.append(fig)
    plots = "".join(f'<div class="wb-plot">{f.to_html(include_plotlyjs=False, full_html=False, include_mathjax=False)}'
                    "</div>" for f in figs)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{CSS}"
        "body{font-family:system-ui,sans-serif;margin:24px}table.cmp{border-collapse:collapse;font-size:13px}"
        "table.cmp td,table.cmp th{border:1px solid #d0d7de;padding:3px 8px;text-align:left}"
        "tr.wb-diff td{background:#fff8c5}.wb-delta.up{color:#1a7f37}.wb-delta.down{color:#cf222e}"
        ".wb-plot{display:inline-block;width:48%;min-width:420px;vertical-align:top}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{esc(title)}</h1>"
        f'<p class="wb-muted">{len(records)} runs of {esc(", ".join(sorted({r.get("notebook_name", "") for r in records})))}'
        f" · baseline {esc(base['run_id'])} · varying: {esc(', '.join(varying) or 'nothing')}</p>"
        f'<h2>Runs</h2><table class="cmp"><tr><th></th>{head}</tr><tr><td>status</td>{status}</tr></table>'
        f'<h2>Parameters</h2><table class="cmp"><tr><th>parameter</th>{head}</tr>{"".join(prow)}</table>'
        f'<h2>Metrics</h2><table class="cmp"><tr><th>metric</th>{head}</tr>{"".join(mrow)}</table>'
        f"<h2>Plots</h2>{plots or '<p class=wb-muted>no numeric metric varies with a parameter, and no curves were recorded</p>'}"
        "</body></html>"
    )


def _report_link(rec: dict[str, Any], page_dir: str | Path) -> str:
    return os.path.relpath(Path(rec["_dir"], "report.html").resolve(), Path(page_dir).resolve())


def write_compare(reports: str | Path, run_ids: Sequence[str] = (), sweep: str | None = None,
                  baseline: str | None = None, output: str | Path | None = None) -> Path:
    """Write a comparison page; for a sweep it goes to ``reports/sweeps/<id>/compare.html``."""
    reports = Path(reports)
    if sweep:
        records = load_records(reports, sweep=sweep)
        if not records:
            raise WorkbenchError(f"no runs of sweep {sweep!r} under {str(reports)!r}")
        out = Path(output) if output else reports / "sweeps" / sweep / "compare.html"
        title = f"Sweep {sweep}"
    else:
        if len(run_ids) < 2:
            raise WorkbenchError("give at least two run ids (see `workbench runs`) or --sweep ID")
        records = [find_run(reports, r) for r in run_ids]
        out = Path(output) if output else reports / "compare" / ("-".join(r["run_id"][-6:] for r in records) + ".html")
        title = "Run comparison"
    page = compare_html(records, baseline=baseline, title=title, page_dir=out.parent)
    atomic_write_text(out, page)
    return out
