"""Benchmark: the rollout's sequential test under daily peeking, its power, and the report's speed.

    .venv/bin/python benchmarks/bench_rollout.py                   # 200 experiments per scenario, a 200,000-row log
    .venv/bin/python benchmarks/bench_rollout.py --experiments 1000 --log-rows 1000000

Part 1, A/A: two identical models (per-request log-losses of a classifier, p ~ Beta(2, 5) and
y ~ Bernoulli(p); and 0/1 correct answers at 80% accuracy), experiments looked at once a day. The share
of experiments each test flags: the mSPRT (always valid), the fixed-horizon z-test recomputed every day
(what a dashboard does) and the fixed-horizon test looked at once at the end (valid, but only if
nobody looked before). Part 2, power: a challenger whose per-request loss is lower by a fixed amount
(in per-request standard deviations): how often and how early each test finds it, and whether the
sign is right. Part 3: ``RolloutReport`` on a synthetic A/B log of ``--log-rows`` lines (read, join,
every section), wall time and peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import rss_mb  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def pools(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 5, 50_000)
    y = rng.random(50_000) < p
    return {"log-loss": -np.log(np.where(y, p, 1 - p)), "accuracy (0/1)": (rng.random(50_000) < 0.8).astype(float)}


def part_aa(experiments: int) -> None:
    from workbench.rollout._sequential import peeking_simulation

    print("Part 1: A/A, two identical models, one look a day (share of experiments flagged at alpha 0.05)")
    print(f"{'metric':<16}{'days':>5}{'per day':>9}{'mSPRT':>9}{'daily z':>9}{'once':>8}{'time':>8}")
    for name, pool in pools().items():
        for days, per_day in ((14, 500), (30, 500), (30, 5000)):
            t = time.perf_counter()
            r = peeking_simulation(pool, n_experiments=experiments, days=days, per_day=per_day, seed=7)
            dt = time.perf_counter() - t
            print(f"{name:<16}{days:>5}{per_day:>9,}{r.msprt_rate:>9.1%}{r.naive_rate:>9.1%}{r.fixed_rate:>8.1%}"
                  f"{dt:>7.2f}s")


def part_power(experiments: int) -> None:
    from workbench.rollout._sequential import peeking_simulation

    pool = pools()["log-loss"]
    sd = pool.std()
    print("\nPart 2: power, a challenger with a lower per-request log-loss (14 days x 500 requests)")
    print(f"{'effect (sd)':>12}{'effect':>9}{'mSPRT':>9}{'mean day':>10}{'sign right':>12}{'once':>8}")
    for k in (0.02, 0.05, 0.1, 0.2):
        r = peeking_simulation(pool, n_experiments=experiments, days=14, per_day=500, effect=-k * sd, seed=11)
        print(f"{k:>12}{-k * sd:>9.4f}{r.msprt_rate:>9.1%}{r.mean_stop_day:>10.1f}{r.msprt_sign_right:>12.1%}"
              f"{r.fixed_rate:>8.1%}")


def _write_log(folder: Path, rows: int) -> Path:
    from workbench.rollout._simulate import assign_variant

    rng = np.random.default_rng(0)
    keys = np.arange(rows)
    p = rng.beta(2, 5, rows)
    y = np.where(rng.random(rows) < p, "Yes", "No")
    to_b = assign_variant(keys.tolist(), 0.5, "bench")
    proba = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + rng.normal(0, np.where(to_b, 0.8, 1.0)))))
    seconds = np.sort(rng.uniform(0, 14 * 86400, rows))
    log = folder / "churn"
    log.mkdir(parents=True)
    files: dict[int, list[str]] = {}
    for i in range(rows):
        day = int(seconds[i] // 86400)
        ts = f"2024-06-{day + 1:02d}T{int(seconds[i] % 86400 // 3600):02d}:00:00Z"
        files.setdefault(day, []).append(json.dumps({
            "ts": ts, "model": "churn", "latency_ms": 20.0, "input": {"customer": int(keys[i]), "tenure": 12},
            "output": {"prediction": "Yes" if proba[i] > 0.5 else "No", "proba_No": 1 - proba[i], "proba_Yes": proba[i],
                       "error": None},
            "request_id": f"{i:016x}", "variant": "challenger" if to_b[i] else "champion",
            "version": "churn:2" if to_b[i] else "churn:1"}))
    for day, lines in files.items():
        (log / f"requests-202406{day + 1:02d}.jsonl").write_text("\n".join(lines) + "\n")
    import pandas as pd

    pd.DataFrame({"customer": keys, "churn": y}).to_csv(folder / "labels.csv", index=False)
    return log


def part_report(rows: int) -> None:
    from workbench.rollout import RolloutReport

    print(f"\nPart 3: RolloutReport on an A/B log of {rows:,} lines (14 daily files)")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        log = _write_log(Path(tmp), rows)
        print(f"  writing the log: {time.perf_counter() - t:.1f} s")
        base = rss_mb()
        t = time.perf_counter()
        r = RolloutReport(log, Path(tmp) / "labels.csv", id_column="customer", label_column="churn")
        t_read = time.perf_counter() - t
        for name in ("overview", "srm", "guardrails", "variants", "shadow", "sequential", "validity", "verdict"):
            getattr(r, name)()
        total = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  read + join: {t_read:.1f} s; every section: {total - t_read:.1f} s; total {total:.1f} s; "
              f"peak RSS {peak:.0f} MiB ({peak - base:+.0f} MiB over the start)")
        print(f"  verdict: {r.result.describe()[:160]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", type=int, default=200)
    ap.add_argument("--log-rows", type=int, default=200_000)
    args = ap.parse_args()
    t = time.perf_counter()
    part_aa(args.experiments)
    part_power(args.experiments)
    if args.log_rows:
        part_report(args.log_rows)
    print(f"\nbenchmark total {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
