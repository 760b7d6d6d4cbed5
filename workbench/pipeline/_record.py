"""A pipeline run's record and page: ``reports/pipelines/<id>/pipeline.json`` and ``index.html`` (the
DAG as an inline SVG drawn here, no script, no network; each step's status, duration, cache reuse,
headline metrics and report link). Each step's run row in ``reports/index.html`` links to this page."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from ..core.io import atomic_write_text, write_json
from ..core.runfolder import ReportsTree, check_name

PIPELINES = "pipelines"
COLORS = {"succeeded": "#2e7d32", "cached": "#1565c0", "failed": "#c62828", "skipped": "#9e9e9e",
          "skipped-by-condition": "#f9a825", "not-selected": "#bdbdbd"}
_W, _H, _GX, _GY = 180, 54, 60, 26


def pipeline_folder(reports: Path, pipeline_id: str) -> Path:
    return Path(reports) / PIPELINES / check_name(pipeline_id, "pipeline id")


def _layout(deps: dict[str, list[str]]) -> dict[str, tuple[int, int]]:
    """Column = longest path from a root; row = order within the column."""
    depth: dict[str, int] = {}
    for name in deps:  # dependency order: upstream steps come first
        depth[name] = 1 + max((depth[d] for d in deps[name]), default=-1)
    rows: dict[int, int] = {}
    out = {}
    for name in deps:
        out[name] = (depth[name], rows.get(depth[name], 0))
        rows[depth[name]] = rows.get(depth[name], 0) + 1
    return out


def dag_svg(result) -> str:
    """The DAG: one box per step (colour = status), arrows from upstream steps."""
    pos = _layout(result.deps)
    xy = {n: (10 + c * (_W + _GX), 10 + r * (_H + _GY)) for n, (c, r) in pos.items()}
    width = 20 + (max((c for c, _ in pos.values()), default=0) + 1) * (_W + _GX)
    height = 20 + (max((r for _, r in pos.values()), default=0) + 1) * (_H + _GY)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="wb-dag" width="{width}" height="{height}" '
             f'role="img" aria-label="pipeline steps">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for name, ups in result.deps.items():
        x2, y2 = xy[name]
        for u in ups:
            x1, y1 = xy[u]
            parts.append(f'<line x1="{x1 + _W}" y1="{y1 + _H // 2}" x2="{x2}" y2="{y2 + _H // 2}" stroke="#555" '
                         'marker-end="url(#arrow)"/>')
    for name, r in result.steps.items():
        x, y = xy[name]
        color = COLORS.get(r.status, "#757575")
        parts.append(f'<g class="wb-step" data-status="{html.escape(r.status)}"><rect x="{x}" y="{y}" width="{_W}" '
                     f'height="{_H}" rx="6" fill="white" stroke="{color}" stroke-width="3"/>'
                     f'<text x="{x + 10}" y="{y + 22}" font-weight="bold">{html.escape(name)}</text>'
                     f'<text x="{x + 10}" y="{y + 42}" fill="{color}">{html.escape(r.status)}</text></g>')
    return "".join(parts) + "</svg>"


def _metrics_text(metrics: dict[str, Any], limit: int = 5) -> str:
    items = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) and len(str(v)) < 40]
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in items[:limit])


def _row(r, folder: Path) -> str:
    link = ""
    if r.report and Path(r.report).exists():
        link = f'<a href="{html.escape(os.path.relpath(r.report, folder))}">report</a>'
    duration = f"{r.duration_s:.1f} s" if r.duration_s is not None else ""
    cells = [r.name, r.label, r.status, duration, r.reason if r.status != "failed" else r.message,
             _metrics_text(r.metrics)]
    return ("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + f"<td>{link}</td></tr>")


def page_html(result, folder: Path) -> str:
    rows = "".join(_row(r, folder) for r in result.steps.values())
    head = "<tr>" + "".join(f"<th>{h}</th>" for h in ("step", "what", "status", "duration", "why", "metrics",
                                                      "report")) + "</tr>"
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>"
            f"{html.escape(result.pipeline_id)}</title><style>body{{font-family:sans-serif;margin:2em}}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>"
            f"</head><body><h1>Pipeline {html.escape(Path(result.path).name)}</h1>"
            f"<p>{html.escape(result.summary())}</p><p>started {html.escape(result.started)}, file "
            f"{html.escape(result.path)} · <a href=\"../../index.html\">all runs</a></p>{dag_svg(result)}"
            f"<table>{head}{rows}</table></body></html>")


def record_dict(result) -> dict[str, Any]:
    return {"pipeline_id": result.pipeline_id, "path": result.path, "started": result.started, "ended": result.ended,
            "duration_s": result.duration_s, "ok": result.ok, "summary": result.summary(), "deps": result.deps,
            "steps": {n: r.to_dict() for n, r in result.steps.items()}}


def write_pipeline(reports: Path, result) -> Path:
    """Write the record and the page; update the index so the steps' rows link to the page."""
    from ..reports import update_index

    folder = pipeline_folder(reports, result.pipeline_id)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "pipeline.json", record_dict(result))
    page = folder / "index.html"
    atomic_write_text(page, page_html(result, folder))
    tree = ReportsTree(reports)
    with tree.lock():
        update_index(reports)
    return page
