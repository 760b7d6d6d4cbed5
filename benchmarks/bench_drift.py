"""Benchmark: workbench's drift report against Evidently's DataDriftPreset, on the same data.

    .venv/bin/python benchmarks/bench_drift.py                       # Telco checks + 1,000,000 x 20, 3 rounds
    .venv/bin/python benchmarks/bench_drift.py --rows 100000 --repeat 1   # quick run

Evidently 0.7 needs pandas < 3, so it lives in its own virtual environment (``--evidently-python``,
default ``.workbench/evidently-venv/bin/python``; create it with
``python -m venv .workbench/evidently-venv && .workbench/evidently-venv/bin/pip install "evidently==0.7.23" "pandas<3" pyarrow``)
and both sides run the same way: each measurement in a fresh subprocess that reads the same Parquet
files, imports its library (timed apart: ``import``), then is timed from the loaded frames to a
finished report (workbench: every statistic, the domain classifier and every figure serialized to
HTML; Evidently: ``Report([DataDriftPreset()]).run`` and ``save_html``). The sides alternate
(A B A B ...) and medians are compared; CPU time (all threads) is printed too, as it depends less
on what else the machine runs. Peak memory is the increase of peak RSS over the RSS after
the data was read.

Part 1, Telco: which columns each side flags on the registered pair with planted shifts
(``telco_churn_reference`` vs ``telco_churn_drifted``: monthly_charges x1.15, tenure +6, 30% of
contract set to Month-to-month), on the unshifted halves (3,500 rows a side) and on pairs of disjoint
1,000-row samples without drift. Part 2: 2,000,000 rows of a synthetic 20-column table split into
reference and current, with three planted shifts in current (``num_3`` x1.15, ``num_2`` +0.5 (a
sixth of its standard deviation), 30% of ``cat_0`` set to its most frequent level); time, peak
memory, HTML size, shifts caught. Part 3: the
drift notebook itself through ``workbench run`` on those files (wall time and ``report.html`` size).
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

from _common import rss_mb  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

REPO = Path(__file__).resolve().parents[1]
SHIFTS = {"num_3": {"scale": 1.15}, "num_2": {"add": 0.5}, "cat_0": {"set": None, "fraction": 0.3}}
TELCO_SHIFTED = ["monthly_charges", "tenure", "contract"]


def _evidently(ref, cur, html: Path) -> list[str]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snap = Report([DataDriftPreset()]).run(reference_data=ref, current_data=cur)
    snap.save_html(str(html))
    flagged = []
    for m in snap.dict()["metrics"]:
        cfg = m.get("config", {})
        if cfg.get("type", "").endswith("ValueDrift"):
            p_value = "p_value" in str(cfg.get("method", "")).lower()
            v = m["value"]
            if (v < cfg["threshold"]) if p_value else (v >= cfg["threshold"]):
                flagged.append(cfg["column"])
    return flagged


def _workbench(ref, cur, html: Path, max_rows: int) -> list[str]:
    import plotly.io as pio

    from workbench import drift

    report = drift.DriftReport(ref, cur, max_rows=max_rows)
    parts = [report.overview(), report.findings(), report.summary(), report.distributions(), report.multivariate()]
    figures = [p for part in parts for p in getattr(part, "parts", [part]) if hasattr(p, "to_plotly_json")]
    tables = [p for part in parts for p in getattr(part, "parts", [part]) if hasattr(p, "to_html")
              and not hasattr(p, "to_plotly_json")]
    body = "".join(t.to_html() for t in tables) + "".join(pio.to_html(f, include_plotlyjs=False, full_html=False)
                                                          for f in figures)
    html.write_text(body)
    drift.save(report, html.parent, html.stem + ".csv")
    if report.failures:
        raise RuntimeError(f"sections failed: {report.failures}")
    return [c.column for c in report.results if c.drifted]


def worker(side: str, pairs: list[list[str]], out_dir: str, max_rows: int) -> None:
    """Each pair in this (fresh) process: import, read, run; prints one JSON line."""
    import pandas as pd

    t0 = time.perf_counter()
    if side == "evidently":
        import evidently.presets  # noqa: F401
    else:  # what Evidently's import brings in too: scipy, scikit-learn, plotly
        import plotly.io  # noqa: F401
        import scipy.stats  # noqa: F401
        import sklearn.ensemble  # noqa: F401

        import workbench.drift  # noqa: F401
    import_s = time.perf_counter() - t0
    results = []
    for i, (ref_path, cur_path) in enumerate(pairs):
        ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
        base = rss_mb()
        html = Path(out_dir) / f"{side}-{i}.html"
        t0, c0 = time.perf_counter(), time.process_time()
        flagged = _evidently(ref, cur, html) if side == "evidently" else _workbench(ref, cur, html, max_rows)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        results.append({"seconds": seconds, "cpu_s": cpu, "flagged": sorted(flagged), "html_bytes": html.stat().st_size,
                        "rss_after_load_mb": base, "peak_increase_mb": peak - base})
    print(json.dumps({"import_s": import_s, "results": results}))


def _run(python: str, side: str, pairs: list[tuple[str, str]], out_dir: str, max_rows: int, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [python, __file__, "--worker", side, "--pairs", json.dumps(pairs), "--out", out_dir, "--max-rows",
           str(max_rows)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def telco_pairs(tmp: Path, samples: int) -> tuple[list[tuple[str, str]], list[str]]:
    """Parquet files of the Telco checks: planted shift, unshifted halves, 1,000-row no-drift pairs."""
    import numpy as np

    from workbench.data import load_dataset

    def write(df, name: str) -> str:
        p = tmp / f"{name}.parquet"
        df.to_parquet(p)
        return str(p)

    ref = write(load_dataset("telco_churn_reference").frame, "telco_ref")
    pairs = [(ref, write(load_dataset("telco_churn_drifted").frame, "telco_drifted")),
             (ref, write(load_dataset("telco_churn_current").frame, "telco_current"))]
    labels = ["planted shift (3,522 vs 3,521 rows)", "no drift, halves (3,522 vs 3,521 rows)"]
    full = load_dataset("telco_churn").frame
    for s in range(samples):
        idx = np.random.default_rng(100 + s).permutation(len(full))
        pairs.append((write(full.iloc[np.sort(idx[:1000])], f"a{s}"), write(full.iloc[np.sort(idx[1000:2000])], f"b{s}")))
        labels.append(f"no drift, 1,000 vs 1,000 rows (sample {s})")
    return pairs, labels


def big_pair(tmp: Path, rows: int) -> tuple[str, str]:
    """Reference and current halves of a 2 x ``rows`` synthetic table, the three shifts planted in current."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_explore import make_table

    from workbench.data import plant_shift

    df = make_table(2 * rows)
    ref, cur = df.iloc[:rows].reset_index(drop=True), df.iloc[rows:].reset_index(drop=True)
    shifts = {k: dict(v) for k, v in SHIFTS.items()}
    shifts["cat_0"]["set"] = ref["cat_0"].value_counts().index[0]
    cur = plant_shift(cur, shifts, seed=0)
    paths = (str(tmp / "big_ref.parquet"), str(tmp / "big_cur.parquet"))
    ref.to_parquet(paths[0])
    cur.to_parquet(paths[1])
    return paths


def part_telco(args, tmp: Path, have_ev: bool) -> None:
    pairs, labels = telco_pairs(tmp, args.samples)
    ours = _run(sys.executable, "workbench", pairs, str(tmp), args.max_rows, args.timeout)["results"]
    theirs = _run(args.evidently_python, "evidently", pairs, str(tmp), args.max_rows, args.timeout)["results"] \
        if have_ev else [None] * len(pairs)
    print("\n== Telco: columns flagged (planted: " + ", ".join(TELCO_SHIFTED) + ")")
    for label, a, b in zip(labels, ours, theirs):
        print(f"  {label}\n    workbench: {', '.join(a['flagged']) or '-'} ({a['seconds']:.2f} s)")
        if b:
            print(f"    evidently: {', '.join(b['flagged']) or '-'} ({b['seconds']:.2f} s, HTML "
                  f"{b['html_bytes'] / 2**20:.1f} MiB)")
    k = len(pairs) - 2
    for name, res in (("workbench", ours), ("evidently", theirs)):
        if res[0] is None:
            continue
        nd = res[2:]
        print(f"  {name}: 1,000-row no-drift pairs with any column flagged: {sum(bool(r['flagged']) for r in nd)}/{k}, "
              f"columns flagged in all: {sum(len(r['flagged']) for r in nd)}")


def part_big(args, tmp: Path, have_ev: bool) -> tuple[str, str]:
    t0 = time.perf_counter()
    pair = big_pair(tmp, args.rows)
    print(f"\n== {args.rows:,} x 20 per side, shifts planted in current: num_3 x1.15, num_2 +0.5, 30% of cat_0 set "
          f"to its top level (made in {time.perf_counter() - t0:.0f} s); workbench max_rows={args.max_rows:,}")
    ours, theirs = [], []
    for i in range(args.repeat):
        ours.append(_run(sys.executable, "workbench", [pair], str(tmp), args.max_rows, args.timeout))
        line = f"  round {i + 1}: workbench {ours[-1]['results'][0]['seconds']:.2f} s"
        if have_ev:
            theirs.append(_run(args.evidently_python, "evidently", [pair], str(tmp), args.max_rows, args.timeout))
            line += f" | evidently {theirs[-1]['results'][0]['seconds']:.2f} s"
        print(line, flush=True)
    _summarize("workbench", ours)
    if theirs:
        _summarize("evidently", theirs)
        ratio = statistics.median(r["results"][0]["seconds"] for r in ours) / \
            statistics.median(r["results"][0]["seconds"] for r in theirs)
        mem = statistics.median(r["results"][0]["peak_increase_mb"] for r in ours) / \
            statistics.median(r["results"][0]["peak_increase_mb"] for r in theirs)
        cpu = statistics.median(r["results"][0]["cpu_s"] for r in ours) / \
            statistics.median(r["results"][0]["cpu_s"] for r in theirs)
        print(f"  ratio workbench/evidently: time {ratio:.3f} (1/{1 / ratio:.0f}; goal <= 0.1 -> "
              f"{'met' if ratio <= 0.1 else 'NOT met'}), CPU time {cpu:.3f} (all threads; load-independent), "
              f"peak memory {mem:.2f}")
    return pair


def _summarize(name: str, runs: list[dict]) -> None:
    res = [r["results"][0] for r in runs]
    caught = sorted(set(SHIFTS) & set(res[0]["flagged"]))
    other = sorted(set(res[0]["flagged"]) - set(SHIFTS))
    print(f"  {name}: median {statistics.median(r['seconds'] for r in res):.2f} s, CPU "
          f"{statistics.median(r['cpu_s'] for r in res):.2f} s (+ import "
          f"{statistics.median(r['import_s'] for r in runs):.1f} s), peak RSS +"
          f"{statistics.median(r['peak_increase_mb'] for r in res):.0f} MiB over the loaded tables "
          f"({res[0]['rss_after_load_mb']:.0f} MiB), HTML {res[0]['html_bytes'] / 2**20:.2f} MiB; shifts caught "
          f"{len(caught)}/3 ({', '.join(caught) or '-'}), other columns flagged: {', '.join(other) or 'none'}")


def part_notebook(pair: tuple[str, str], tmp: Path, max_rows: int) -> None:
    cmd = [sys.executable, "-m", "workbench.cli", "run", str(REPO / "notebooks" / "drift.ipynb"), "-p", "reference",
           pair[0], "-p", "current", pair[1], "-p", "target", "", "-p", "max_rows", str(max_rows), "--force"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env={**os.environ, "WANDB_MODE": "offline"})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"\n== notebook run failed:\n{proc.stderr[-2000:]}")
        return
    report = sorted((tmp / "reports" / "drift").glob("*/report.html"))[-1]
    print(f"\n== notebooks/drift.ipynb through `workbench run` on those files: {wall:.1f} s wall (kernel start and "
          f"export included), report.html {report.stat().st_size / 2**20:.2f} MiB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows per side of the synthetic table (0: skip)")
    ap.add_argument("--repeat", type=int, default=5, help="alternating rounds per side (default 5)")
    ap.add_argument("--samples", type=int, default=20, help="1,000-row no-drift Telco pairs")
    ap.add_argument("--max-rows", type=int, default=1_000_000, help="workbench max_rows (0: all rows)")
    ap.add_argument("--no-notebook", action="store_true", help="skip the notebook run")
    ap.add_argument("--evidently-python", default=os.environ.get(
        "WORKBENCH_EVIDENTLY_PYTHON", str(REPO / ".workbench/evidently-venv/bin/python")))
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per worker")
    ap.add_argument("--worker", choices=["workbench", "evidently"], help=argparse.SUPPRESS)
    ap.add_argument("--pairs", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, json.loads(args.pairs), args.out, args.max_rows)
        return 0
    have_ev = Path(args.evidently_python).exists()
    print("baseline: " + (f"Evidently DataDriftPreset in subprocesses of {args.evidently_python}" if have_ev else
                          f"Evidently NOT available at {args.evidently_python}; measuring workbench only"))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        part_telco(args, tmp, have_ev)
        if args.rows:
            pair = part_big(args, tmp, have_ev)
            if not args.no_notebook:
                part_notebook(pair, tmp, args.max_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
