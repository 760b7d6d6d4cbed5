"""``workbench demo --jobs N``: the demo's runs as ``workbench run`` child processes, N at a time, longest
first, each output line relayed with its run's name in front (``[vision_finetune] epoch 3/10 ...``).

One run per process keeps what a single ``workbench run`` guarantees (its own W&B run, signals, a marked
report when it fails); the order matters because the demo's wall time is at least its longest run: a
notebook may say how long it takes in its metadata (``"workbench": {"demo_seconds": 600}``), and runs
start in decreasing order of that, the others in folder order after them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

Run = tuple[Path, "Path | None"]


def expected_seconds(notebook: Path) -> float:
    """The notebook's ``metadata.workbench.demo_seconds`` (0 when absent or not a number)."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {}).get("workbench", {})
        value = meta.get("demo_seconds", 0) if isinstance(meta, dict) else 0
    except (OSError, ValueError, AttributeError):
        return 0.0
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else 0.0


def longest_first(runs: list[Run]) -> list[Run]:
    """``runs`` by decreasing expected time; a stable sort, so equal ones keep their folder order."""
    return sorted(runs, key=lambda run: -expected_seconds(run[0]))


def label(run: Run) -> str:
    nb, params = run
    return nb.stem if params is None else f"{nb.stem}:{params.name.removesuffix('.yaml').split('.', 1)[-1]}"


def child_argv(run: Run, args) -> list[str]:
    """``workbench run`` for one demo run, with the demo's own options passed on."""
    nb, params = run
    argv = [sys.executable, "-m", "workbench.cli", "run", str(nb)]
    if params is not None:
        argv += ["-f", str(params)]
    if getattr(args, "force", False):
        argv.append("--force")
    if getattr(args, "log_output", False):
        argv.append("--log-output")
    for name in ("timeout", "reports"):  # flags not given are absent (the run's defaults apply)
        if getattr(args, name, None) is not None:
            argv += [f"--{name}", str(getattr(args, name))]
    return argv


def _relay(name: str, stream: IO[str], out: IO[str], lock: threading.Lock) -> None:
    for line in stream:
        with lock:
            out.write(f"[{name}] {line}" if line.endswith("\n") else f"[{name}] {line}\n")
            out.flush()


class _Child:
    def __init__(self, run: Run, args, lock: threading.Lock):
        self.name = label(run)
        self.proc = subprocess.Popen(child_argv(run, args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        self.relay = threading.Thread(target=_relay, args=(self.name, self.proc.stdout, sys.stdout, lock),
                                      daemon=True)
        self.relay.start()

    def done(self) -> bool:
        return self.proc.poll() is not None

    def finish(self) -> int:
        code = self.proc.wait()
        self.relay.join()
        return code


def run_parallel(runs: list[Run], args, jobs: int) -> int:
    """Run ``runs`` ``jobs`` at a time; the number that failed. Ctrl-C stops every child (each writes its
    report marked as interrupted) before it is raised again."""
    pending, active, failed = longest_first(runs), [], 0
    lock = threading.Lock()
    try:
        while pending or active:
            while pending and len(active) < jobs:
                child = _Child(pending.pop(0), args, lock)
                with lock:
                    print(f"== started {child.name} (pid {child.proc.pid})", flush=True)
                active.append(child)
            for child in [c for c in active if c.done()]:
                active.remove(child)
                code = child.finish()
                failed += code != 0
                with lock:
                    print(f"== {child.name} " + ("succeeded" if code == 0 else f"failed (exit status {code})"),
                          flush=True)
            time.sleep(0.2)
    except KeyboardInterrupt:
        for child in active:
            child.proc.terminate()
        for child in active:
            child.finish()
        raise
    return failed
