"""Comparison pages: several runs side by side in one offline HTML file.

``workbench compare RUN_ID... | --sweep ID`` writes a page with the parameter differences, a
metrics table with deltas against a baseline run, metric-vs-parameter plots, and the curves the
runs recorded (``workbench.record_curve``) overlaid. plotly.js is inlined once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ..core.io import atomic_write_text, read_json
from ..core.journal import read_curves
from ..core.runfolder import ReportsTree
from ..core.runs import RunRecord, find_run, load_records
from ..core.text import fmt
from ..errors import WorkbenchError
from ._assets import externalize
from ._pages import render


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _curves(rec: RunRecord) -> dict[str, dict[str, Any]]:
    folder = rec.folder
    if folder.curves.exists():
        try:
            return read_json(folder.curves)
        except ValueError:
            return {}
    # runs recorded before curves.json existed
    return read_curves(folder.notebook) if folder.notebook.exists() else {}


def _label(rec: RunRecord, varying: Sequence[str]) -> str:
    parts = [f"{k}={fmt(rec.params.get(k))}" for k in varying]
    return ", ".join(parts) if parts else rec.run_id


def _baseline(records: list[RunRecord], baseline: str | None) -> RunRecord:
    if not baseline:
        return records[0]
    matches = [r for r in records if r.run_id.startswith(baseline)]
    exact = [r for r in matches if r.run_id == baseline]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    if matches:
        raise WorkbenchError(f"baseline {baseline!r} is ambiguous among the compared runs: "
                             f"{', '.join(r.run_id for r in matches)}; give more characters")
    raise WorkbenchError(f"baseline {baseline!r} is not among the compared runs "
                         f"({', '.join(r.run_id for r in records)})")


def _metric_rows(records: list[RunRecord], base: RunRecord, metrics: list[str]) -> list[dict[str, Any]]:
    rows = []
    for m in metrics:
        b = (base.metrics or {}).get(m)
        cells = []
        for r in records:
            v = (r.metrics or {}).get(m)
            cell = {"value": fmt(v) if v is not None else "", "delta": "", "direction": ""}
            if r is not base and _numeric(v) and _numeric(b):
                d = v - b
                cell.update(delta=f"{d:+.4g}", direction="up" if d > 0 else "down" if d < 0 else "")
            cells.append(cell)
        rows.append({"name": m, "cells": cells})
    return rows


def _figures(records: list[RunRecord], metrics: list[str], varying: list[str]) -> list:
    import plotly.graph_objects as go

    from ..evaluation import figure_layout

    figs = []
    for m in metrics:
        for p in varying:
            pts = [r for r in records if _numeric((r.metrics or {}).get(m))]
            if len(pts) < 2:
                continue
            xs = [r.params.get(p) for r in pts]
            fig = go.Figure(go.Scatter(x=[x if _numeric(x) else fmt(x) for x in xs], y=[r.metrics[m] for r in pts],
                                       mode="markers", marker=dict(size=10), text=[_label(r, varying) for r in pts]))
            fig.update_layout(title=f"{m} vs {p}", xaxis_title=p, yaxis_title=m, **figure_layout(height=340))
            figs.append(fig)
    by_name: dict[str, list[tuple[RunRecord, dict[str, Any]]]] = {}
    for r in records:
        for name, c in _curves(r).items():
            by_name.setdefault(name, []).append((r, c))
    for name, items in sorted(by_name.items()):
        fig = go.Figure()
        for r, c in items:
            fig.add_trace(go.Scatter(x=c["x"], y=c["y"], mode="lines", name=_label(r, varying)))
        first = items[0][1]
        fig.update_layout(title=name, xaxis_title=first.get("xlabel", ""), yaxis_title=first.get("ylabel", ""),
                          **figure_layout(height=380))
        figs.append(fig)
    return figs


def compare_html(records: list[RunRecord], baseline: str | None = None, title: str = "Run comparison",
                 page_dir: str | Path = ".") -> str:
    """The comparison page of ``records``; deltas against ``baseline`` (id or unique prefix; default the
    oldest). Links to the run reports are relative to ``page_dir``, where the page will be written."""
    from plotly.offline import get_plotlyjs

    if not records:
        raise WorkbenchError("nothing to compare: no runs given")
    records = sorted(records, key=lambda r: r.run_id)
    base = _baseline(records, baseline)
    all_params = sorted({k for r in records for k in (r.params or {})})
    varying = [k for k in all_params if len({json.dumps(r.params.get(k), sort_keys=True, default=str)
                                             for r in records}) > 1]
    metrics = sorted({k for r in records for k in (r.metrics or {})})
    runs = [{"run_id": r.run_id, "baseline": r is base, "status": r.status, "link": r.folder.links(page_dir)["report"]}
            for r in records]
    params = [{"name": k, "varies": k in varying, "cells": [fmt(r.params.get(k)) for r in records]}
              for k in all_params]
    plots = [f.to_html(include_plotlyjs=False, full_html=False, include_mathjax=False)
             for f in _figures(records, metrics, varying)]
    return render("compare.html.j2", title=title, runs=runs, params=params,
                  metrics=_metric_rows(records, base, metrics), plots=plots, plotlyjs=get_plotlyjs(),
                  notebooks=", ".join(sorted({r.notebook_name for r in records})), baseline=base.run_id,
                  varying=", ".join(varying))


def write_compare(reports: str | Path, run_ids: Sequence[str] = (), sweep: str | None = None,
                  baseline: str | None = None, output: str | Path | None = None) -> Path:
    """Write a comparison page; for a sweep it goes to ``reports/sweeps/<id>/compare.html``."""
    tree = ReportsTree(Path(reports))
    reports = tree.root
    if sweep:
        default = tree.sweep_page(sweep)  # checks the id: nothing written outside the tree
        records = load_records(reports, sweep=sweep)
        if not records:
            raise WorkbenchError(f"no runs of sweep {sweep!r} under {str(reports)!r}")
        out = Path(output) if output else default
        title = f"Sweep {sweep}"
    else:
        if len(run_ids) < 2:
            raise WorkbenchError("give at least two run ids (see `workbench runs`) or --sweep ID")
        records = [find_run(reports, r) for r in run_ids]
        if len({r.run_id for r in records}) < len(records):
            raise WorkbenchError("the same run is given twice; give different runs")
        out = Path(output) if output else tree.compare_page([r.run_id for r in records])
        title = "Run comparison"
    page = compare_html(records, baseline=baseline, title=title, page_dir=out.parent)
    page = externalize(page, out.parent, reports)  # plotly.js from the tree's asset store (a page in the tree)
    atomic_write_text(out, page)
    return out
