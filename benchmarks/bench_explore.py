"""Benchmark: workbench's exploration against ydata-profiling (minimal mode) on one table.

    python benchmarks/bench_explore.py                      # 1,000,000 x 20, 5 alternating rounds
    python benchmarks/bench_explore.py --quick              # smoke run: 5,000 rows, 1 round, < 1 min
    python benchmarks/bench_explore.py --extra              # also: our default sampling, our side on pandas 3

The synthetic table has 20 columns: 8 floats (normal, skewed, uniform), 6 categoricals with 5-50
levels, 5 integers and a binary target, each with 2% missing values. It is written once to a Parquet
file.

Both sides run the same way. Every measurement is a fresh Python process (cold): it imports its
library and reads the Parquet file, then times itself; interpreter start, imports and reading are
outside the timer on both sides. Both sides run from the same virtual environment, so they use the
same pandas and numpy: ydata-profiling pins pandas<3, so that is its own venv (``--ydata-python``,
default ``.workbench/ydata-venv/bin/python``), with workbench installed into it::

    python -m venv .workbench/ydata-venv
    .workbench/ydata-venv/bin/pip install ydata-profiling plotly pyarrow ipywidgets
    .workbench/ydata-venv/bin/pip install --no-deps -e .

Each side computes its statistics and builds its displayable report (the reports differ in content:
compare what each side includes below).

- workbench: every section of notebooks/explore.ipynb (``Exploration``, overview, headline, alerts,
  summaries, missing, distributions, correlations, associations, target analysis) and the static
  column explorer (``explorer(interactive=False)``), then every output rendered to HTML (figures
  with plotly.js left out, tables, notes). The heavy statistics (correlations, Cramer's V, the
  leakage check) use ALL rows (``max_rows_for_heavy_stats=0``), as ydata-profiling does.
- ydata-profiling: ``ProfileReport(df, minimal=True)``, ``get_description()`` then ``to_html()``.

"compute" is everything before the HTML: for workbench the sections (statistics, figures built) and
the explorer, whose panes are rendered to HTML as it builds them; for ydata-profiling
``get_description()``. Both use every core by default (thread pools). The sides alternate
(A B A B ...) and medians are compared, with the per-round ratios' median and range; each round's
line shows the load average. Peak memory is the increase of peak RSS over the RSS after reading the
data (fresh process each round; medians). ``--extra`` adds two labelled rows that are not the
headline: workbench with its default sampling (heavy statistics on a seeded 100,000-row sample) and
workbench on ``--workbench-python``'s pandas (default: the interpreter running this script, pandas 3
in workbench's own venv).
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
from _common import rss_mb  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

REPO = Path(__file__).resolve().parents[1]
SAMPLED_ROWS = 100_000  # workbench's default max_rows_for_heavy_stats


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


# ---------------------------------------------------------------------------------- the two sides


def _to_html(obj) -> str:
    """What a report holds for one displayed output: HTML for tables, notes and plotly figures
    (plotly.js itself left out, a report embeds it once); widgets by their children/outputs."""
    import ipywidgets as w

    from workbench.evaluation import Panel
    from workbench.explore._explorer import _part_html

    if isinstance(obj, Panel):
        return "".join(_to_html(p) for p in obj.parts)
    if isinstance(obj, w.Output):
        return "".join(o.get("data", {}).get("text/html", "") for o in obj.outputs)
    if isinstance(obj, w.HTML):
        return obj.value
    if isinstance(obj, w.Box):  # VBox, Accordion
        return "".join(_to_html(c) for c in obj.children)
    return _part_html(obj)


def run_workbench(df, max_rows: int) -> dict:
    """Every section of the explore notebook, the static explorer, every output rendered to HTML."""
    from workbench.explore import Exploration

    t0 = time.perf_counter()
    eda = Exploration(df, target="target", max_rows_for_heavy_stats=max_rows, seed=0)
    outputs = [eda.overview()]
    eda.headline()
    outputs += [eda.alerts(), eda.summaries(), eda.missing(), eda.distributions(), eda.correlations(),
                eda.associations(), eda.target_analysis(), eda.explorer(interactive=False)]
    t1 = time.perf_counter()
    html = "".join(_to_html(o) for o in outputs)
    t2 = time.perf_counter()
    if eda.failures:
        raise RuntimeError(f"sections failed: {eda.failures}")
    return {"seconds": t2 - t0, "analysis_s": t1 - t0, "render_s": t2 - t1, "html_mb": len(html) / 2**20}


def run_ydata(df) -> dict:
    """ProfileReport(minimal=True): the description (statistics), then the HTML report."""
    from ydata_profiling import ProfileReport

    t0 = time.perf_counter()
    report = ProfileReport(df, minimal=True, progress_bar=False)
    report.get_description()
    t1 = time.perf_counter()
    html = report.to_html()
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "analysis_s": t1 - t0, "render_s": t2 - t1, "html_mb": len(html) / 2**20}


def worker(side: str, data: str, max_rows: int) -> None:
    """One measurement in this (fresh) process: import, read the file, then time; prints JSON."""
    import warnings

    warnings.filterwarnings("ignore")  # ydata-profiling's deprecation notice, pandas future warnings
    import pandas as pd

    if side == "ydata":
        import ydata_profiling as lib
    else:
        import workbench as lib
        import workbench.explore  # noqa: F401
    df = pd.read_parquet(data)
    base = rss_mb()
    r = run_ydata(df) if side == "ydata" else run_workbench(df, max_rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    r.update(rss_after_load_mb=base, peak_increase_mb=peak - base, pandas=pd.__version__, numpy=np.__version__,
             version=getattr(lib, "__version__", "?"))
    print(json.dumps(r))


def _subprocess(python: str, side: str, data: str, max_rows: int, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([python, __file__, "--worker", side, "--data", data, "--max-rows", str(max_rows)],
                          capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} worker ({python}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5, help="alternating rounds (A B) (default 5)")
    ap.add_argument("--ydata-python", default=os.environ.get("WORKBENCH_YDATA_PYTHON",
                                                             str(REPO / ".workbench/ydata-venv/bin/python")),
                    help="interpreter with ydata-profiling AND workbench installed; both sides run from it")
    ap.add_argument("--workbench-python", default=sys.executable,
                    help="interpreter of the pandas-3 row of --extra (default: this one)")
    ap.add_argument("--extra", action="store_true",
                    help="also measure workbench with default sampling, and workbench on --workbench-python")
    ap.add_argument("--quick", action="store_true", help="smoke run: 5,000 rows, 1 round (not a measurement)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per measurement")
    ap.add_argument("--worker", choices=["workbench", "ydata"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--max-rows", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.max_rows)
        return 0
    if args.quick:
        args.rows, args.repeat = 5_000, 1
    if not Path(args.ydata_python).exists():
        print(f"ydata-profiling's venv not found at {args.ydata_python}; create it as this script's docstring says "
              "(both sides run from it, so that they share pandas and numpy)", file=sys.stderr)
        return 2

    # name -> (interpreter, worker side, max_rows_for_heavy_stats); the first two are the headline
    sides = {"workbench": (args.ydata_python, "workbench", 0), "ydata-profiling": (args.ydata_python, "ydata", 0)}
    if args.extra:
        sides[f"workbench, heavy stats on {SAMPLED_ROWS:,} sampled rows"] = (args.ydata_python, "workbench", SAMPLED_ROWS)
        sides["workbench on this interpreter's pandas"] = (args.workbench_python, "workbench", 0)

    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "table.parquet")
        t0 = time.perf_counter()
        df = make_table(args.rows)
        df.to_parquet(data)
        print(f"table: {df.shape[0]:,} rows x {df.shape[1]} columns, {df.memory_usage(deep=True).sum() / 2**20:.0f} MiB "
              f"in memory, made in {time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs, {_load()}")
        del df
        print("each measurement: a fresh process that imports its library and reads the Parquet file, then times "
              "itself; both sides use every core")
        print("  workbench: all notebook sections + static column explorer + outputs rendered to HTML, heavy "
              "statistics on all rows (max_rows_for_heavy_stats=0)")
        print("  ydata-profiling: ProfileReport(minimal=True).get_description() + to_html()")
        res: dict[str, list[dict]] = {k: [] for k in sides}
        for i in range(args.repeat):
            parts = []
            for name, (py, side, max_rows) in sides.items():
                r = _subprocess(py, side, data, max_rows, args.timeout)
                res[name].append(r)
                parts.append(f"{name} {r['seconds']:.2f} s")
            print(f"  round {i + 1}: " + " | ".join(parts) + f"  ({_load()})", flush=True)

    print(f"\nmedians over {args.repeat} alternating rounds ({args.rows:,} rows):")
    med = {}
    for name in sides:
        rs = res[name]
        m = {k: statistics.median(r[k] for r in rs) for k in ("seconds", "analysis_s", "render_s", "html_mb",
                                                               "peak_increase_mb", "rss_after_load_mb")}
        med[name] = m
        print(f"  {name:55s} {m['seconds']:7.2f} s (compute {m['analysis_s']:.2f} s + HTML {m['render_s']:.2f} s, "
              f"{m['html_mb']:.1f} MiB); peak RSS +{m['peak_increase_mb']:.0f} MiB over the loaded table "
              f"({m['rss_after_load_mb']:.0f} MiB); {rs[0]['version']} on pandas {rs[0]['pandas']}, "
              f"numpy {rs[0]['numpy']}")
    ratio = med["workbench"]["seconds"] / med["ydata-profiling"]["seconds"]
    paired = [a["seconds"] / b["seconds"] for a, b in zip(res["workbench"], res["ydata-profiling"])]
    print(f"ratio workbench/ydata-profiling time (same venv, all rows, statistics + HTML): {ratio:.3f} "
          f"(1/{1 / ratio:.1f}); per-round ratios: median {statistics.median(paired):.3f}, range "
          f"{min(paired):.3f}-{max(paired):.3f}; goal <= 0.2 -> {'met' if ratio <= 0.2 else 'NOT met'}")
    for name in list(sides)[2:]:
        print(f"  not the headline: {name}: {med[name]['seconds'] / med['ydata-profiling']['seconds']:.3f} of ydata")
    return 0


if __name__ == "__main__":
    sys.exit(main())
