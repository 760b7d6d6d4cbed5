"""`workbench run` vs chaining the `papermill` and `jupyter nbconvert` CLIs on the same notebook.

Both sides execute the same small notebook (a plotly figure, a widget, a recorded metric) in a fresh
kernel and end with an HTML file, and both are cold: every measurement starts new CLI processes
(interpreter start and imports included), as a user typing the command gets. The sides alternate
(A B A B ...) and medians are compared, since this machine's speed drifts from minute to minute; each
round's line shows the load average. One more CLI row: `workbench run` with W&B tracking off.

`workbench.run_notebook` called in-process is shown apart and NOT compared: that interpreter already
has workbench, papermill and nbconvert imported (warm), which no CLI invocation gets. `--no-in-process`
leaves it out.

    python benchmarks/bench_run.py                # 5 alternating rounds
    python benchmarks/bench_run.py --quick        # smoke run: 1 round, CLI rows only, no warm-up (< 1 min)
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

BIN = Path(sys.executable).parent


def notebook(folder: Path) -> Path:
    return make_notebook(
        folder / "bench.ipynb", 'n = 50  # points\nlabel = "bench"  # title',
        "import plotly.express as px, ipywidgets as widgets, workbench",
        "px.scatter(x=list(range(n)), y=[i * i for i in range(n)], title=label).show()",
        "widgets.IntSlider(value=n, description='n')",
        "workbench.record('total', sum(range(n)))")


def side_workbench(folder: Path, tracking: bool = True) -> None:
    env = {**os.environ, **({} if tracking else {"WORKBENCH_TRACKING": "off"})}
    # --force: executed every time (an identical run would otherwise be answered from the cache)
    subprocess.run([str(BIN / "workbench"), "run", "bench.ipynb", "-p", "n", "60", "--no-progress", "--force"],
                   cwd=folder, check=True, capture_output=True, env=env)


def side_chained(folder: Path) -> None:
    subprocess.run([str(BIN / "papermill"), "bench.ipynb", "out.ipynb", "-p", "n", "60", "--no-progress-bar"],
                   cwd=folder, check=True, capture_output=True)
    subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "out.ipynb"], cwd=folder, check=True,
                   capture_output=True)


def _load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="alternating rounds (default 5)")
    ap.add_argument("--no-in-process", action="store_true", help="leave out the warm in-process row")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round, CLI rows only, no warm-up")
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.no_in_process = 1, True
    os.environ.setdefault("WANDB_MODE", "offline")
    folder = Path(tempfile.mkdtemp(prefix="bench_run_"))
    notebook(folder)
    base_name = "papermill + nbconvert CLIs"
    sides = {"workbench run (CLI)": lambda: side_workbench(folder),
             base_name: lambda: side_chained(folder),
             "workbench run, W&B off (CLI)": lambda: side_workbench(folder, tracking=False)}
    warm_name = "run_notebook in-process (warm)"
    if not args.no_in_process:
        from workbench import run_notebook

        sides[warm_name] = lambda: run_notebook(folder / "bench.ipynb", {"n": 60}, reports=folder / "reports",
                                                progress=False, force=True, cwd=folder)
    print(f"{os.cpu_count()} CPUs, {_load()}; every CLI side is a cold process"
          + ("" if args.quick else "; warming the file cache once"), flush=True)
    if not args.quick:
        for fn in sides.values():  # the file cache, once; in-process: imports done here, outside every timing
            fn()
    times: dict[str, list[float]] = {k: [] for k in sides}
    for i in range(args.repeat):
        for name, fn in sides.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
        print(f"round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()) + f"  ({_load()})",
              flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med[base_name]
    print(f"\nmedians over {args.repeat} alternating rounds, cold CLI processes on both sides:")
    for k, v in med.items():
        if k != warm_name:
            print(f"  {k:30s} {v:6.2f} s   {base / v:5.2f}x vs papermill + nbconvert")
    paired = [b / a for a, b in zip(times["workbench run (CLI)"], times[base_name])]
    print(f"  workbench run (CLI) vs papermill + nbconvert, per-round ratios: median {statistics.median(paired):.2f}x, "
          f"range {min(paired):.2f}-{max(paired):.2f}x")
    if warm_name in med:
        print(f"not comparable (warm: this interpreter already imported everything): {warm_name} {med[warm_name]:.2f} s")
    print("note: every workbench side executes (--force); it also writes run.json, the index and latest.html, "
          "renders the widget statically and, unless W&B is off, publishes an offline W&B run; the chained side "
          "writes a plain HTML file.")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
