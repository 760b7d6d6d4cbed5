"""Benchmark: the run index at scale (issue 25): 10,000 synthetic runs, copies of a real run record
(``--template``, default the first ``reports/*/*/run.json`` here, else a built-in compare_models record)
with varied parameters and metrics.

    .venv/bin/python benchmarks/bench_runs.py                 # 10,000 runs
    .venv/bin/python benchmarks/bench_runs.py --quick         # 2,000 runs

Measures (medians): ``--reindex`` of every folder; the index update of one finished run
(:meth:`RunStore.record`, 20 new runs) and the shared pages after it (``update_index``: sync + index.html +
latest.html); a ``workbench runs --where ... --sort ...`` query, alternating with the old path (read every
``run.json``, ``load_records``) A B A B; ``index.html`` opened in headless Chromium (the page's own
``data-ready-ms``: parse + script + first page, and Chromium's wall time including its start-up) and a filter
(``data-filter-ms``). Goals: update <= 50 ms, reindex <= 15 s, query <= 0.3 s, open <= 1 s, filter <= 200 ms.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

TEMPLATE = {"schema_version": 2, "run_id": "", "notebook": "notebooks/compare_models.ipynb",
            "notebook_name": "compare_models", "status": "succeeded",
            "params": {"dataset": "telco_churn", "target": "churn", "task": "auto", "models": ["logreg", "catboost"],
                       "folds": 5, "seed": 0, "tune_trials": 0, "test_size": 0.2},
            "given_params": {}, "metrics": {"best_model": "voting", "metric": "roc_auc", "best_score": 0.8552,
                                            "cv_score": 0.85, "test_score": 0.84},
            "started": "", "ended": "", "duration_s": 17.9, "git": {"commit": "0" * 40, "dirty": False},
            "packages": {"python": "3.11.7", "workbench": "0.2.0", "pandas": "3.1.1", "scikit-learn": "1.9.1"},
            "data": {}, "cache_key": None, "cached_from": None, "rerun_command": "workbench run notebooks/x.ipynb",
            "pid": None, "host": "bench", "sweep_id": None, "error": None, "tracking": {}, "options": {}, "notes": []}
NOTEBOOKS = ["compare_models", "explore", "drift", "recommend", "vision_finetune", "rollout"]


def _template(path: str | None) -> dict:
    found = Path(path) if path else next(iter(sorted(Path("reports").glob("*/*/run.json"))), None)
    return json.loads(found.read_text()) if found else TEMPLATE


def make_runs(reports: Path, n: int, template: dict, seed: int = 0, offset: int = 0) -> list[Path]:
    from workbench.core.io import write_json

    rng, out = random.Random(seed), []
    for i in range(offset, offset + n):
        rec = copy.deepcopy(template)
        rid = f"2026{1 + i // 280000:02d}{1 + (i // 10000) % 28:02d}T{(i // 3600) % 24:02d}{(i // 60) % 60:02d}" \
              f"{i % 60:02d}{i % 1000:03d}Z-{i:06x}"
        nb = NOTEBOOKS[i % len(NOTEBOOKS)]
        rec.update(run_id=rid, notebook_name=nb, started=f"2026-01-01T00:00:00.{i:06d}+00:00",
                   status="failed" if rng.random() < 0.1 else "succeeded")
        rec["params"] = {**rec.get("params", {}), "folds": rng.choice([3, 5, 10]), "seed": i, "lr": rng.random()}
        rec["metrics"] = {**rec.get("metrics", {}), "best_score": round(rng.random(), 4), "cv_score": rng.random()}
        d = reports / nb / rid
        d.mkdir(parents=True)
        write_json(d / "run.json", rec)
        (d / "report.html").write_text("r")
        out.append(d)
    return out


def _chromium(page: Path, fragment: str = "") -> tuple[float, float, float]:
    from support import render_dom

    t0 = time.perf_counter()
    dom = render_dom(page, budget_ms=5000, fragment=fragment)
    wall = time.perf_counter() - t0
    ready = float(re.search(r'data-ready-ms="([\d.]+)"', dom).group(1))
    filt = float(re.search(r'data-filter-ms="([\d.]+)"', dom).group(1))
    return ready, filt, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10000)
    ap.add_argument("--quick", action="store_true", help="2,000 runs")
    ap.add_argument("--template", help="a run.json to copy")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    n = 2000 if a.quick else a.runs
    from workbench.core.runs import load_records
    from workbench.core.runstore import RunStore
    from workbench.reports import update_index

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; {n} runs")
    with tempfile.TemporaryDirectory() as tmp:
        reports = Path(tmp) / "reports"
        t0 = time.perf_counter()
        make_runs(reports, n, _template(a.template))
        print(f"made {n} run folders in {time.perf_counter() - t0:.1f} s")
        store = RunStore(reports)
        reindex = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            assert store.reindex() == n
            reindex.append(time.perf_counter() - t0)
        print(f"--reindex: median {statistics.median(reindex):.2f} s (goal <= 15 s) {[round(x, 2) for x in reindex]}")
        new = make_runs(Path(tmp) / "new", 20, _template(a.template), seed=1, offset=n)
        rec_ms, page_ms = [], []
        for d in new:  # a finished run arrives in the tree, is recorded, the pages follow
            target = reports / d.parent.name / d.name
            d.rename(target)
            t0 = time.perf_counter()
            store.record(target)
            rec_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            update_index(reports, d.parent.name)
            page_ms.append((time.perf_counter() - t0) * 1000)
        print(f"index update per finished run: median {statistics.median(rec_ms):.1f} ms (goal <= 50 ms); "
              f"pages after it (sync + index.html + latest.html): median {statistics.median(page_ms):.0f} ms")
        where, sort = "notebook = 'compare_models' and metrics.best_score > 0.85 and params.folds >= 5", "-metrics.best_score"
        q, old = [], []
        for _ in range(a.repeat):  # A B A B
            t0 = time.perf_counter()
            rows = store.query(where, sort, 50)
            q.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            recs = [r for r in load_records(reports) if r.notebook_name == "compare_models"
                    and r.metrics.get("best_score", 0) > 0.85 and r.params.get("folds", 0) >= 5]
            old.append(time.perf_counter() - t0)
        assert sorted(r["run_id"] for r in rows) == sorted(r.run_id for r in sorted(
            recs, key=lambda r: -r.metrics["best_score"])[:50])
        print(f"query (sync + filter + sort, 50 rows): median {statistics.median(q) * 1000:.0f} ms (goal <= 300 ms); "
              f"reading every run.json: {statistics.median(old) * 1000:.0f} ms; ratio "
              f"{statistics.median(old) / statistics.median(q):.1f}x")
        page = reports / "index.html"
        print(f"index.html: {page.stat().st_size / 1e6:.1f} MB")
        opens = [_chromium(page) for _ in range(a.repeat)]
        filters = [_chromium(page, "status=failed&field=metrics.best_score&min=0.5&max=0.9&sort=-v&q=compare")
                   for _ in range(a.repeat)]
        print(f"index.html in headless Chromium: ready at median {statistics.median(o[0] for o in opens):.0f} ms "
              f"after navigation (goal <= 1000 ms), Chromium wall incl. start-up {statistics.median(o[2] for o in opens):.1f} s; "
              f"a filter + sort: median {statistics.median(f[1] for f in filters):.1f} ms (goal <= 200 ms)")


if __name__ == "__main__":
    main()
