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
