"""Benchmark: pipelines of notebooks (issue 23's goals).

    .venv/bin/python benchmarks/bench_pipeline.py            # 5 rounds, LocalCluster check included
    .venv/bin/python benchmarks/bench_pipeline.py --quick    # 3 rounds, no LocalCluster

In a temporary folder: two small notebooks and a 4-step pipeline (``a -> b -> d``, ``c`` independent, ``d``
after ``c``), as in the tests, plus a pipeline of two independent steps of equal cost (a NumPy loop of about
``--work`` seconds each, so both steps are CPU-bound like real training).

1. **Unchanged rerun**: after a first run, ``workbench pipeline run four.yaml`` through the real CLI (a new
   process each time: imports, plan, run-cache lookups, records, the pipeline page and reports index).
   Goal: <= 2 s end to end. Baseline in the same rounds: ``workbench --help`` (the CLI's own start), and the
   first, executing run.
2. **One changed parameter** (``-p a.x N``, a new value each round) executes exactly ``a`` and its
   descendants ``b`` and ``d``; ``c`` is reused. Checked every round (a mechanism, printed PASS/FAIL).
3. **Two independent steps on 2 jobs** (forced, so both execute) against the same two on 1 job, rounds
   alternating (1 job, 2 jobs, 1 job, ...). Goal: the 2-job wall time <= 0.65 x the sum of the two steps'
   own times when each runs alone (those of the 1-job round just before; median of rounds). Two
   CPU-bound steps need two idle cores: on a loaded machine this ratio rises towards 1.
4. **LocalCluster** (not with ``--quick``): the 4-step pipeline forced through ``--scheduler`` on a
   ``distributed.LocalCluster`` (2 worker processes) gives the same step metrics as the local run.

The load average is printed with the figures: this machine is shared, compare medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

A = ('x = 1  # a number', "import workbench\nworkbench.record('y', x * 2)")
B = ('y = 0  # from a', "import workbench\nworkbench.record('z', y + 1)")
WORK = ('seconds = 2.0  # CPU work\nseed = 0  # which work',
        "import time, numpy as np, workbench\n"
        "rng, t0, n = np.random.default_rng(seed), time.process_time(), 0\n"
        "m = rng.standard_normal((300, 300))\n"
        "while time.process_time() - t0 < seconds:\n"
        "    m = np.tanh(m @ m.T / 300.0); n += 1\n"
        "workbench.record('loops', n)")
FOUR = """steps:
  a: {notebook: a.ipynb, params: {x: 3}}
  b: {notebook: b.ipynb, params: {y: "${a.metrics.y}"}}
  c: {notebook: a.ipynb, params: {x: 10}}
  d: {notebook: a.ipynb, params: {x: "${b.metrics.z}"}, after: [c]}
"""
TWO = """steps:
  left:  {notebook: work.ipynb, params: {seconds: %(s)s, seed: 1}}
  right: {notebook: work.ipynb, params: {seconds: %(s)s, seed: 2}}
"""


def _env() -> dict[str, str]:
    # one BLAS thread per step: two steps on two cores must not fight over four threads
    return {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def cli(work: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).with_name("workbench")), *args], cwd=work, env=_env(), capture_output=True,
                          text=True, timeout=600)
    return time.perf_counter() - t0, proc


def setup(work: Path, seconds: float) -> None:
    from support import make_notebook

    make_notebook(work / "a.ipynb", *A)
    make_notebook(work / "b.ipynb", *B)
    make_notebook(work / "work.ipynb", *WORK)
    (work / "four.yaml").write_text(FOUR)
    (work / "two.yaml").write_text(TWO % {"s": seconds})


def unchanged_rerun(work: Path, rounds: int) -> None:
    first, proc = cli(work, "pipeline", "run", "four.yaml", "--jobs", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reruns, helps = [], []
    for _ in range(rounds):  # alternating: the CLI's bare start, then the unchanged rerun
        helps.append(cli(work, "--help")[0])
        t, proc = cli(work, "pipeline", "run", "four.yaml", "--jobs", "2")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stderr.count(": cached") >= 4 or "4 cached" in proc.stdout, proc.stdout + proc.stderr
        reruns.append(t)
    med = statistics.median(reruns)
    print(f"1. unchanged 4-step rerun (CLI, end to end): median {med:.2f} s over {rounds} "
          f"(min {min(reruns):.2f}, max {max(reruns):.2f}); goal <= 2 s: {'PASS' if med <= 2 else 'FAIL'}")
    print(f"   baseline: `workbench --help` median {statistics.median(helps):.2f} s; first (executing) run "
          f"{first:.2f} s -> rerun is {med / first:.2f}x of it")


def one_change(work: Path, rounds: int) -> None:
    import workbench.pipeline as pipeline

    ok = True
    for i in range(rounds):
        res = pipeline.run(work / "four.yaml", params={"a.x": 100 + i}, jobs=2, reports=str(work / "reports"))
        statuses = {n: r.status for n, r in res.steps.items()}
        want = {"a": "succeeded", "b": "succeeded", "c": "cached", "d": "succeeded"}
        ok &= statuses == want and res.steps["d"].metrics == {"y": 2 * ((100 + i) * 2 + 1)}
        if statuses != want:
            print(f"   round {i}: {statuses}")
    print(f"2. one changed parameter (a.x) executes exactly a, b, d and reuses c, {rounds} rounds: "
          f"{'PASS' if ok else 'FAIL'}")


def independent(work: Path, rounds: int) -> None:
    import workbench.pipeline as pipeline

    walls: dict[int, list[float]] = {1: [], 2: []}
    ratios, alone = [], 0.0
    for _ in range(rounds):
        for jobs in (1, 2):  # A B A B ...
            t0 = time.perf_counter()
            res = pipeline.run(work / "two.yaml", jobs=jobs, force=["left", "right"], reports=str(work / "reports"))
            wall = time.perf_counter() - t0
            assert res.ok and all(r.status == "succeeded" for r in res.steps.values()), res.summary()
            walls[jobs].append(wall)
            if jobs == 1:  # the sum of the two steps' own times, each run alone
                alone = sum(r.duration_s for r in res.steps.values())
            else:
                ratios.append(wall / alone)
    m1, m2, mr = statistics.median(walls[1]), statistics.median(walls[2]), statistics.median(ratios)
    print(f"3. two independent equal steps: 1 job {m1:.2f} s, 2 jobs {m2:.2f} s (median of {rounds}); "
          f"2 jobs / sum of the steps' times run alone (previous 1-job round) = {mr:.2f} "
          f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}); 2 jobs / 1 job = {m2 / m1:.2f}; "
          f"goal <= 0.65: {'PASS' if mr <= 0.65 else 'FAIL'}")


def on_cluster(work: Path) -> None:
    from distributed import LocalCluster

    import workbench.pipeline as pipeline

    local = pipeline.run(work / "four.yaml", jobs=2, force=list("abcd"), reports=str(work / "reports"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        t0 = time.perf_counter()
        remote = pipeline.run(work / "four.yaml", jobs=2, force=list("abcd"), scheduler=cluster.scheduler_address,
                              reports=str(work / "reports"))
        took = time.perf_counter() - t0
    same = {n: r.metrics for n, r in local.steps.items()} == {n: r.metrics for n, r in remote.steps.items()}
    executors = sorted({str(r.executor) for r in remote.steps.values()})
    print(f"4. LocalCluster (2 workers): all steps {'succeeded' if remote.ok else 'NOT ok'} in {took:.1f} s, "
          f"same metrics as local: {'PASS' if same and remote.ok else 'FAIL'} (executors: {', '.join(executors)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds, no LocalCluster")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--work", type=float, default=3.0, help="CPU seconds of each independent step's loop")
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    os.environ.update(_env())
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        work = Path(tmp)
        setup(work, args.work)
        os.chdir(work)
        unchanged_rerun(work, rounds)
        one_change(work, rounds)
        independent(work, rounds)
        if not args.quick:
            on_cluster(work)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
