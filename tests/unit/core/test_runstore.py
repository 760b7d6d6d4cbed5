"""The run index (reports/.runs.sqlite): records, sync with the folders, recovery, the filter syntax."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.core.io import write_json
from workbench.core.runquery import QueryError, order_sql, where_sql
from workbench.core.runstore import STORE, RunStore

IDS = [f"20260101T0000{i:02d}000Z-abc{i:03d}" for i in range(6)]


def _run(reports: Path, rid: str, notebook: str = "nb", status: str = "succeeded", **extra) -> Path:
    d = reports / notebook / rid
    d.mkdir(parents=True)
    write_json(d / "run.json", {"run_id": rid, "notebook": f"{notebook}.ipynb", "notebook_name": notebook,
                                "status": status, "started": f"2026-01-01T00:00:{rid[13:15]}+00:00", **extra})
    (d / "report.html").write_text("r")
    return d


def _tree(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    for i, rid in enumerate(IDS):
        _run(reports, rid, "compare_models" if i % 2 == 0 else "explore", "failed" if i == 3 else "succeeded",
             params={"folds": 3 + i, "models": ["logreg"] if i < 3 else ["logreg", "catboost"], "fast": i == 1,
                     "name": f"n{i}"},
             metrics={"best_score": [0.9, 0.7, 0.86, 0.5, 0.8, 0.95][i], "label": "x y" if i == 0 else "z"})
    return reports


def _ids(rows) -> list[str]:
    return [r["run_id"] for r in rows]


def test_filter_sort_and_columns_over_params_and_metrics(tmp_path: Path):
    store = RunStore(_tree(tmp_path))
    assert _ids(store.query()) == IDS[::-1]  # newest first by default
    rows = store.query("notebook = 'compare_models' and metrics.best_score > 0.85", "-metrics.best_score")
    assert _ids(rows) == [IDS[0], IDS[2]]  # IDS[5] is explore (odd index)
    assert _ids(store.query("metrics.best_score >= 0.8", "metrics.best_score")) == [IDS[4], IDS[2], IDS[0], IDS[5]]
    assert _ids(store.query("params.folds in (3, 4) or (status = 'failed' and not params.fast = true)")) \
        == [IDS[3], IDS[1], IDS[0]]
    assert _ids(store.query("params.fast = true")) == [IDS[1]]
    assert _ids(store.query("params.name like 'n%' and params.folds < 5.5")) == [IDS[2], IDS[1], IDS[0]]
    assert _ids(store.query("metrics.label = 'x y'")) == [IDS[0]]
    assert _ids(store.query("params.models = '[\"logreg\",\"catboost\"]'")) == IDS[3:][::-1]
    assert _ids(store.query("params.missing is null", limit=2)) == [IDS[5], IDS[4]]
    assert _ids(store.query("started >= '2026-01-01T00:00:04'")) == [IDS[5], IDS[4]]
    assert _ids(store.query(status="failed")) == [IDS[3]]
    rows = store.query(sort="notebook,-params.folds")
    assert _ids(rows) == [IDS[4], IDS[2], IDS[0], IDS[5], IDS[3], IDS[1]]
    assert rows[0]["params"]["models"] == ["logreg", "catboost"] and rows[0]["metrics"]["best_score"] == 0.8


def test_filter_errors_name_the_valid_fields(tmp_path: Path):
    store = RunStore(_tree(tmp_path))
    for bad, message in (("score > 1", "unknown field 'score': valid fields are notebook, status"),
                         ("notebook = ", "expected a value"), ("(status = 'failed'", "expected ')'"),
                         ("status = failed", "expected a value"), ("status = 'a' 'b'", "expected 'and', 'or'"),
                         ("notebook = 'x' ; drop table runs", "cannot read ';"), ("tags > 'a'", "tags are compared"),
                         ("eval('1')", "unknown field 'eval'")):
        with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
            store.query(bad)
    with pytest.raises(QueryError, match="unknown field 'bogus'"):
        store.query(sort="-bogus")


def test_injection_attempts_stay_values(tmp_path: Path):
    reports = _tree(tmp_path)
    store = RunStore(reports)
    attempts = ["notebook = 'x'' OR 1=1 --'", "notebook = 'x''); DROP TABLE runs; --'",
                'params."a\'); DROP TABLE runs; --" = 1', "metrics.best_score > '0 OR 1=1'",
                "run_id like '%'' OR ''1''=''1'"]
    for where in attempts:
        sql, args = where_sql(where)
        assert "DROP" not in sql and "OR 1=1" not in sql and "'" not in sql, sql
        assert store.query(where) == []
    sql, args = order_sql('-metrics.x; DROP TABLE runs')
    assert "DROP" not in sql and args[0] == "x; DROP TABLE runs"
    assert store.query(sort="-metrics.x; DROP TABLE runs") and len(store.query()) == 6  # the table is intact
    with sqlite3.connect(reports / STORE) as con:
        assert con.execute("select count(*) from runs").fetchone()[0] == 6


def test_tags_and_notes_live_in_the_folder_and_survive_reindex(tmp_path: Path):
    reports = _tree(tmp_path)
    store = RunStore(reports)
    store.label(IDS[1][:17], add=("keep", "baseline"), note="first look", when="2026-01-02T00:00:00+00:00")
    store.label(IDS[2], add=("keep",))
    store.label(IDS[1], remove=("baseline",))
    assert _ids(store.query("tags = 'keep'")) == [IDS[2], IDS[1]]
    assert _ids(store.query("tags != 'keep' and tags is null")) == [IDS[5], IDS[4], IDS[3], IDS[0]]
    labels = json.loads((reports / "explore" / IDS[1] / "labels.json").read_text())
    assert labels == {"tags": ["keep"], "notes": [{"at": "2026-01-02T00:00:00+00:00", "text": "first look"}]}
    (reports / STORE).unlink()
    assert store.reindex() == 6
    row = store.find(IDS[1])
    assert row["tags"] == ["keep"] and row["notes"][0]["text"] == "first look"
    with pytest.raises(Exception, match="not usable as a folder name"):
        store.label(IDS[1], add=("bad tag",))
    with pytest.raises(Exception, match="ambiguous"):
        store.find("2026")


def test_missing_corrupt_or_stale_index_is_rebuilt_from_the_folders(tmp_path: Path):
    reports = _tree(tmp_path)
    store = RunStore(reports)
    assert len(store.query()) == 6 and (reports / STORE).exists()
    (reports / STORE).write_bytes(b"not a database" * 100)
    assert len(store.query()) == 6
    with sqlite3.connect(reports / STORE) as con:  # a foreign schema version
        con.execute("PRAGMA user_version=99")
    assert len(store.query("metrics.best_score > 0.85")) == 3
    with sqlite3.connect(reports / STORE) as con:  # the right version number but a table missing
        con.execute("DROP TABLE metrics")
    assert len(store.query("metrics.best_score > 0.85")) == 3
    (reports / STORE).unlink()
    assert len(store.query()) == 6
    # folders changed behind the index's back: a new run, a removed one, an edited record
    _run(reports, "20260101T000010000Z-new000", metrics={"best_score": 0.99})
    import shutil

    shutil.rmtree(reports / "compare_models" / IDS[0])
    rec = json.loads((reports / "explore" / IDS[5] / "run.json").read_text())
    rec["metrics"]["best_score"] = 0.1
    write_json(reports / "explore" / IDS[5] / "run.json", rec)
    os.utime(reports / "explore" / IDS[5] / "run.json", ns=(1, 1))  # even an older mtime: it differs
    assert _ids(store.query("metrics.best_score > 0.85")) == ["20260101T000010000Z-new000", IDS[2]]


def test_a_read_of_a_record_rewritten_since_is_not_written(tmp_path: Path):
    """A sync that read ``run.json`` before the runner rewrote it must not put the old version back."""
    reports = _tree(tmp_path)
    store = RunStore(reports)
    folder = reports / "compare_models" / IDS[0]
    old = store._read(folder)
    rec = json.loads((folder / "run.json").read_text())
    rec["status"] = "failed"
    write_json(folder / "run.json", rec)
    store.record(folder)
    with store.connect() as con:
        assert store._write(con, [old], []) == 0
    assert store.find(IDS[0])["status"] == "failed"


def test_a_dead_running_run_shows_as_interrupted(tmp_path: Path):
    reports = tmp_path / "reports"
    _run(reports, IDS[0], status="running", pid=2**22 + 12345, host=os.uname().nodename)
    assert RunStore(reports).find(IDS[0])["status"] == "interrupted"


WRITER = """
import sys, time
from pathlib import Path
from workbench.core.io import write_json
from workbench.core.runfolder import ReportsTree
from workbench.core.runstore import RunStore
from workbench.reports import update_index
reports, k = Path(sys.argv[1]), int(sys.argv[2])
tree = ReportsTree(reports)
for i in range(10):
    rid = f"20260101T0000{i:02d}{k:03d}Z-w{k}{i:04d}"
    d = reports / f"nb{k}" / rid
    d.mkdir(parents=True)
    write_json(d / "run.json", {"run_id": rid, "notebook_name": f"nb{k}", "status": "succeeded",
                                "params": {"k": k, "i": i}, "metrics": {"score": k * 100 + i}})
    (d / "report.html").write_text(rid)
    if i % 2:  # as the runner does: under the reports lock, then the pages
        with tree.lock():
            RunStore(reports).record(d)
            update_index(reports, f"nb{k}")
    else:  # straight to SQLite (WAL, busy timeout): no lock at all
        RunStore(reports).record(d)
"""


def test_four_processes_record_concurrently_and_every_run_is_indexed(tmp_path: Path):
    reports = tmp_path / "reports"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(reports), str(k)], stderr=subprocess.PIPE,
                              text=True) for k in range(4)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with sqlite3.connect(reports / STORE) as con:  # read without syncing: what the writers put there
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("select count(*) from runs").fetchone()[0] == 40
        scores = sorted(r[0] for r in con.execute("select num from metrics where key = 'score'"))
    assert scores == sorted(k * 100 + i for k in range(4) for i in range(10))
    assert len(RunStore(reports).query(sync=False, limit=None)) == 40
