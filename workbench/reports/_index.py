"""The reports tree's shared pages: ``reports/index.html`` (every run, newest first) and each notebook's
``latest.html`` (its newest succeeded report), rebuilt from the run records."""

from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path
from typing import Iterable

from ..core.io import atomic_write_text, file_mode
from ..core.runfolder import ReportsTree, href
from ..core.runs import RunRecord, load_records
from ..core.text import fmt
from ..errors import WorkbenchError
from ._pages import render


def _key_params(params: dict, limit: int = 6) -> str:
    items = list(params.items())[:limit]
    return ", ".join(f"{k}={fmt(v)}" for k, v in items) + (" …" if len(params) > limit else "")


def _row(reports: Path, r: RunRecord, sweep_links: dict[str, str]) -> dict:
    dur = r.duration_s
    return {
        "notebook": r.notebook, "run_id": r.run_id, "started": str(r.started or "")[:19].replace("T", " "),
        "status": r.status, "cached_from": r.cached_from,
        "duration": f"{dur:.1f} s" if isinstance(dur, (int, float)) else "",
        "params": _key_params(r.params or {}),
        "metrics": ", ".join(f"{k}={fmt(v)}" for k, v in list((r.metrics or {}).items())[:5]),
        "sweep": r.sweep_id, "sweep_link": sweep_links.get(r.sweep_id), "links": r.folder.links(reports),
    }


def index_html(reports: Path, records: Iterable[RunRecord], sweep_links: dict[str, str] | None = None) -> str:
    """The index page of ``records`` (links relative to ``reports``; ``sweep_links``: sweep id -> link)."""
    rows = [_row(Path(reports), r, sweep_links or {}) for r in records]
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return render("index.html.j2", rows=rows, now=now)


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
    """Regenerate ``reports/index.html`` and the notebooks' ``latest.html`` from the run records.

    Callers hold the reports lock (:meth:`ReportsTree.lock <workbench.core.runfolder.ReportsTree.lock>`).
    """
    tree = ReportsTree(Path(reports))
    records = load_records(tree.root)
    sweeps = {r.sweep_id: link for r in records if r.sweep_id and (link := _sweep_link(tree, r.sweep_id))}
    atomic_write_text(tree.index, index_html(tree.root, records, sweeps))
    names = {notebook} if notebook else {r.notebook_name for r in records}
    for name in filter(None, names):
        ok = [r for r in records if r.notebook_name == name and r.status == "succeeded" and r.report.exists()]
        if ok:
            dst = tree.latest(ok[0].folder)
            tmp = dst.with_name(".latest.html.tmp")
            shutil.copyfile(ok[0].report, tmp)
            tmp.chmod(file_mode())
            tmp.replace(dst)
    return tree.index
