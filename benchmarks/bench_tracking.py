"""Run cache and sweep parallelism.

1. `workbench run` answered from the cache vs the same run executed (`--force`), wall time of the
   CLI as a user sees it. Goal: a hit >= 20x faster.
2. A 4-run sweep with `--jobs 2` vs `--jobs 1` (every run executed: `--force`). Goal >= 1.7x on 2 cores.

Sides alternate (A B A B ...) and medians are compared: this machine's speed drifts; each round's line
shows the load average. `--baseline SRC` adds the same two sweeps run by another checkout's `workbench`
package (e.g. `git archive <commit> workbench | tar -x -C SRC`), alternating with this one's.

    python benchmarks/bench_tracking.py [--repeat 5] [--sweep-repeat 3] [--sweep-only] [--baseline SRC]
    python benchmarks/bench_tracking.py --quick     # 1 cache round, 1 sweep round
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support import make_notebook  # noqa: E402

WB = [sys.executable, "-m", "workbench.cli"]


CPU: dict[str, list[float]] = {}


def timed(cmd: list[str], cwd: Path, src: str | None = None, cpu_key: str | None = None) -> float:
    """Wall time of ``cmd``; with ``cpu_key``, its CPU time (every process it started, kernels included,
    all reaped by the end) is kept under ``CPU[cpu_key]``."""
    env = {**os.environ, "PYTHONPATH": src} if src else None  # the folder runs first on sys.path
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu_key:
        CPU.setdefault(cpu_key, []).append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall


def _load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def cache_rounds(folder: Path, repeat: int) -> None:
    run = [*WB, "run", "work.ipynb", "--no-progress"]
    subprocess.run(run, cwd=folder, check=True, capture_output=True)  # the run the cache answers from
    fresh, hit = [], []
    for i in range(repeat):
        fresh.append(timed(run + ["--force"], folder))
        hit.append(timed(run, folder))
        print(f"round {i + 1}: executed {fresh[-1]:.2f}s, cache hit {hit[-1]:.3f}s  ({_load()})", flush=True)
    mf, mh = statistics.median(fresh), statistics.median(hit)
    print(f"\ncache: executed {mf:.2f} s, hit {mh:.3f} s (medians of {repeat}) -> {mf / mh:.1f}x faster (goal >= 20x)\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sweep-repeat", type=int, default=3)
    ap.add_argument("--sweep-only", action="store_true", help="leave out the cache rounds")
    ap.add_argument("--baseline", metavar="SRC", help="a folder holding another version's workbench/ package")
    ap.add_argument("--quick", action="store_true", help="1 cache round, 1 sweep round")
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.sweep_repeat = 1, 1
    os.environ.setdefault("WANDB_MODE", "offline")
    folder = Path(tempfile.mkdtemp(prefix="bench_tracking_"))
    (folder / "table.csv").write_text("x,y\n" + "\n".join(f"{i},{i % 7}" for i in range(20000)) + "\n")
    make_notebook(folder / "work.ipynb", 'path = "table.csv"  # input\nk = 3  # model size',
                  "import pandas as pd, numpy as np, plotly.express as px, workbench\ndf = pd.read_csv(path)",
                  "from sklearn.linear_model import LogisticRegression\n"
                  "m = LogisticRegression(max_iter=500).fit(df[['x']], df['y'] < k)\n"
                  "workbench.record('acc', float(m.score(df[['x']], df['y'] < k)))",
                  "px.histogram(df, x='y').show()")
    print(f"{os.cpu_count()} CPUs, {_load()}", flush=True)
    if not args.sweep_only:
        cache_rounds(folder, args.repeat)
    sides = {"this": None, **({"baseline": str(Path(args.baseline).resolve())} if args.baseline else {})}
    sweep = [*WB, "sweep", "work.ipynb", "-g", "k=2,3,4,5", "--force"]
    times: dict[tuple[str, int], list[float]] = {(side, jobs): [] for side in sides for jobs in (2, 1)}
    for i in range(args.sweep_repeat):
        for side, jobs in times:
            times[side, jobs].append(timed(sweep + ["--jobs", str(jobs)], folder, sides[side], f"{side} --jobs {jobs}"))
        print(f"round {i + 1}: sweep of 4, " + ", ".join(f"{s} --jobs {j} {v[-1]:.1f}s" for (s, j), v in times.items())
              + f"  ({_load()})", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    for side in sides:
        ms, mp = med[side, 1], med[side, 2]
        print(f"\n{side}: sweep of 4 runs: sequential {ms:.1f} s, 2 jobs {mp:.1f} s (medians of {args.sweep_repeat}) -> "
              f"{ms / mp:.2f}x (goal >= 1.7x on 2 cores; os.cpu_count()={os.cpu_count()})")
    print("CPU per sweep of 4 (every process, kernels included; medians): "
          + ", ".join(f"{k} {statistics.median(v):.1f} s" for k, v in CPU.items()))
    if args.baseline:
        print(f"this vs baseline: 2 jobs {med['baseline', 2] / med['this', 2]:.2f}x faster, "
              f"sequential {med['baseline', 1] / med['this', 1]:.2f}x faster, 2 jobs vs the baseline's sequential "
              f"{med['baseline', 1] / med['this', 2]:.2f}x")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
