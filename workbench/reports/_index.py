"""The reports tree's shared pages: ``reports/index.html`` (every run, newest first, searchable offline) and
each notebook's ``latest.html`` (its newest succeeded report), built from the run index
(:class:`~workbench.core.runstore.RunStore`), not from every ``run.json``.

``index.html`` shows its first page of rows as plain HTML and embeds every run as compact JSON (``<`` escaped,
so no value can close the script element); a small vanilla script filters (text, notebook, status, tag, a
parameter or metric range), sorts by any column and pages 50 rows at a time, entirely offline (``file://``).
The filter state lives in the URL's fragment (``#status=failed&notebook=nb&field=metrics.auc&min=0.8``).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Iterable

from ..core.io import atomic_write_text
from ..core.runfolder import ReportsTree, href
from ..core.runstore import RunStore
from ..core.text import fmt
from ..errors import WorkbenchError
from ._assets import rebase
from ._pages import render

PAGE_SIZE = 50


def _key_params(params: dict, limit: int = 6) -> str:
    items = list(params.items())[:limit]
    return ", ".join(f"{k}={fmt(v)}" for k, v in items) + (" …" if len(params) > limit else "")


def _scalar(v: Any) -> Any:
    """A parameter or metric value as the page keeps it: numbers and short text, the rest as short JSON."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return v if v == v and abs(v) != float("inf") else str(v)
    return fmt(v)[:80]


def _row(r: dict, sweep_links: dict[str, str]) -> dict:
    """One run as the page shows it (server-rendered rows) and as the script reads it (short keys)."""
    dur = r["duration_s"]
    return {
        "notebook": r["notebook"], "run_id": r["run_id"], "started": str(r["started"] or "")[:19].replace("T", " "),
        "status": r["status"], "cached_from": r["cached_from"],
        "duration": f"{dur:.1f} s" if isinstance(dur, (int, float)) else "",
        "params": _key_params(r["params"] or {}),
        "metrics": ", ".join(f"{k}={fmt(v)}" for k, v in list((r["metrics"] or {}).items())[:5]),
        "tags": r["tags"], "sweep": r["sweep_id"], "sweep_link": sweep_links.get(r["sweep_id"]),
        "link": href(r["folder"]),
    }


def _data(rows: list[dict], records: list[dict]) -> str:
    """The embedded JSON: one short-keyed object per run; ``<`` escaped so it cannot end the script."""
    out = [{"i": r["run_id"], "n": r["notebook"], "t": r["started"], "s": r["status"], "c": r["cached_from"],
            "d": rec["duration_s"], "p": {k: _scalar(v) for k, v in (rec["params"] or {}).items()},
            "m": {k: _scalar(v) for k, v in (rec["metrics"] or {}).items()}, "g": r["tags"], "w": r["sweep"],
            "wl": r["sweep_link"], "l": r["link"]} for r, rec in zip(rows, records)]
    text = json.dumps(out, separators=(",", ":"), ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def index_html(reports: Path, records: Iterable[dict], sweep_links: dict[str, str] | None = None) -> str:
    """The index page of ``records`` (:meth:`RunStore.query` rows, newest first; ``sweep_links``: sweep id ->
    link relative to ``reports``)."""
    records = list(records)
    rows = [_row(r, sweep_links or {}) for r in records]
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return render("index.html.j2", rows=rows[:PAGE_SIZE], total=len(rows), now=now, page_size=PAGE_SIZE,
                  data=_data(rows, records), script=(Path(__file__).parent / "static" / "index.js").read_text())


def _sweep_link(tree: ReportsTree, sweep_id: str) -> str | None:
    """The link to a sweep's comparison page, if it exists (a record naming an unusable sweep id gets none)."""
    try:
        page = tree.sweep_page(sweep_id)
    except WorkbenchError:
        return None
    if page.exists():
        return href(page.relative_to(tree.root))
    pipeline = tree.root / "pipelines" / sweep_id / "index.html"  # a pipeline run's steps share its id
    return href(pipeline.relative_to(tree.root)) if pipeline.exists() else None


def update_index(reports: str | Path, notebook: str | None = None) -> Path:
    """Regenerate ``reports/index.html`` and the notebooks' ``latest.html`` from the run index (brought up
    to date with the folders first).

    Callers hold the reports lock (:meth:`ReportsTree.lock <workbench.core.runfolder.ReportsTree.lock>`).
    """
    tree = ReportsTree(Path(reports))
    records = RunStore(tree.root).query()
    sweeps = {r["sweep_id"]: link for r in records if r["sweep_id"] and (link := _sweep_link(tree, r["sweep_id"]))}
    atomic_write_text(tree.index, index_html(tree.root, records, sweeps))
    names = {notebook} if notebook else {r["notebook"] for r in records}
    for name in filter(None, names):
        ok = [r for r in records if r["notebook"] == name and r["status"] == "succeeded" and r["has_report"]]
        report = ok[0]["dir"] / "report.html" if ok else None
        if report is not None and report.exists():
            dst = report.parent.parent / tree.LATEST  # its asset links rewritten for its folder
            atomic_write_text(dst, rebase(report.read_text(encoding="utf-8"), dst.parent, tree.root))
    return tree.index
