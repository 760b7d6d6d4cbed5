"""How many cores this process may use, and a small thread map for GIL-releasing numpy/pandas work."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


def cpu_count() -> int:
    """Cores this process may use (affinity/cgroup aware, unlike ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def parallel_map(fn: Callable[[Any], Any], items: list, heavy: bool = True, threads: int | None = None) -> list:
    """``[fn(x) for x in items]``, in threads when ``heavy`` (numpy and pandas release the GIL while
    sorting, hashing and counting, so columns proceed in parallel)."""
    threads = threads or min(4, cpu_count())
    if not heavy or threads < 2 or len(items) < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


def dask_client(address: str, timeout: int = 10) -> Any:
    """A ``distributed.Client`` of the Dask scheduler at ``address`` (``tcp://HOST:8786``), or a one-line
    :class:`ParameterError` naming the address and the fix when it is not reachable within ``timeout`` seconds."""
    from ..errors import ParameterError

    if not isinstance(address, str) or "://" not in address:
        raise ParameterError(f"scheduler must be a Dask scheduler address like tcp://127.0.0.1:8786, or '' for none "
                             f"(scheduler={address!r})")
    from distributed import Client

    try:
        return Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as e:
        raise ParameterError(f"cannot reach the Dask scheduler at {address} ({type(e).__name__}); start one "
                             "(dask scheduler, dask worker) or set scheduler to '' to run here") from None
