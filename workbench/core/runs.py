"""Run records: ids, ``run.json`` (typed and versioned), listing.

``run.json`` files are the single source of truth; indexes and comparisons are built from them.
Records written before the schema had a version (schema 1) load unchanged. Where the files of a run
live is :mod:`workbench.core.runfolder`'s business.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from .io import write_json
from .runfolder import ReportsTree, RunFolder

SCHEMA_VERSION = 2


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def new_run_id(now: _dt.datetime | None = None) -> str:
    """A run id: UTC time to the millisecond plus a short random hash, sortable by time."""
    now = now or utcnow()
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + secrets.token_hex(3)


@dataclass
class RunRecord:
    """The record of one run (``run.json``).

    ``notebook_sha256`` and ``code_digest`` identify the notebook version that ran (its file's bytes; its
    code cells), ``environment`` the stored lock of its installed distributions (``reports/.envs/``,
    :mod:`workbench.core.envlock`), ``rerun_of`` the run it reran (``workbench rerun``).
    ``dir`` is where the record was read from or written to; it is not stored in the file. Keys
    this version does not know are kept in ``extra`` and written back unchanged.
    """

    run_id: str
    notebook: str = ""
    notebook_name: str = ""
    status: str = "running"
    params: dict[str, Any] = field(default_factory=dict)
    given_params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    started: str | None = None
    ended: str | None = None
    duration_s: float | None = None
    git: dict[str, Any] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    cache_key: str | None = None
    cached_from: str | None = None
    executed_duration_s: float | None = None
    rerun_command: str = ""
    pid: int | None = None
    host: str | None = None
    sweep_id: str | None = None
    error: dict[str, Any] | None = None
    tracking: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    executor: str | None = None
    notebook_sha256: str | None = None
    code_digest: str | None = None
    environment: str | None = None
    rerun_of: str | None = None
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    dir: Path | None = field(default=None, compare=False)

    _STORED = ("schema_version", "run_id", "notebook", "notebook_name", "status", "params", "given_params",
               "metrics", "started", "ended", "duration_s", "git", "packages", "data", "cache_key", "cached_from",
               "executed_duration_s", "rerun_command", "pid", "host", "sweep_id", "error", "tracking", "options",
               "notes", "executor", "notebook_sha256", "code_digest", "environment", "rerun_of")

    @classmethod
    def from_dict(cls, data: dict[str, Any], dir: str | Path | None = None) -> "RunRecord":
        """A record from ``run.json`` content (any schema version)."""
        if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
            raise WorkbenchError("not a run record: it has no run_id")
        known = {f.name for f in fields(cls)} - {"extra", "dir"}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["schema_version"] = int(data.get("schema_version", 1))
        for k in ("params", "given_params", "metrics", "git", "packages", "data", "tracking", "options", "notes"):
            if kwargs.get(k) is None:
                kwargs.pop(k, None)
        rec = cls(**kwargs, extra={k: v for k, v in data.items() if k not in known})
        rec.dir = Path(dir) if dir is not None else None
        return rec

    def to_dict(self) -> dict[str, Any]:
        """The content of ``run.json`` (the current schema version)."""
        out = {k: getattr(self, k) for k in self._STORED}
        out["schema_version"] = SCHEMA_VERSION
        out.update(self.extra)
        return out

    def save(self, dir: str | Path | None = None) -> Path:
        """Write ``run.json`` atomically into ``dir`` (default: :attr:`dir`)."""
        if dir is not None:
            self.dir = Path(dir)
        if self.dir is None:
            raise WorkbenchError(f"run {self.run_id}: no folder to save the record in")
        write_json(self.folder.record, self.to_dict())
        return self.folder.record

    @property
    def folder(self) -> RunFolder:
        """The run's folder (where the record was read from or written to)."""
        return RunFolder(self.dir or Path("."))

    @property
    def report(self) -> Path:
        return self.folder.report


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_record(path: str | Path) -> RunRecord | None:
    """The record in ``path`` (a ``run.json``), or None when it is unreadable or not a record.

    A record still marked ``running`` whose process on this host is gone is shown as ``interrupted``.
    """
    p = Path(path)
    try:
        rec = RunRecord.from_dict(json.loads(p.read_text(encoding="utf-8")), dir=p.parent)
    except (OSError, ValueError, TypeError, WorkbenchError):
        return None
    if rec.status == "running" and rec.host == os.uname().nodename and not _pid_alive(rec.pid):
        rec.status = "interrupted"
    return rec


def load_records(reports: str | Path, notebook: str | None = None, status: str | None = None,
                 sweep: str | None = None) -> list[RunRecord]:
    """All run records under ``reports``, newest first, optionally filtered."""
    out = []
    for p in ReportsTree(Path(reports)).records(notebook):
        rec = read_record(p)
        if rec is None or (status and rec.status != status) or (sweep and rec.sweep_id != sweep):
            continue
        out.append(rec)
    out.sort(key=lambda r: r.run_id, reverse=True)
    return out


def find_run(reports: str | Path, run_id: str) -> RunRecord:
    """The record of one run, by id or unique id prefix."""
    matches = [r for r in load_records(reports) if r.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise WorkbenchError(f"no run {run_id!r} under {str(reports)!r}; `workbench runs` lists them")
    exact = [r for r in matches if r.run_id == run_id]
    if len(exact) == 1:
        return exact[0]
    raise WorkbenchError(f"run id {run_id!r} is ambiguous: {', '.join(r.run_id for r in matches[:5])}; "
                         "give more characters")
