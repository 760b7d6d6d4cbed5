"""Helpers the benchmark scripts share (they run as scripts: ``python benchmarks/bench_x.py``, which puts
this folder on ``sys.path``, also for their worker subprocesses)."""

from __future__ import annotations


def rss_mb() -> float:
    """This process's resident memory in MiB (Linux ``/proc``; NaN elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")
