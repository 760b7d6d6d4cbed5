"""Warm sweep workers: one process runs several points, each in a fresh kernel (nothing carries over),
with BLAS/OpenMP threads sized to the job's share of the cores."""

import os
from pathlib import Path

import pytest
from support import make_notebook

from workbench.core.parallel import cpu_count
from workbench.runner import RunOptions, run_sweep
from workbench.runner._workers import THREAD_VARS, threads_env

CELL = ("import os, sys, workbench\n"
        "workbench.record('leaked', int('marker' in globals() or hasattr(sys, 'wb_marker')))\n"
        "marker = sys.wb_marker = a\n"
        "workbench.record('worker', os.getppid())\n"
        "workbench.record('threads', int(os.environ.get('OMP_NUM_THREADS', '0')))\n"
        "if a == die_on:\n    os.kill(os.getppid(), 9)")


@pytest.fixture
def nb(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_TRACKING", "off")
    for k in THREAD_VARS:
        monkeypatch.delenv(k, raising=False)
    return make_notebook(tmp_path / "warm.ipynb", "a = 1  # a number\ndie_on = -1  # the point that kills its worker",
                         CELL)


def _sweep(nb: Path, grid: dict, jobs: int, **base):
    return run_sweep(nb, grid, base=base, options=RunOptions(reports=nb.parent / "reports"), jobs=jobs)


def test_threads_are_the_cores_divided_among_jobs_and_a_user_setting_wins():
    share = str(max(1, cpu_count() // 2))
    assert threads_env(2, {}) == {k: share for k in THREAD_VARS}
    assert threads_env(2, {"OMP_NUM_THREADS": "3"})["OPENBLAS_NUM_THREADS"] == share
    assert "OMP_NUM_THREADS" not in threads_env(2, {"OMP_NUM_THREADS": "3"})
    assert threads_env(1, {}) == {} and threads_env(64 * cpu_count(), {})["OMP_NUM_THREADS"] == "1"


def test_one_warm_worker_runs_every_point_each_in_a_fresh_kernel(nb: Path):
    sweep = _sweep(nb, {"a": [1, 2, 3]}, jobs=1)
    assert sweep.failed == 0
    metrics = [p.record.metrics for p in sweep.points]
    assert [m["leaked"] for m in metrics] == [0, 0, 0], "a point saw the previous point's variables or modules"
    assert len({m["worker"] for m in metrics}) == 1, "the points did not share one warm worker"
    assert os.getpid() not in {m["worker"] for m in metrics}
    assert [m["threads"] for m in metrics] == [0, 0, 0], "one job: the thread pools are left alone"
    assert sorted(p.record.params["a"] for p in sweep.points) == [1, 2, 3]


def test_two_jobs_size_each_kernels_threads_to_its_share_of_the_cores(nb: Path):
    sweep = _sweep(nb, {"a": [1, 2]}, jobs=2)
    assert sweep.failed == 0
    assert {p.record.metrics["threads"] for p in sweep.points} == {max(1, cpu_count() // 2)}
    assert {p.record.metrics["leaked"] for p in sweep.points} == {0}


def test_a_point_that_kills_its_worker_fails_alone_and_the_next_gets_a_fresh_worker(nb: Path):
    sweep = _sweep(nb, {"a": [1, 2, 3]}, jobs=1, die_on=2)
    by_a = {p.params["a"]: p for p in sweep.points}
    assert by_a[1].ok and by_a[3].ok and not by_a[2].ok
    assert by_a[2].record is None and by_a[2].message == "the worker running this point was killed by signal 9"
    assert by_a[1].record.metrics["worker"] != by_a[3].record.metrics["worker"]


def test_each_point_of_a_warm_worker_publishes_its_own_offline_wandb_run(nb: Path, monkeypatch):
    import wandb_reader

    monkeypatch.delenv("WORKBENCH_TRACKING")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(nb.parent))
    sweep = _sweep(nb, {"a": [1, 2]}, jobs=1)
    assert sweep.failed == 0 and len({p.record.metrics["worker"] for p in sweep.points}) == 1
    for p in sweep.points:
        got = wandb_reader.summarize(p.record.tracking["offline_dir"])
        assert got["run"]["id"] == p.record.run_id and got["run"]["group"] == sweep.sweep_id
        assert got["config"]["a"] == p.params["a"] and got["summary"]["leaked"] == 0
        assert any(a["type"] == "report" for a in got["artifacts"])


@pytest.mark.slow
def test_sigterm_ends_both_running_points_of_a_two_job_sweep_as_interrupted(tmp_path: Path):
    import json
    import signal
    import subprocess
    import sys
    import time

    make_notebook(tmp_path / "slow.ipynb", f"flag = {str(tmp_path / 'started')!r}  # a file prefix\nn = 1  # a number",
                  "import pathlib, time\npathlib.Path(f'{flag}-{n}').touch()\ntime.sleep(60)")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WORKBENCH_TRACKING": "off"}
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "sweep", "slow.ipynb", "-g", "n=1,2", "--jobs", "2"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while len(list(tmp_path.glob("started-*"))) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert len(list(tmp_path.glob("started-*"))) == 2, "the two points never ran together"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    recs = [json.loads(p.read_text()) for p in (tmp_path / "reports" / "slow").glob("2*/run.json")]
    assert sorted(r["params"]["n"] for r in recs) == [1, 2]
    assert {r["status"] for r in recs} == {"interrupted"} and {r["pid"] for r in recs} == {None}
    assert all((tmp_path / "reports" / "slow" / r["run_id"] / "report.html").exists() for r in recs)
