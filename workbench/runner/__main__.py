"""``python -m workbench.runner``: one run from a typed JSON spec on stdin, its answer as one JSON line
on stdout (pipeline steps and Dask sweep points run this way; local sweep points in its ``--worker`` mode,
see :mod:`workbench.runner.sweeps`).

The spec: ``{"notebook": path, "params": {name: value}, "options": {RunOptions field: value},
"sweep_id": id or null, "executor": who}``. Values arrive typed (JSON), are checked against the notebook's
signature and are never turned back into text; secrets travel on stdin, not on a command line. The
answer: ``{"record": run.json's content or null, "dir": the run folder, "message": one line}``. Exit
status as ``workbench run``: 0 succeeded, 1 failed, 2 refused before running, 130 interrupted (SIGTERM
is handled like Ctrl-C, so an interrupted run still records how it ended).

``python -m workbench.runner --worker`` is a warm worker: it reads one spec per line and answers one line
per spec, running the points one after another in this interpreter, so the runner's imports (papermill,
nbconvert, W&B and its service process) are paid once per worker, not once per point. Every point still
gets a fresh kernel of its own. Anything a kernel or its children write to file descriptor 1 goes to
stderr: the answers' channel carries answers only. It ends at the end of its input (exit 0), on
SIGTERM after answering the interrupted point (130), or on an unexpected error (its traceback on stderr).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any, TextIO


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _answer(rec, message: str = "") -> dict[str, Any]:
    return {"record": rec.to_dict() if rec is not None else None, "dir": str(rec.dir) if rec is not None else None,
            "message": message}


def _run(spec: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """One spec's answer and exit status; KeyboardInterrupt (SIGTERM) is answered as interrupted."""
    from ..core.runs import RunRecord
    from ..errors import RunFailedError, WorkbenchError
    from .execute import run_notebook
    from .options import RunOptions

    try:
        rec = run_notebook(spec["notebook"], spec.get("params") or {}, RunOptions.from_dict(spec.get("options") or {}),
                           sweep_id=spec.get("sweep_id"), executor=spec.get("executor"))
        return _answer(rec), 0
    except RunFailedError as e:
        return _answer(e.record if isinstance(e.record, RunRecord) else None, str(e)), 1
    except WorkbenchError as e:
        return _answer(None, f"error: {e}"), 2
    except KeyboardInterrupt:
        return _answer(None, "interrupted"), 130


def _serve(answers: TextIO) -> int:
    """The warm worker's loop: a spec per input line, an answer per output line."""
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            answer, code = _run(json.loads(line))
            print(json.dumps(answer, default=str), file=answers, flush=True)
            if code == 130:
                return 130
    except KeyboardInterrupt:  # SIGTERM while waiting for the next point
        return 130
    return 0


def main() -> int:
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # as the CLI: nbformat never uses it
    signal.signal(signal.SIGTERM, _terminate)
    if "--worker" in sys.argv[1:]:
        answers = os.fdopen(os.dup(1), "w")  # not inherited by kernels: only this process writes answers
        os.dup2(2, 1)  # a kernel (or what it starts) writing to fd 1 lands on stderr
        sys.stdout = sys.stderr
        return _serve(answers)
    out, sys.stdout = sys.stdout, sys.stderr  # whatever else prints stays off the answer's line
    answer, code = _run(json.loads(sys.stdin.read()))
    print(json.dumps(answer, default=str), file=out, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
