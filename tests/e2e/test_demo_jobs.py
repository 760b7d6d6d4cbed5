"""``workbench demo --jobs 2``: runs as child processes, longest first, output lines named, failures counted."""

import json
from pathlib import Path

import nbformat
import pytest
from support import make_notebook, run_cli

from workbench.cli._demo import expected_seconds, label, longest_first

PARAMS = 'n = 3  # points\nfail = False  # raise on purpose'
CELLS = ("import workbench\nif fail:\n    raise ValueError('boom on purpose')\nprint('line', n)\n"
         "workbench.record('total', n * 2)",)


def _hint(path: Path, seconds) -> Path:
    nb = nbformat.read(path, as_version=4)
    nb.metadata["workbench"] = {"demo_seconds": seconds}
    nbformat.write(nb, path)
    return path


def test_longest_first_orders_by_the_notebooks_hint_and_keeps_folder_order_otherwise(tmp_path):
    a = make_notebook(tmp_path / "a.ipynb", PARAMS, *CELLS)
    b = _hint(make_notebook(tmp_path / "b.ipynb", PARAMS, *CELLS), 600)
    c = _hint(make_notebook(tmp_path / "c.ipynb", PARAMS, *CELLS), "long")  # not a number: no hint
    d = _hint(make_notebook(tmp_path / "d.ipynb", PARAMS, *CELLS), 90)
    e = make_notebook(tmp_path / "e.ipynb", PARAMS, *CELLS)
    assert [expected_seconds(p) for p in (a, b, c, d)] == [0, 600, 0, 90]
    runs = [(a, None), (b, None), (c, None), (d, tmp_path / "d.big.yaml"), (e, None)]
    assert [label(r) for r in longest_first(runs)] == ["b", "d:big", "a", "c", "e"]
    assert expected_seconds(tmp_path / "missing.ipynb") == 0


def test_the_repository_demo_starts_with_the_vision_run():
    from workbench.cli._commands import demo_runs

    runs = longest_first(demo_runs(Path(__file__).resolve().parents[2] / "notebooks"))
    assert label(runs[0]) == "vision_finetune"


@pytest.mark.slow
def test_demo_jobs_runs_each_notebook_in_its_own_process_and_counts_failures(workdir):
    folder = workdir / "nbs"
    folder.mkdir()
    make_notebook(folder / "ok.ipynb", PARAMS, *CELLS)
    _hint(make_notebook(folder / "slow.ipynb", PARAMS, *CELLS), 100)
    (folder / "ok.broken.yaml").write_text("fail: true\n")
    proc = run_cli("demo", "nbs", "--jobs", "2", "--log-output", cwd=workdir)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    started = [line.split()[2] for line in out.splitlines() if line.startswith("== started")]
    assert started == ["slow", "ok", "ok:broken"]
    assert "[slow] line 3" in out and "[ok] line 3" in out, "each run's output carries its name"
    assert "== ok:broken failed (exit status 1)" in out and "== slow succeeded" in out
    assert "2/3 runs succeeded" in out
    records = [json.loads(p.read_text()) for p in (workdir / "reports").glob("*/*/run.json")]
    assert sorted((Path(r["notebook"]).stem, r["status"]) for r in records) == [
        ("ok", "failed"), ("ok", "succeeded"), ("slow", "succeeded")]
    assert any("boom on purpose" in p.read_text() for p in (workdir / "reports").glob("*/*/report.html")), \
        "the failed run still wrote its marked report"
