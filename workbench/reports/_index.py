"""The reports tree's shared pages: ``reports/index.html`` (every run, newest first) and each notebook's
``latest.html`` (its newest succeeded report), rebuilt from the run records."""

from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path
from typing import Iterable
from urllib.parse import quote

from ..core.io import atomic_write_text, file_mode
from ..core.runs import RunRecord, load_records
from ..core.text import fmt
from ._pages import render


def _href(path: str) -> str:
    """A relative link: each path segment URL-encoded (``#``, ``%``, spaces in names)."""
    return "/".join(quote(part) for part in path.split("/"))


def _key_params(params: dict, limit: int = 6) -> str:
    items = list(params.items())[:limit]
    return ", ".join(f"{k}={fmt(v)}" for k, v in items) + (" …" if len(params) > limit else "")


def _row(reports: Path, r: RunRecord, sweep_links: dict[str, str]) -> dict:
    dur = r.duration_s
    base = str(Path(r.dir).relative_to(reports)) if r.dir else ""
    return {
        "notebook": r.notebook, "run_id": r.run_id, "started": str(r.started or "")[:19].replace("T", " "),
        "status": r.status, "cached_from": r.cached_from,
        "duration": f"{dur:.1f} s" if isinstance(dur, (int, float)) else "",
        "params": _key_params(r.params or {}),
        "metrics": ", ".join(f"{k}={fmt(v)}" for k, v in list((r.metrics or {}).items())[:5]),
        "sweep": r.sweep_id, "sweep_link": _href(sweep_links[r.sweep_id]) if r.sweep_id in sweep_links else None,
        "base": _href(base),
    }


def index_html(reports: Path, records: Iterable[RunRecord], sweep_links: dict[str, str] | None = None) -> str:
    """The index page of ``records`` (links relative to ``reports``)."""
    rows = [_row(Path(reports), r, sweep_links or {}) for r in records]
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return render("index.html.j2", rows=rows, now=now)


def update_index(reports: str | Path, notebook: str | None = None) -> Path:
    """Regenerate ``reports/index.html`` and the notebooks' ``latest.html`` from the run records.

    Callers hold the reports lock (see :func:`workbench.core.runs.reports_lock`).
    """
    reports = Path(reports)
    records = load_records(reports)
    sweeps = {r.sweep_id: f"sweeps/{r.sweep_id}/compare.html" for r in records
              if r.sweep_id and (reports / "sweeps" / r.sweep_id / "compare.html").exists()}
    index = reports / "index.html"
    atomic_write_text(index, index_html(reports, records, sweeps))
    names = {notebook} if notebook else {r.notebook_name for r in records}
    for name in filter(None, names):
        ok = [r for r in records if r.notebook_name == name and r.status == "succeeded" and r.report.exists()]
        if ok:
            dst = reports / name / "latest.html"
            tmp = dst.with_name(".latest.html.tmp")
            shutil.copyfile(ok[0].report, tmp)
            tmp.chmod(file_mode())
            tmp.replace(dst)
    return index
