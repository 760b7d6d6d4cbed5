"""Data beyond one machine: batch predict, drift and profiling of an N x 20 Parquet dataset.

Writes two datasets of ``--rows`` rows (default 100,000,000) x 20 columns (the Telco features resampled
with noise: numbers and categories; the second with planted shifts in ``tenure`` and ``contract``), in
chunks of ``--chunk`` rows, one file per chunk (never whole in memory). Then runs, each in its own process
tree with psutil polling every 0.2 s (the peak of the summed RSS of the process and all its children):

- ``predict``: ``workbench predict MODEL DATA -o OUT --jobs J`` with a Telco logistic regression (whole-array
  scoring of each record batch, ``Predictor.predict_arrow``);
- ``score-arrays`` / ``score-frames``: the same model through ``score_dataset`` (no CLI), each record batch
  on whole arrays (``Predictor.predict_arrow``) / through ``Predictor.predict`` on a pandas frame (the path
  before whole-array scoring), run alternately (A B A B), with the ratio of the medians;
- ``predict-catboost``: ``workbench predict`` with a Telco CatBoost model (its own batch predict on a pool built
  from the Arrow batch); ``catboost-frames``: the same through ``Predictor.predict`` on a frame per batch;
- ``per-core``: in this process, one partition file read, scored and written by ``score_partition`` on whole
  arrays and through frames, alternately (3 rounds), for each model above: rows per CPU-second (process time),
  the figure per core that a loaded machine bends least;
- ``drift``: ``DriftReport(ref, cur, engine="dask")`` column table (out of core: KLL + exact counts);
- ``profile``: ``profile_dataset`` of one dataset (the drift aggregates);
- ``explore``: ``Exploration(ref, target="paperless_billing", engine="sketch")`` and every section of the
  explore notebook but the column explorer (overview, alerts, summaries, missing, distributions, correlations,
  associations, target analysis): one scan over every row, the target pass, heavy statistics on a 100,000-row
  sample; ``explore-dask``: the same with ``engine="dask"`` (the files scanned by one worker process per core,
  merged).

Prints wall time, rows/s, peak memory and CPU seconds of the process tree per command, with the load
average. ``--repeat`` runs each command that many times (medians; the commands alternate within each
round). ``--commands`` picks some (e.g. ``predict,score-arrays,score-frames,predict-catboost``). ``--baseline
EXE`` also runs each ``predict`` command with another checkout's ``workbench`` (``NAME@baseline``), alternating.
CPU seconds include orphans (a forkserver the command leaves behind), reaped here as their subreaper.
Usage: ``python benchmarks/bench_scale.py --rows 5000000``.
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


def telco_model(folder: Path, name: str = "logistic_regression") -> Path:
    import workbench
    from workbench import tabular
    from workbench.tabular._fitted import TabularModel
    from workbench.tabular._persist import save_model
    from workbench.tabular._registry import build_model

    df = workbench.load_dataset("telco_churn").frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(df, "churn", folds=2, models=[name])
        est = build_model(name, task.numeric, task.categorical, seed=0).fit(task.X_train, task.y_train)
    ids = [c for c, why in task.dropped.items() if why.startswith("ID")]
    model = TabularModel(name=name, estimator=est, numeric=task.numeric, categorical=task.categorical,
                         classes=task.classes, positive_label=task.positive_label, threshold=0.5, id_columns=ids,
                         meta={"categories": task.categories, "dtypes": task.dtypes})
    return save_model(model, folder)


def _subreaper() -> None:
    """Become the parent of the command's orphans (Linux): a multiprocessing forkserver outlives the command
    for a moment and is nobody's waited child; once reaped here, its CPU (and its workers') counts too."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap_orphans(seen: set[int]) -> None:
    """Wait for the processes of the command's tree that became children of this one (only those)."""
    for pid in seen:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:  # reaped by its own parent already, or never ours
            pass


def measure(cmd: list[str], cwd: Path = ROOT) -> tuple[float, float, int, float, str]:
    """Wall seconds, peak summed RSS (MiB) of the process tree, exit status, CPU seconds of the whole tree
    (user + system of the command and every process below it, orphans included: a figure a busy machine
    bends less), and the last line the command printed (drift's drifted columns, exploration's headline)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.DEVNULL)
    root, peak, seen = psutil.Process(proc.pid), 0.0, set()
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            seen.update(p.pid for p in tree[1:])
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.2)
    wall = time.perf_counter() - start
    _reap_orphans(seen)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out.seek(0)
    lines = [line.strip() for line in out.read().splitlines() if line.strip()]
    out.close()
    return wall, peak, proc.returncode, cpu, lines[-1] if lines else ""


FRAMES = ("from workbench.batch import score_dataset; r = score_dataset({model!r}, {data!r}, {out!r}, jobs={jobs}, "
          "progress=False, arrays={arrays}); assert not r.failed, r.failed")


MODELS = {"predict": "logistic_regression", "predict-catboost": "catboost"}

EXPLORE = ("from workbench.explore import Exploration; e = Exploration({data!r}, target='paperless_billing', "
           "engine={engine!r}, max_rows_for_heavy_stats=100000); "
           "[getattr(e, s)() for s in ('overview', 'alerts', 'summaries', 'missing', 'distributions', 'correlations', "
           "'associations', 'target_analysis')]; print(e.headline(), e.scale.info.describe())")


def commands(tmp: Path, names: list[str], jobs: int, baseline: str | None = None) -> dict[str, list[str]]:
    py, ref, cur = sys.executable, str(tmp / "ref"), str(tmp / "cur")
    drift = ("from workbench.drift import DriftReport; r = DriftReport({ref!r}, {cur!r}, engine='dask', "
             "max_rows=200000, domain_rows=20000); t = r.table(); "
             "print(sorted(t[t.drifted].column))").format(ref=ref, cur=cur)
    out: dict[str, list[str]] = {}
    for name in names:
        if name in ("predict", "predict-catboost"):
            model = telco_model(tmp / name, MODELS[name])
            out[name] = [py, "-m", "workbench.cli", "predict", str(model), ref, "-o", str(tmp / f"out-{name}"),
                         "--jobs", str(jobs), "--force"]
            if baseline:  # the same command with another checkout's workbench (e.g. main's), alternating
                out[f"{name}@baseline"] = [baseline, *out[name][3:6], "-o", str(tmp / f"out-{name}-baseline"),
                                           *out[name][8:]]
        elif name in ("score-arrays", "score-frames", "catboost-frames"):
            kind = "predict-catboost" if name == "catboost-frames" else "predict"
            model = tmp / kind if (tmp / kind).exists() else telco_model(tmp / kind, MODELS[kind])
            code = FRAMES.format(model=str(model), data=ref, out=str(tmp / f"out-{name}"), jobs=jobs,
                                 arrays=name == "score-arrays")
            out[name] = [py, "-c", code]
        elif name == "drift":
            out[name] = [py, "-c", drift]
        elif name in ("explore", "explore-dask"):
            out[name] = [py, "-c", EXPLORE.format(data=ref, engine="dask" if name == "explore-dask" else "sketch")]
        elif name == "profile":
            out[name] = [py, "-c", f"from workbench.data._aggregates import profile_dataset; profile_dataset({ref!r})"]
    return out


def per_core(tmp: Path, rounds: int = 3) -> None:
    """Rows per CPU-second of ``score_partition`` on the first partition, whole arrays vs frames (A B A B)."""
    from workbench.batch._score import _model, score_partition

    src = str(sorted((tmp / "ref").glob("*.parquet"))[0])
    for kind, name in MODELS.items():
        folder = str(tmp / kind) if (tmp / kind).exists() else str(telco_model(tmp / kind, name))
        _model(folder)
        rates: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for arrays in (True, False):
                t = time.process_time()
                n = score_partition(folder, src, str(tmp / "per-core.parquet"), {}, 200_000, arrays)
                rates[arrays].append(n / (time.process_time() - t))
        a, f = statistics.median(rates[True]), statistics.median(rates[False])
        print(f"per-core {name}: arrays {a:,.0f} vs frames {f:,.0f} rows per CPU-s, {a / f:.1f}x (read, score, write; "
              f"medians of {rounds}; load {os.getloadavg()[0]:.2f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=lambda s: int(s.replace(",", "").replace("_", "")), default=100_000_000)
    ap.add_argument("--chunk", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--commands", default="predict,score-arrays,score-frames,predict-catboost,catboost-frames,drift,profile")
    ap.add_argument("--quick", action="store_true", help="--rows 1000000 --repeat 1")
    ap.add_argument("--baseline", help="another checkout's workbench executable (e.g. /work/main/.venv/bin/workbench): "
                    "each predict command also runs with it, alternating, with the ratios")
    a = ap.parse_args()
    rows = 1_000_000 if a.quick else a.rows
    names = [n.strip() for n in a.commands.split(",") if n.strip()]
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        write_dataset(tmp / "ref", rows, a.chunk, False, 1)
        if "drift" in names:
            write_dataset(tmp / "cur", rows, a.chunk, True, 2)
        print(f"wrote {rows:,} x 20 ({'2 datasets' if 'drift' in names else '1 dataset'}) in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        if "per-core" in names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                per_core(tmp)
        _subreaper()
        cmds = commands(tmp, names, a.jobs, a.baseline)
        runs: dict[str, list] = {n: [] for n in cmds}
        for _ in range(a.repeat):  # each round runs every command once: A B A B
            for name, cmd in cmds.items():
                runs[name].append(measure(cmd))
                said = f" -> {runs[name][-1][4][:300]}" if name in ("drift", "explore", "explore-dask") else ""
                print(f"  {name}: {runs[name][-1][0]:.1f} s, cpu {runs[name][-1][3]:.1f} s, load {os.getloadavg()[0]:.2f}"
                      + said, flush=True)
        walls = {}
        for name, got in runs.items():
            walls[name] = wall = statistics.median(r[0] for r in got)
            n = rows * (2 if name == "drift" else 1)
            cpu = statistics.median(r[3] for r in got)
            print(f"{name:26s} wall {wall:7.1f} s  {n / wall:12,.0f} rows/s  peak {max(r[1] for r in got):7.0f} MiB  "
                  f"cpu {cpu:7.1f} s ({n / cpu:10,.0f} rows per CPU-s)  rc {got[-1][2]}  load {os.getloadavg()[0]:.2f}",
                  flush=True)
        pairs = [("score-arrays", "score-frames"), ("predict-catboost", "catboost-frames"),
                 ("predict", "predict@baseline"), ("predict-catboost", "predict-catboost@baseline")]
        for new, old in pairs:
            if new in walls and old in walls:
                cpu = {k: statistics.median(r[3] for r in runs[k]) for k in (new, old)}
                print(f"{new} vs {old}: {walls[old] / walls[new]:.1f}x faster end to end, {cpu[old] / cpu[new]:.1f}x "
                      f"less CPU (medians of {a.repeat}, jobs {a.jobs})", flush=True)


if __name__ == "__main__":
    main()
