"""Retention: ``workbench gc`` picks the runs to delete, never the ones something still needs.

A run is a candidate when it meets every criterion given (``keep_last``: beyond the newest N of its
notebook; ``older_than``: started before that long ago; ``failed``: failed or interrupted). It is kept,
whatever the criteria, when it is tagged, running, the newest succeeded run of its notebook, the source
of a registered model version (``version.json``'s ``source.run_id``), or named by a pipeline record
(any run id in ``reports/pipelines/**/*.json``). W&B's local staging copy of a deleted run
(``tracking.offline_dir``, a ``offline-run-*`` folder) goes with it. Bytes are counted for files with a
single link (a cache hit's hard links free nothing while the other run stays); an artifact shared through
the blob store (``core.blobs``) counts when no kept run links it, and its blob is removed with the last run.
"""

from __future__ import annotations

import datetime as _dt
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import blobs
from ..core.envlock import unused_environments
from ..core.runstore import RunStore
from ..errors import WorkbenchError

RUN_ID = re.compile(r"\d{8}T\d{9}Z-[0-9a-f]{6}")
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> _dt.timedelta:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` as a duration."""
    m = _AGE.fullmatch(str(text).strip().lower())
    if not m:
        raise WorkbenchError(f"older_than {text!r} is not a duration: give a number and a unit, e.g. 30d, 12h, 2w")
    return _dt.timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])


@dataclass
class GcPlan:
    delete: list[dict[str, Any]] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # run id -> why it is protected (candidates only)
    staging: list[Path] = field(default_factory=list)
    bytes: int = 0


def registry_runs(registry: str | Path | None) -> set[str]:
    """Run ids registered model versions were copied from."""
    from ..registry import ModelRegistry

    reg = ModelRegistry(registry)
    return {v.source.get("run_id") for name in reg.names() for v in reg.versions(name)} - {None}


def pipeline_runs(reports: Path) -> set[str]:
    """Run ids named anywhere in the pipeline records (``reports/pipelines/**/*.json``)."""
    out: set[str] = set()
    for p in (reports / "pipelines").rglob("*.json") if (reports / "pipelines").is_dir() else ():
        try:
            out.update(RUN_ID.findall(p.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return out


def _candidates(rows: list[dict], keep_last: int | None, older_than: _dt.timedelta | None, failed: bool,
                now: _dt.datetime) -> list[dict]:
    rank: dict[str, int] = {}
    out = []
    for r in rows:  # newest first
        rank[r["notebook"]] = n = rank.get(r["notebook"], 0) + 1
        if keep_last is not None and n <= keep_last:
            continue
        if older_than is not None:
            try:
                started = _dt.datetime.fromisoformat(str(r["started"]))
            except ValueError:
                continue
            if started.tzinfo is None:
                started = started.replace(tzinfo=_dt.timezone.utc)
            if started > now - older_than:
                continue
        if failed and r["status"] not in ("failed", "interrupted"):
            continue
        out.append(r)
    return out


def plan_gc(reports: str | Path, *, keep_last: int | None = None, older_than: str | None = None,
            failed: bool = False, registry: str | Path | None = None, now: _dt.datetime | None = None) -> GcPlan:
    """What ``workbench gc`` would delete (nothing is touched)."""
    if keep_last is None and older_than is None and not failed:
        raise WorkbenchError("gc needs a criterion: keep_last, older_than or failed (e.g. --keep-last 20)")
    if keep_last is not None and keep_last < 0:
        raise WorkbenchError(f"keep_last must be an integer >= 0 (keep_last={keep_last})")
    age = parse_age(older_than) if older_than is not None else None
    now = now or _dt.datetime.now(_dt.timezone.utc)
    reports = Path(reports)
    rows = RunStore(reports).query(limit=None)
    latest_ok: dict[str, str] = {}
    for r in rows:
        if r["status"] == "succeeded":
            latest_ok.setdefault(r["notebook"], r["run_id"])
    registered, piped = registry_runs(registry), pipeline_runs(reports)
    plan = GcPlan()
    for r in _candidates(rows, keep_last, age, failed, now):
        why = ("tagged " + ",".join(r["tags"]) if r["tags"] else "running" if r["status"] == "running" else
               "the latest succeeded run of its notebook" if latest_ok.get(r["notebook"]) == r["run_id"] else
               "a registered model version's source" if r["run_id"] in registered else
               "referenced by a pipeline" if r["run_id"] in piped else None)
        if why:
            plan.kept[r["run_id"]] = why
            continue
        plan.delete.append(r)
        staging = _staging(r)
        if staging is not None:
            plan.staging.append(staging)
    plan.bytes += blobs.freed_bytes([*(r["dir"] for r in plan.delete), *plan.staging], reports)
    return plan


def _staging(row: dict) -> Path | None:
    """The run's W&B offline staging folder, when it exists and looks like one."""
    from ..core.runs import read_record

    rec = read_record(row["dir"] / "run.json")
    where = (rec.tracking or {}).get("offline_dir") if rec else None
    if isinstance(where, str) and Path(where).name.startswith("offline-run-") and Path(where).is_dir():
        return Path(where)
    return None


def run_gc(reports: str | Path, plan: GcPlan) -> int:
    """Delete what ``plan`` lists (under the reports lock), then refresh the index and the pages."""
    from ..reports import update_index

    store = RunStore(reports)
    with store.tree.lock():
        for r in plan.delete:
            shutil.rmtree(r["dir"], ignore_errors=True)
        for p in plan.staging:
            shutil.rmtree(p, ignore_errors=True)
        blobs.remove_orphans(store.tree.root)  # artifacts no run links any more
        for p in unused_environments(store.tree.root):  # environment locks no run names any more
            p.unlink(missing_ok=True)
        store.sync()
        update_index(store.tree.root)
    return len(plan.delete)
