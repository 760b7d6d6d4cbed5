"""Data beyond one machine: batch predict, drift and profiling of an N x 20 Parquet dataset.

Writes two datasets of ``--rows`` rows (default 100,000,000) x 20 columns (the Telco features resampled
with noise: numbers and categories; the second with planted shifts in ``tenure`` and ``contract``), in
chunks of ``--chunk`` rows, one file per chunk (never whole in memory). Then runs, each in its own process
tree with psutil polling every 0.2 s (the peak of the summed RSS of the process and all its children):

- ``predict``: ``workbench predict MODEL DATA -o OUT --jobs J`` with a Telco logistic regression;
- ``drift``: ``DriftReport(ref, cur, engine="dask")`` column table (out of core: KLL + exact counts);
- ``profile``: ``profile_dataset`` of one dataset (the aggregates exploration would use).

Prints wall time, rows/s and peak memory per command, with the load average. ``--repeat`` runs each
command that many times (medians). Usage: ``python benchmarks/bench_scale.py --rows 5000000``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]


def write_dataset(folder: Path, rows: int, chunk: int, shifted: bool, seed: int) -> None:
    import workbench

    base = workbench.load_dataset("telco_churn").frame.drop(columns=["churn"])
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i, start in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - start)
        part = base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)
        part["rownames"] = np.arange(start, start + n)
        part["monthly_charges"] = part["monthly_charges"] + rng.normal(0, 1, n)
        if shifted:
            part["tenure"] = part["tenure"] + 12
            flip = rng.random(n) < 0.3
            part.loc[flip, "contract"] = "Month-to-month"
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), folder / f"part-{i:05d}.parquet")


def telco_model(folder: Path) -> Path:
    import workbench
    from workbench import tabular
    from workbench.tabular._fitted import TabularModel
    from workbench.tabular._persist import save_model
    from workbench.tabular._registry import build_model

    df = workbench.load_dataset("telco_churn").frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(df, "churn", folds=2, models=["logistic_regression"])
        est = build_model("logistic_regression", task.numeric, task.categorical, seed=0).fit(task.X_train, task.y_train)
    ids = [c for c, why in task.dropped.items() if why.startswith("ID")]
    model = TabularModel(name="logistic_regression", estimator=est, numeric=task.numeric, categorical=task.categorical,
                         classes=task.classes, positive_label=task.positive_label, threshold=0.5, id_columns=ids,
                         meta={"categories": task.categories, "dtypes": task.dtypes})
    return save_model(model, folder)


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak summed RSS (MiB) of the process tree, exit status."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root, peak = psutil.Process(proc.pid), 0.0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.2)
    return time.perf_counter() - start, peak, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=lambda s: int(s.replace(",", "").replace("_", "")), default=100_000_000)
    ap.add_argument("--chunk", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="--rows 1000000 --repeat 1")
    a = ap.parse_args()
    rows = 1_000_000 if a.quick else a.rows
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        write_dataset(tmp / "ref", rows, a.chunk, False, 1)
        write_dataset(tmp / "cur", rows, a.chunk, True, 2)
        print(f"wrote 2 x {rows:,} x 20 in {time.perf_counter() - t0:.0f} s", flush=True)
        model = telco_model(tmp / "model")
        py = sys.executable
        drift = ("from workbench.drift import DriftReport; r = DriftReport({ref!r}, {cur!r}, engine='dask', "
                 "max_rows=200000, domain_rows=20000); t = r.table(); "
                 "print(sorted(t[t.drifted].column))").format(ref=str(tmp / "ref"), cur=str(tmp / "cur"))
        profile = f"from workbench.data._aggregates import profile_dataset; profile_dataset({str(tmp / 'ref')!r})"
        commands = {
            "predict": [py, "-m", "workbench.cli", "predict", str(model), str(tmp / "ref"), "-o", str(tmp / "out"),
                        "--jobs", str(a.jobs), "--force"],
            "drift": [py, "-c", drift],
            "profile": [py, "-c", profile],
        }
        for name, cmd in commands.items():
            runs = [measure(cmd) for _ in range(a.repeat)]
            wall = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            n = rows * (2 if name == "drift" else 1)
            print(f"{name:8s} wall {wall:7.1f} s  {n / wall:12,.0f} rows/s  peak {peak:7.0f} MiB  rc {runs[-1][2]}  "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
