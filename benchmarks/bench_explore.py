"""Benchmark: workbench's EDA building blocks against ydata-profiling (minimal mode) on one table.

    .venv/bin/python benchmarks/bench_explore.py              # 1,000,000 x 20, 3 alternating rounds
    .venv/bin/python benchmarks/bench_explore.py --rows 100000 --repeat 2   # quick run

The synthetic table has 20 columns: 8 floats (normal, skewed, uniform), 6 categoricals with 5-50
levels, 5 integers and a binary target, each with 2% missing values. It is written once to a Parquet
file that both sides read. ydata-profiling pins older pandas/numpy than workbench, so it lives in its
own virtual environment (``--ydata-python``, default ``.workbench/ydata-venv/bin/python``; create it
with ``python -m venv .workbench/ydata-venv && .workbench/ydata-venv/bin/pip install ydata-profiling``)
and runs in a subprocess on the same file; it times itself after reading the file, like the
workbench side. The two sides alternate (A B A B ...); medians are compared. Peak memory is the
increase of peak RSS over the RSS after reading the data, each side in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def make_table(rows: int, seed: int = 0):
    """The synthetic 20-column table (numeric, categorical with 5-50 levels, integers, 2% missing)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i in range(8):
        kind = i % 3
        v = (rng.normal(i, 1 + i, rows) if kind == 0 else rng.lognormal(0, 1, rows) if kind == 1
             else rng.uniform(-5, 5, rows))
        cols[f"num_{i}"] = v
    for i, levels in enumerate((5, 8, 12, 20, 35, 50)):
        names = np.array([f"c{i}_level_{j}" for j in range(levels)], dtype=object)
        p = rng.dirichlet(np.ones(levels))
        cols[f"cat_{i}"] = names[rng.choice(levels, size=rows, p=p)]
    for i in range(5):
        cols[f"int_{i}"] = rng.integers(0, 10 ** (i + 1), rows).astype("float64")
    cols["target"] = (rng.random(rows) < 0.2).astype("float64")
    df = pd.DataFrame(cols)
    for c in df.columns:
        mask = rng.random(rows) < 0.02
        df.loc[mask, c] = None
    for i in range(5):
        df[f"int_{i}"] = df[f"int_{i}"].astype("Int64")
    df["target"] = df["target"].astype("Int64")
    return df


def run_workbench(df, max_rows: int = 100_000) -> float:
    """All EDA sections of the explore notebook except the HTML column explorer; seconds."""
    sys.path.insert(0, str(REPO))
    from workbench.explore import Exploration

    t0 = time.perf_counter()
    eda = Exploration(df, target="target", max_rows_for_heavy_stats=max_rows, seed=0)
    parts = [eda.overview(), eda.alerts(), eda.summaries(), eda.missing(), eda.distributions(),
             eda.correlations(), eda.associations(), eda.target_analysis()]
    eda.headline()
    dt = time.perf_counter() - t0
    if eda.failures:
        raise RuntimeError(f"sections failed: {eda.failures}")
    del parts
    return dt


def run_ydata(df) -> float:
    from ydata_profiling import ProfileReport

    t0 = time.perf_counter()
    report = ProfileReport(df, minimal=True, progress_bar=False)
    report.get_description()
    return time.perf_counter() - t0


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(side: str, data: str, max_rows: int) -> None:
    """One measurement in this (fresh) process; prints JSON."""
    import pandas as pd

    df = pd.read_parquet(data)
    if side == "ydata":
        import ydata_profiling  # noqa: F401  (import outside the timing)
    else:
        import workbench.explore  # noqa: F401
    base = _rss_mb()
    seconds = run_ydata(df) if side == "ydata" else run_workbench(df, max_rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_after_load_mb": base, "peak_rss_mb": peak,
                      "peak_increase_mb": peak - base}))


def _subprocess(python: str, side: str, data: str, max_rows: int, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "")}
    env = {k: v for k, v in env.items() if v != ""}
    proc = subprocess.run([python, __file__, "--worker", side, "--data", data, "--max-rows", str(max_rows)],
                          capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="alternating rounds (A B) per side")
    ap.add_argument("--max-rows", type=int, default=100_000, help="workbench max_rows_for_heavy_stats")
    ap.add_argument("--ydata-python", default=os.environ.get("WORKBENCH_YDATA_PYTHON",
                                                             str(REPO / ".workbench/ydata-venv/bin/python")))
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per ydata run")
    ap.add_argument("--worker", choices=["workbench", "ydata"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.max_rows)
        return 0

    import pandas as pd

    have_ydata = Path(args.ydata_python).exists()
    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "table.parquet")
        t0 = time.perf_counter()
        make_table(args.rows).to_parquet(data)
        df = pd.read_parquet(data)
        print(f"table: {df.shape[0]:,} rows x {df.shape[1]} columns, {df.memory_usage(deep=True).sum() / 2**20:.0f} MiB "
              f"in memory, made in {time.perf_counter() - t0:.1f} s; workbench max_rows_for_heavy_stats="
              f"{args.max_rows:,}")
        if have_ydata:
            print(f"baseline: ydata-profiling (minimal=True, get_description) in a subprocess of {args.ydata_python} "
                  "(it needs pandas<3/numpy<2.4, so it has its own venv), same Parquet file, timed after reading")
        else:
            print(f"baseline: ydata-profiling NOT available at {args.ydata_python}; measuring workbench only")
        run_workbench(df.head(5000), args.max_rows)  # warm imports
        ours, theirs = [], []
        for i in range(args.repeat):
            ours.append(run_workbench(df, args.max_rows))
            print(f"  round {i + 1}: workbench {ours[-1]:.2f} s", end="", flush=True)
            if have_ydata:
                theirs.append(_subprocess(args.ydata_python, "ydata", data, args.max_rows, args.timeout)["seconds"])
                print(f" | ydata-profiling {theirs[-1]:.2f} s", end="")
            print(flush=True)
        mem_ours = _subprocess(sys.executable, "workbench", data, args.max_rows, args.timeout)
        mem_theirs = _subprocess(args.ydata_python, "ydata", data, args.max_rows, args.timeout) if have_ydata else None
    med_ours = statistics.median(ours)
    print(f"workbench EDA blocks: median {med_ours:.2f} s over {len(ours)} runs; "
          f"peak RSS +{mem_ours['peak_increase_mb']:.0f} MiB "
          f"over the loaded table ({mem_ours['rss_after_load_mb']:.0f} MiB)")
    if mem_theirs is not None:
        med_theirs = statistics.median(theirs)
        ratio = med_ours / med_theirs
        print(f"ydata-profiling minimal: median {med_theirs:.2f} s over {len(theirs)} runs; peak RSS "
              f"+{mem_theirs['peak_increase_mb']:.0f} MiB over the loaded table ({mem_theirs['rss_after_load_mb']:.0f} MiB)")
        print(f"ratio workbench/ydata-profiling time: {ratio:.3f} (1/{1 / ratio:.1f}); goal <= 0.2 -> "
              f"{'met' if ratio <= 0.2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
