"""The run index: an embedded SQLite database (WAL) of the run records under a reports tree.

The run folders stay the source of truth (``run.json``, and ``labels.json`` for tags and notes); the
index at ``reports/.runs.sqlite`` is a cache of them that can always be rebuilt (:meth:`RunStore.reindex`).
A finished run is recorded in one transaction (:meth:`RunStore.record`); readers call
:meth:`RunStore.sync` first, which compares every folder's ``run.json``/``labels.json`` modification time
with the index (a ``stat`` each, no JSON read) and re-reads only what changed, appeared or vanished, so
runs written by hand, by an older version or copied in are found. A missing, corrupt or older-schema
index file is discarded and rebuilt, never an error. An update never replaces a newer one: rows carry
the stamp (time, inode, size) of the ``run.json`` they were read from, and a
row is written only while its files still carry that stamp.

Tables: ``runs`` (one row per run folder, keyed by its path relative to the tree), ``params`` and
``metrics`` (``folder, key, num, txt``: numbers and booleans in ``num``, text and JSON in ``txt``),
``tags`` (``folder, tag``). :mod:`workbench.core.runquery` turns ``--where``/``--sort`` into SQL on them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from ..errors import WorkbenchError
from .io import read_json, write_json
from .runfolder import ReportsTree, RunFolder, check_name
from .runquery import order_sql, where_sql
from .runs import RunRecord, _pid_alive, read_record

STORE = ".runs.sqlite"
LABELS = "labels.json"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs(folder TEXT PRIMARY KEY, run_id TEXT NOT NULL, notebook TEXT NOT NULL,
  notebook_path TEXT, status TEXT, started TEXT, ended TEXT, duration_s REAL, sweep_id TEXT, cached_from TEXT,
  pid INTEGER, host TEXT, rec_stamp TEXT NOT NULL, labels_stamp TEXT NOT NULL, has_report INTEGER,
  params TEXT, metrics TEXT, notes TEXT);
CREATE INDEX IF NOT EXISTS runs_by_id ON runs(run_id);
CREATE INDEX IF NOT EXISTS runs_by_notebook ON runs(notebook, status, run_id);
CREATE TABLE IF NOT EXISTS params(folder TEXT, key TEXT, num REAL, txt TEXT, PRIMARY KEY(folder, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metrics(folder TEXT, key TEXT, num REAL, txt TEXT, PRIMARY KEY(folder, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tags(folder TEXT, tag TEXT, PRIMARY KEY(folder, tag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS params_by_key ON params(key, num);
CREATE INDEX IF NOT EXISTS metrics_by_key ON metrics(key, num);
CREATE INDEX IF NOT EXISTS tags_by_tag ON tags(tag);
"""
_ROW = ("folder", "run_id", "notebook", "notebook_path", "status", "started", "ended", "duration_s", "sweep_id",
        "cached_from", "pid", "host", "rec_stamp", "labels_stamp", "has_report", "params", "metrics", "notes")


def _is_corrupt(e: sqlite3.DatabaseError) -> bool:
    """A damaged or foreign file (not a busy database, which waits and is an error of its own)."""
    return not isinstance(e, sqlite3.OperationalError) or not any(w in str(e) for w in ("locked", "busy"))


def _kv(value: Any) -> tuple[float | None, str | None]:
    """``(num, txt)`` of a parameter or metric value: numbers and booleans are numbers, the rest text/JSON."""
    if isinstance(value, bool):
        return float(value), "true" if value else "false"
    if isinstance(value, (int, float)):
        return (None, str(value)) if isinstance(value, float) and not math.isfinite(value) else (value, None)
    if isinstance(value, str):
        return None, value
    return None, json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _stamp(path: Path) -> str:
    """What identifies one version of a file: modification time, inode (atomic writes make a new one) and
    size; ``""`` when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_mtime_ns}:{st.st_ino}:{st.st_size}"


def read_labels(folder: RunFolder) -> dict[str, list]:
    """A run's tags and notes (``labels.json``; none when missing or unreadable)."""
    try:
        data = read_json(folder.path / LABELS)
    except (OSError, ValueError):
        return {"tags": [], "notes": []}
    tags = [t for t in data.get("tags", []) if isinstance(t, str)] if isinstance(data, dict) else []
    notes = [n for n in data.get("notes", []) if isinstance(n, dict)] if isinstance(data, dict) else []
    return {"tags": tags, "notes": notes}


def check_tag(tag: str) -> str:
    return check_name(tag, "tag")


class RunStore:
    """The run index of the reports tree ``reports``."""

    def __init__(self, reports: str | Path):
        self.tree = ReportsTree(Path(reports))
        self.path = self.tree.root / STORE

    # ------------------------------------------------------------------ connection, schema, recovery
    def _open(self) -> sqlite3.Connection:
        self.tree.root.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout=60000")
            if con.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
                raise sqlite3.DatabaseError("not a database in WAL mode")
            con.execute("PRAGMA synchronous=NORMAL")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                self._create(con, version)
            con.execute("SELECT count(*) FROM runs WHERE folder = ''").fetchone()
        except BaseException:
            con.close()
            raise
        return con

    def _create(self, con: sqlite3.Connection, version: int) -> None:
        con.execute("BEGIN IMMEDIATE")
        try:
            if con.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:  # not done by another process
                if version:
                    for table in ("runs", "params", "metrics", "tags"):
                        con.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    con.execute(statement)
                con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _discard(self) -> None:
        """Remove a damaged index file (and its WAL) so that it is rebuilt from the folders."""
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(self.path) + suffix)

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection to the index (created, or rebuilt when it is damaged)."""
        try:
            con = self._open()
        except sqlite3.DatabaseError as e:
            if not _is_corrupt(e):
                raise WorkbenchError(f"the run index {self.path} is busy ({e}); try again") from e
            with self.tree.lock():
                self._discard()
            con = self._open()
        try:
            yield con
        finally:
            con.close()

    def _with_recovery(self, fn, *args):
        """``fn(con, *args)``; a damaged index found on the way is discarded and rebuilt once."""
        try:
            with self.connect() as con:
                return fn(con, *args)
        except sqlite3.DatabaseError as e:
            if not _is_corrupt(e):
                raise WorkbenchError(f"the run index {self.path} is busy ({e}); try again") from e
            with self.tree.lock():
                self._discard()
            with self.connect() as con:
                self._sync(con)
                return fn(con, *args)

    # ------------------------------------------------------------------ writing
    def _row(self, folder: Path, rec: RunRecord, rec_stamp: str, labels_stamp: str) -> tuple:
        labels = read_labels(RunFolder(folder))
        rel = folder.relative_to(self.tree.root).as_posix()
        return (rel, rec.run_id, rec.notebook_name or folder.parent.name, rec.notebook, rec.status, rec.started,
                rec.ended, rec.duration_s if isinstance(rec.duration_s, (int, float)) else None, rec.sweep_id,
                rec.cached_from, rec.pid if isinstance(rec.pid, int) else None, rec.host, rec_stamp, labels_stamp,
                int((folder / RunFolder.REPORT).exists()),
                json.dumps(rec.params or {}, separators=(",", ":"), default=str),
                json.dumps(rec.metrics or {}, separators=(",", ":"), default=str),
                json.dumps(labels["notes"], separators=(",", ":"))), rec, labels["tags"]

    def _put(self, con: sqlite3.Connection, row: tuple, rec: RunRecord, tags: list[str]) -> bool:
        """Insert or replace one run (inside a transaction) unless its files changed since they were read
        (a newer write is recorded by its writer, or by the next sync)."""
        folder = row[0]
        here = self.tree.root / folder
        if (_stamp(here / RunFolder.RECORD), _stamp(here / LABELS)) != (row[12], row[13]):
            return False
        for table in ("params", "metrics", "tags"):
            con.execute(f"DELETE FROM {table} WHERE folder = ?", (folder,))
        con.execute(f"INSERT OR REPLACE INTO runs({', '.join(_ROW)}) VALUES ({', '.join('?' * len(_ROW))})", row)
        for table, values in (("params", rec.params or {}), ("metrics", rec.metrics or {})):
            con.executemany(f"INSERT INTO {table}(folder, key, num, txt) VALUES (?, ?, ?, ?)",
                            [(folder, str(k), *_kv(v)) for k, v in values.items()])
        con.executemany("INSERT OR IGNORE INTO tags(folder, tag) VALUES (?, ?)", [(folder, t) for t in tags])
        return True

    def _read(self, folder: Path) -> tuple | None:
        """The row of the run in ``folder``, read now (stat first: a later write always looks newer)."""
        rec_stamp, labels_stamp = _stamp(folder / RunFolder.RECORD), _stamp(folder / LABELS)
        rec = read_record(folder / RunFolder.RECORD)
        return None if rec is None else self._row(folder, rec, rec_stamp, labels_stamp)

    def record(self, folder: str | Path) -> None:
        """Index the run in ``folder`` now (its ``run.json`` written): one transaction."""
        got = self._read(Path(folder))
        if got is not None:
            self._with_recovery(self._write, [got], [])

    def _write(self, con: sqlite3.Connection, rows: list[tuple], gone: list[str]) -> int:
        con.execute("BEGIN IMMEDIATE")
        try:
            n = sum(self._put(con, *r) for r in rows)
            for folder in gone:
                for table in ("runs", "params", "metrics", "tags"):
                    con.execute(f"DELETE FROM {table} WHERE folder = ?", (folder,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return n

    # ------------------------------------------------------------------ folders <-> index
    def scan(self) -> dict[str, tuple[Path, str, str]]:
        """Every run folder of the tree: relative path -> (folder, run.json stamp, labels.json stamp)."""
        out: dict[str, tuple[Path, str, str]] = {}
        root = self.tree.root
        with contextlib.suppress(FileNotFoundError):
            for nb in os.scandir(root):
                if nb.name.startswith(".") or not nb.is_dir(follow_symlinks=False):
                    continue
                for run in os.scandir(nb.path):
                    if run.name.startswith(".") or not run.is_dir(follow_symlinks=False):
                        continue
                    m = _stamp(Path(run.path, RunFolder.RECORD))
                    if m:
                        out[f"{nb.name}/{run.name}"] = (Path(run.path), m, _stamp(Path(run.path, LABELS)))
        return out

    def _sync(self, con: sqlite3.Connection, full: bool = False) -> int:
        disk = self.scan()
        have = {} if full else {f: (rm, lm, st, pid, host) for f, rm, lm, st, pid, host in con.execute(
            "SELECT folder, rec_stamp, labels_stamp, status, pid, host FROM runs")}
        here = os.uname().nodename
        stale = [folder for rel, (folder, rm, lm) in disk.items()
                 if (h := have.get(rel)) is None or (h[0], h[1]) != (rm, lm)
                 or (h[2] == "running" and h[4] == here and not _pid_alive(h[3]))]
        rows = [r for r in map(self._read, stale) if r is not None]
        gone = [rel for rel in have if rel not in disk]
        if full:
            gone = [r[0] for r in con.execute("SELECT folder FROM runs")]
            gone = [g for g in gone if g not in disk]
        if rows or gone:
            self._write(con, rows, gone)
        return len(rows)

    def sync(self) -> int:
        """Bring the index up to date with the folders; the number of runs (re)read."""
        return self._with_recovery(self._sync)

    def reindex(self) -> int:
        """Rebuild the index from every run folder (a fresh file); the number of runs indexed."""
        with self.tree.lock():
            self._discard()
        with self.connect() as con:
            self._sync(con, full=True)
            return con.execute("SELECT count(*) FROM runs").fetchone()[0]

    # ------------------------------------------------------------------ reading
    def query(self, where: str | None = None, sort: str | None = None, limit: int | None = None, *,
              notebook: str | None = None, status: str | None = None, sync: bool = True) -> list[dict[str, Any]]:
        """Runs matching ``where`` (see :mod:`~workbench.core.runquery`) and ``notebook``/``status``, sorted
        (default newest first), as plain dicts (``params``, ``metrics``, ``tags``, ``notes``, ``dir``...)."""
        cond, args = where_sql(where)
        for column, value in (("notebook", notebook), ("status", status)):
            if value:
                cond, args = f"({cond}) AND runs.{column} = ?", [*args, value]
        return self._select(cond, args, sort, limit, sync)

    def _select(self, cond: str, args: list, sort: str | None, limit: int | None, sync: bool) -> list[dict]:
        order, order_args = order_sql(sort)
        sql = (f"SELECT {', '.join('runs.' + c for c in _ROW)}, (SELECT group_concat(t.tag, ',') FROM tags t "
               f"WHERE t.folder = runs.folder) FROM runs WHERE {cond} ORDER BY {order}")
        if limit is not None:
            sql += " LIMIT ?"
            order_args = [*order_args, int(limit)]

        def run(con: sqlite3.Connection) -> list[dict[str, Any]]:
            if sync:
                self._sync(con)
            return [self._dict(r) for r in con.execute(sql, [*args, *order_args])]

        return self._with_recovery(run)

    def _dict(self, r: tuple) -> dict[str, Any]:
        d = dict(zip(_ROW, r))
        d["params"], d["metrics"], d["notes"] = (json.loads(d[k] or "null") for k in ("params", "metrics", "notes"))
        d["tags"] = sorted((r[-1] or "").split(",")) if r[-1] else []
        d["dir"] = self.tree.root / d["folder"]
        return d

    def find(self, run_id: str) -> dict[str, Any]:
        """One run by id or unique id prefix."""
        rows = self._select("substr(runs.run_id, 1, ?) = ?", [len(run_id), run_id], None, 6, True)
        exact = [r for r in rows if r["run_id"] == run_id]
        if len(rows) == 1 or len(exact) == 1:
            return (exact or rows)[0]
        if not rows:
            raise WorkbenchError(f"no run {run_id!r} under {str(self.tree.root)!r}; `workbench runs` lists them")
        raise WorkbenchError(f"run id {run_id!r} is ambiguous: {', '.join(r['run_id'] for r in rows[:5])}; "
                             "give more characters")

    # ------------------------------------------------------------------ tags and notes
    def label(self, run_id: str, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = (),
              note: str | None = None, when: str | None = None) -> dict[str, Any]:
        """Tag, untag or note a run: ``labels.json`` in its folder (under the reports lock), then the index."""
        for t in (*add, *remove):
            check_tag(t)
        row = self.find(run_id)
        folder = RunFolder(row["dir"])
        with self.tree.lock():
            labels = read_labels(folder)
            labels["tags"] = sorted((set(labels["tags"]) | set(add)) - set(remove))
            if note is not None:
                labels["notes"].append({"at": when, "text": note})
            write_json(folder.path / LABELS, labels)
            self.record(folder.path)
        return {**row, "tags": labels["tags"], "notes": labels["notes"]}

