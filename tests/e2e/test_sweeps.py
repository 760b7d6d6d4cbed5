"""Sweeps: a grid run in separate processes, locally and on a Dask LocalCluster, plus the comparison page."""

import json
from pathlib import Path

import pytest
from support import make_notebook, remote_references, render_dom, run_cli

PARAMS = ('a = 1  # first factor\nb = 1.0  # second factor\nfail_on = -1  # value of a that fails\n'
          'tag = "x"  # a label, text')
CELLS = ("import workbench\nif a == fail_on:\n    raise RuntimeError('planned failure')",
         "workbench.record('product', a * b)\nworkbench.record_curve('line', [0, 1, 2], [0, a * b, 2 * a * b], 'x', 'y')")


@pytest.fixture
def grid_nb(workdir: Path) -> Path:
    return make_notebook(workdir / "grid.ipynb", PARAMS, *CELLS)


def test_bad_grid_values_fail_before_anything_runs(workdir, grid_nb):
    proc = run_cli("sweep", "grid.ipynb", "-g", "a=1,two", cwd=workdir)
    assert proc.returncode == 2 and "parameter 'a' of grid.ipynb must be int" in proc.stderr
    proc = run_cli("sweep", "grid.ipynb", "-g", "c=1,2", cwd=workdir)
    assert proc.returncode == 2 and "unknown parameter 'c'" in proc.stderr
    assert not (workdir / "reports").exists()


def _check_sweep(workdir: Path, proc, expect_failed: int = 0) -> list[dict]:
    sweep_id = next(line.split()[1].rstrip(":") for line in proc.stdout.splitlines() if line.startswith("sweep sweep-"))
    recs = [json.loads(p.read_text()) for p in (workdir / "reports/grid").glob("*/run.json")]
    recs = [r for r in recs if r["sweep_id"] == sweep_id]
    assert len(recs) == 4 and sum(r["status"] == "failed" for r in recs) == expect_failed
    page = workdir / "reports" / "sweeps" / sweep_id / "compare.html"
    assert page.exists() and not remote_references(page.read_text())
    assert "product" in page.read_text() and "wb-diff" in page.read_text()
    index = (workdir / "reports" / "index.html").read_text()
    assert f"sweeps/{sweep_id}/compare.html" in index
    return recs


def _check_page_in_browser(workdir: Path) -> None:
    (page,) = (workdir / "reports" / "sweeps").glob("*/compare.html")
    dom = render_dom(page)
    assert dom.count('class="main-svg"') >= 3  # product vs a, product vs b, overlaid curve
    assert "product" in dom and "wb-diff" in dom


@pytest.mark.slow
@pytest.mark.browser
def test_local_sweep_two_jobs_one_failure_does_not_stop_the_rest(workdir, grid_nb):
    proc = run_cli("sweep", "grid.ipynb", "-g", "a=2,3", "-g", "b=0.5,2", "-p", "fail_on", "3", "-p", "tag", "007",
                   "--jobs", "2", cwd=workdir)
    assert proc.returncode == 1, proc.stderr
    assert "2/4 succeeded" in proc.stdout and proc.stdout.count("FAIL") == 2
    recs = _check_sweep(workdir, proc, expect_failed=2)
    assert {r["params"]["tag"] for r in recs} == {"007"}, "a text value keeps the text given (not YAML's 7)"
    ok = sorted(r["metrics"]["product"] for r in recs if r["status"] == "succeeded")
    assert ok == [1.0, 4.0]
    _check_page_in_browser(workdir)


@pytest.mark.slow
@pytest.mark.browser
def test_sweep_on_a_dask_local_cluster(workdir, grid_nb):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        worker_addresses = [f"dask:{w.worker_address}" for w in cluster.workers.values()]
        proc = run_cli("sweep", "grid.ipynb", "-g", "a=2,3", "-g", "b=0.5,2", "--scheduler", cluster.scheduler_address,
                       cwd=workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "on Dask at tcp://" in proc.stdout and "4/4 succeeded" in proc.stdout
    recs = _check_sweep(workdir, proc)
    assert sorted(r["metrics"]["product"] for r in recs) == [1.0, 1.5, 4.0, 6.0]
    assert {r["pid"] for r in recs} == {None}  # records finalized
    # the runs were executed by the cluster's workers, not by this process
    workers = {r["executor"] for r in recs}
    assert workers <= set(worker_addresses) and len(workers) >= 1, (workers, worker_addresses)
    _check_page_in_browser(workdir)


@pytest.mark.slow
def test_run_sweep_from_python_keeps_values_typed_and_writes_the_page_and_index(workdir, grid_nb, monkeypatch):
    """No CLI involved: the runner runs the points, writes the comparison page and updates the index."""
    from workbench.runner import RunOptions, run_sweep

    monkeypatch.chdir(workdir)
    monkeypatch.setenv("WORKBENCH_TRACKING", "off")
    seen = []
    sweep = run_sweep(grid_nb, {"a": [2, 3], "tag": ["007", "1e-4"]}, base={"b": 1.5},
                      options=RunOptions(reports=workdir / "reports", hide_code=True), on_done=seen.append)
    assert sweep.runs == 4 and sweep.failed == 0 and len(seen) == 4
    recs = {(p.record.params["a"], p.record.params["tag"]): p.record for p in sweep.points}
    assert set(recs) == {(2, "007"), (2, "1e-4"), (3, "007"), (3, "1e-4")}, "text values stay text"
    assert {r.metrics["product"] for r in recs.values()} == {3.0, 4.5}
    assert {r.sweep_id for r in recs.values()} == {sweep.sweep_id}
    assert all(r.options["hide_code"] and r.executor.startswith("local:") for r in recs.values())
    assert sweep.page == workdir / "reports" / "sweeps" / sweep.sweep_id / "compare.html"
    assert sweep.page.exists() and "product" in sweep.page.read_text()
    assert f"sweeps/{sweep.sweep_id}/compare.html" in (workdir / "reports" / "index.html").read_text()


@pytest.mark.slow
def test_sigterm_stops_a_sweep_and_its_running_points_record_how_they_ended(workdir, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    flag = tmp_path / "started"
    make_notebook(workdir / "slow.ipynb", f"flag = {str(flag)!r}  # a file the notebook touches\nn = 1  # a number",
                  "import pathlib, time\npathlib.Path(flag).touch()\ntime.sleep(60)")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WORKBENCH_TRACKING": "off"}
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "sweep", "slow.ipynb", "-g", "n=1,2"],
                            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while not flag.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert flag.exists(), "the notebook never started"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    (run,) = (workdir / "reports" / "slow").glob("2*")  # --jobs 1: the second point never started
    rec = json.loads((run / "run.json").read_text())
    assert rec["status"] == "interrupted" and rec["pid"] is None and (run / "report.html").exists()
