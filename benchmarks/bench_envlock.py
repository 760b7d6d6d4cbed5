"""Benchmark: what recording a run's environment lock costs (``workbench.core.envlock``).

    .venv/bin/python benchmarks/bench_envlock.py            # 7 rounds
    .venv/bin/python benchmarks/bench_envlock.py --quick    # 3 rounds

Each measurement runs in a fresh process (a ``workbench run`` is one), sides alternating (A B A B ...):
A, the lock as the run path computes it (names and versions from the ``.dist-info`` folder names);
B, the naive lock (every distribution's metadata file parsed: ``dist.metadata["Name"]``, ``["Version"]``).
Then, in one process: the lock again (cached per process and ``sys.path`` state) and storing it when the
environment is already stored (one ``stat``). Medians in milliseconds, with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

SIDES = {
    "A": "from workbench.core.envlock import environment_lock as f",
    "B": "from importlib import metadata\n"
         "def f():\n"
         "    return sorted((d.metadata['Name'], d.metadata['Version']) for d in metadata.distributions())",
}
TIMED = "\nimport time\nt = time.perf_counter(); f(); print((time.perf_counter() - t) * 1e3)"
WARM = """
import time, tempfile
from workbench.core.envlock import environment_lock, store_environment
lock = environment_lock()
d = tempfile.mkdtemp()
store_environment(d, lock)
t = time.perf_counter()
for _ in range(100):
    store_environment(d, environment_lock())
print((time.perf_counter() - t) * 1e3 / 100)
"""


def once(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir())
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    rounds = 3 if ap.parse_args().quick else 7
    times: dict[str, list[float]] = {"A": [], "B": []}
    for _ in range(rounds):
        for side in ("A", "B"):
            times[side].append(once(SIDES[side] + TIMED))
    a, b = statistics.median(times["A"]), statistics.median(times["B"])
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {rounds} rounds, medians")
    print(f"A  lock from .dist-info names (first call in a process): {a:8.1f} ms")
    print(f"B  lock from parsed metadata files (naive):               {b:8.1f} ms   B/A = {b / a:.1f}x")
    print(f"   per later run in the same process (cached lock + stored already): {once(WARM):.3f} ms")


if __name__ == "__main__":
    main()
