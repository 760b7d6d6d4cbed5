"""``workbench runs``: the filter/sort/columns/format options, tags and notes, --reindex (real CLI processes)."""

import csv
import io
import json
from pathlib import Path

from support import run_cli

from workbench.core.io import write_json

IDS = [f"20260101T0000{i:02d}000Z-abc{i:03d}" for i in range(4)]


def _tree(tmp_path: Path) -> Path:
    for i, rid in enumerate(IDS):
        d = tmp_path / "reports" / ("compare_models" if i % 2 == 0 else "explore") / rid
        d.mkdir(parents=True)
        write_json(d / "run.json", {"run_id": rid, "notebook_name": d.parent.name, "status": "succeeded",
                                    "duration_s": 1.5 + i, "params": {"folds": 3 + i, "name": "=cmd" if i == 2 else "a"},
                                    "metrics": {"best_score": [0.9, 0.7, 0.86, 0.5][i]}})
    return tmp_path


def test_where_sort_columns_and_formats(tmp_path: Path):
    cwd = _tree(tmp_path)
    where = "notebook = 'compare_models' and metrics.best_score > 0.85"
    table = run_cli("runs", "--where", where, "--sort", "-metrics.best_score", "--columns",
                    "run_id,metrics.best_score,params.folds", cwd=cwd)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines() == ["RUN                         metrics.best_score  params.folds",
                                         f"{IDS[0]}  0.9                 3",
                                         f"{IDS[2]}  0.86                5"]
    out = run_cli("runs", "--where", "params.folds >= 4", "--sort", "params.folds", "--format", "csv",
                  "--columns", "run_id,notebook,params.name,metrics.best_score", cwd=cwd)
    assert list(csv.reader(io.StringIO(out.stdout))) == [
        ["run_id", "notebook", "params.name", "metrics.best_score"], [IDS[1], "explore", "a", "0.7"],
        [IDS[2], "compare_models", "'=cmd", "0.86"], [IDS[3], "explore", "a", "0.5"]]  # formulas neutralized
    rows = json.loads(run_cli("runs", "--format", "json", "--limit", "2", "--columns", "run_id,duration_s,metrics",
                              cwd=cwd).stdout)
    assert rows == [{"run_id": IDS[3], "duration_s": 4.5, "metrics": {"best_score": 0.5}},
                    {"run_id": IDS[2], "duration_s": 3.5, "metrics": {"best_score": 0.86}}]
    default = run_cli("runs", "--status", "succeeded", "-n", "notebooks/explore.ipynb", cwd=cwd).stdout.splitlines()
    assert default[0].split() == ["RUN", "NOTEBOOK", "STATUS", "DURATION", "PARAMS", "METRICS"]
    assert [line.split()[0] for line in default[1:]] == [IDS[3], IDS[1]]


def test_bad_filters_are_one_line_errors(tmp_path: Path):
    cwd = _tree(tmp_path)
    for args, message in ((["--where", "score > 1"], "unknown field 'score': valid fields are notebook, status"),
                          (["--where", "notebook = 'x'; drop table runs"], "cannot read ';"),
                          (["--sort", "-nope"], "unknown field 'nope'"),
                          (["--columns", "run_id,__import__('os')"], "unknown field")):
        proc = run_cli("runs", *args, cwd=cwd)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli("runs", "--where", "notebook = 'x'' or 1=1 --'", cwd=cwd)
    assert proc.returncode == 0 and proc.stdout.strip() == "no runs matching the filter"
    assert len(run_cli("runs", cwd=cwd).stdout.splitlines()) == 5, "the runs are all still there"


def test_tag_untag_note_and_reindex(tmp_path: Path):
    cwd = _tree(tmp_path)
    assert run_cli("runs", "tag", IDS[1][:17], "keep", "baseline", cwd=cwd).stdout.strip() == \
        f"{IDS[1]}: tags baseline, keep"
    assert run_cli("runs", "untag", IDS[1], "baseline", cwd=cwd).stdout.strip() == f"{IDS[1]}: tags keep"
    assert run_cli("runs", "note", IDS[1], "the good one", cwd=cwd).returncode == 0
    (cwd / "reports" / ".runs.sqlite").unlink()
    proc = run_cli("runs", "--reindex", "--where", "tags = 'keep'", "--columns", "run_id,tags,notes", cwd=cwd)
    assert "indexed 4 runs" in proc.stderr
    assert proc.stdout.splitlines()[1].split(None, 2) == [IDS[1], "keep", "the good one"]
    bad = run_cli("runs", "tag", "2026", "keep", cwd=cwd)
    assert bad.returncode == 2 and "ambiguous" in bad.stderr
    bad = run_cli("runs", "tag", IDS[0], "not ok", cwd=cwd)
    assert bad.returncode == 2 and "tag 'not ok' is not usable" in bad.stderr
