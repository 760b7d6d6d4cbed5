"""Run cache and sweep parallelism.

1. `workbench run` answered from the cache vs the same run executed (`--force`), wall time of the
   CLI as a user sees it. Goal: a hit >= 20x faster.
2. A 4-run sweep with `--jobs 2` vs `--jobs 1` (every run executed: `--force`). Goal >= 1.7x on 2 cores.

Sides alternate (A B A B ...) and medians are compared: this machine's speed drifts.

    python benchmarks/bench_tracking.py [--repeat 5] [--sweep-repeat 3]
"""

from __future__ import annotations

import argparse
import os
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


def timed(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sweep-repeat", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")
    folder = Path(tempfile.mkdtemp(prefix="bench_tracking_"))
    (folder / "table.csv").write_text("x,y\n" + "\n".join(f"{i},{i % 7}" for i in range(20000)) + "\n")
    make_notebook(folder / "work.ipynb", 'path = "table.csv"  # input\nk = 3  # model size',
                  "import pandas as pd, numpy as np, plotly.express as px, workbench\ndf = pd.read_csv(path)",
                  "from sklearn.linear_model import LogisticRegression\n"
                  "m = LogisticRegression(max_iter=500).fit(df[['x']], df['y'] < k)\n"
                  "workbench.record('acc', float(m.score(df[['x']], df['y'] < k)))",
                  "px.histogram(df, x='y').show()")
    run = [*WB, "run", "work.ipynb", "--no-progress"]
    subprocess.run(run, cwd=folder, check=True, capture_output=True)  # the run the cache answers from
    fresh, hit = [], []
    for i in range(args.repeat):
        fresh.append(timed(run + ["--force"], folder))
        hit.append(timed(run, folder))
        print(f"round {i + 1}: executed {fresh[-1]:.2f}s, cache hit {hit[-1]:.3f}s", flush=True)
    mf, mh = statistics.median(fresh), statistics.median(hit)
    print(f"\ncache: executed {mf:.2f} s, hit {mh:.3f} s (medians of {args.repeat}) -> {mf / mh:.1f}x faster (goal >= 20x)\n")

    sweep = [*WB, "sweep", "work.ipynb", "-g", "k=2,3,4,5", "--force"]
    seq, par = [], []
    for i in range(args.sweep_repeat):
        par.append(timed(sweep + ["--jobs", "2"], folder))
        seq.append(timed(sweep + ["--jobs", "1"], folder))
        print(f"round {i + 1}: sweep of 4 with --jobs 2 {par[-1]:.1f}s, --jobs 1 {seq[-1]:.1f}s", flush=True)
    ms, mp = statistics.median(seq), statistics.median(par)
    print(f"\nsweep of 4 runs: sequential {ms:.1f} s, 2 jobs {mp:.1f} s (medians of {args.sweep_repeat}) -> "
          f"{ms / mp:.2f}x (goal >= 1.7x on 2 cores; os.cpu_count()={os.cpu_count()})")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
