"""Warm sweep workers: ``python -m workbench.runner --worker`` processes that run grid points one after
another, so a sweep pays the runner's imports (papermill, nbconvert, W&B's service) once per worker, not
once per point. Every point still runs in a fresh kernel of its own: nothing but the runner's imported
modules carries from one point to the next.

With several workers on one machine, each kernel's BLAS/OpenMP pools are sized to its share of the
cores (:func:`threads_env`), so two points on two cores do not run four busy threads.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from typing import Any, Mapping

from ..core.parallel import cpu_count

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")


def threads_env(jobs: int, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Thread-pool sizes for one of ``jobs`` concurrent points: the cores divided among them (at least 1).
    Nothing for a single job, and never a variable the user already set."""
    environ = os.environ if environ is None else environ
    if jobs < 2:
        return {}
    share = str(max(1, cpu_count() // jobs))
    return {k: share for k in THREAD_VARS if k not in environ}


class Worker:
    """One warm worker process; :meth:`run` sends a spec and waits for its answer."""

    def __init__(self, workdir: str, env: Mapping[str, str]):
        self.proc = subprocess.Popen([sys.executable, "-m", "workbench.runner", "--worker"], cwd=workdir,
                                     env=dict(env), text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=1)
        self._err: collections.deque[str] = collections.deque(maxlen=50)
        self._drain = threading.Thread(target=self._read_stderr, name="workbench-worker-stderr", daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:  # drained as it comes: a chatty run never blocks on a full pipe
            self._err.append(line.rstrip("\n"))

    def run(self, spec: Mapping[str, Any]) -> dict[str, Any] | None:
        """The runner's answer, or None when the worker died (:meth:`failure` says why)."""
        try:
            self.proc.stdin.write(json.dumps(spec) + "\n")
            self.proc.stdin.flush()
        except OSError:
            return None
        for line in self.proc.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if isinstance(answer, dict) and "record" in answer:
                return answer
        return None

    def failure(self) -> dict[str, Any]:
        """The answer for a point whose worker died: the signal that killed it, else the last line it wrote
        to stderr (a traceback's last line), else its exit status."""
        self.close()
        self._drain.join(timeout=5)
        code = self.proc.returncode
        if code == 130:  # SIGTERM before it read the point
            return {"record": None, "message": "interrupted"}
        if code < 0:
            return {"record": None, "message": f"the worker running this point was killed by signal {-code}"}
        lines = [line for line in self._err if line.strip()]
        return {"record": None, "message": lines[-1] if lines else f"exit status {code}"}

    def interrupt(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def close(self, timeout: float = 60.0) -> None:
        """End of input: the worker finishes (W&B's service included) and exits; killed after ``timeout``."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class WorkerPool:
    """Up to ``jobs`` warm workers, started on demand; a point takes an idle one (or starts one) and gives
    it back when its answer came. A worker that died is replaced by a fresh one for the next point."""

    def __init__(self, jobs: int, workdir: str):
        self.workdir = workdir
        self.env = {**os.environ, **threads_env(jobs)}
        self._idle: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        self._stopping = False

    def run(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self._stopping:  # interrupted: a point that slipped past the cancel does not start
                return {"record": None, "message": "interrupted"}
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                worker = Worker(self.workdir, self.env)
                self._all.append(worker)
        answer = worker.run(spec)
        if answer is None:
            return worker.failure()
        if worker.proc.poll() is None and answer.get("message") != "interrupted":
            self._idle.put(worker)
        return answer

    def interrupt(self) -> None:
        """SIGTERM to every worker: a running point ends as interrupted, with its report."""
        with self._lock:
            self._stopping = True
            for w in self._all:
                w.interrupt()

    def close(self) -> None:
        with self._lock:
            workers = list(self._all)
        for w in workers:  # every worker told first, then waited for: they wind down together
            try:
                w.proc.stdin.close()
            except OSError:
                pass
        for w in workers:
            w.close()
