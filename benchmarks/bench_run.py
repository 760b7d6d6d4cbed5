"""`workbench run` vs chaining the `papermill` and `jupyter nbconvert` CLIs on the same notebook.

Both sides execute the same small notebook (a plotly figure, a widget, a recorded metric) in a fresh
kernel and end with an HTML file. The sides alternate (A B A B ...) and medians are compared, since
this machine's speed drifts from minute to minute. More rows: the CLI with W&B tracking off, and
`workbench.run_notebook` called in-process.

    python benchmarks/bench_run.py [--repeat 5]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")
    folder = Path(tempfile.mkdtemp(prefix="bench_run_"))
    notebook(folder)
    from workbench import run_notebook

    times: dict[str, list[float]] = {"workbench run (CLI)": [], "papermill + nbconvert CLIs": [],
                                     "workbench run, W&B off": [], "run_notebook (in-process)": []}
    side_workbench(folder), side_chained(folder)  # warm the file cache once
    for i in range(args.repeat):
        for name, fn in (("workbench run (CLI)", lambda: side_workbench(folder)),
                         ("papermill + nbconvert CLIs", lambda: side_chained(folder)),
                         ("workbench run, W&B off", lambda: side_workbench(folder, tracking=False)),
                         ("run_notebook (in-process)",
                          lambda: run_notebook(folder / "bench.ipynb", {"n": 60}, reports=folder / "reports",
                                               progress=False, force=True))):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
        print(f"round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["papermill + nbconvert CLIs"]
    print(f"\nmedians over {args.repeat} alternating rounds:")
    for k, v in med.items():
        print(f"  {k:30s} {v:6.2f} s   {base / v:5.2f}x vs papermill + nbconvert")
    print("note: every workbench side executes (--force); it also writes run.json, the index and latest.html, "
          "renders the widget statically and, unless W&B is off, publishes an offline W&B run; the chained side "
          "writes a plain HTML file.")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
