"""``python -m workbench.runner``: one run from a typed JSON spec on stdin, its answer as one JSON line
on stdout. Each sweep point runs this way (see :mod:`workbench.runner.sweeps`).

The spec: ``{"notebook": path, "params": {name: value}, "options": {RunOptions field: value},
"sweep_id": id or null, "executor": who}``. Values arrive typed (JSON), are checked against the notebook's
signature and are never turned back into text; secrets travel on stdin, not on a command line. The
answer: ``{"record": run.json's content or null, "dir": the run folder, "message": one line}``. Exit
status as ``workbench run``: 0 succeeded, 1 failed, 2 refused before running, 130 interrupted (SIGTERM
is handled like Ctrl-C, so an interrupted run still records how it ended).
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Any


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _answer(rec, message: str = "") -> dict[str, Any]:
    return {"record": rec.to_dict() if rec is not None else None, "dir": str(rec.dir) if rec is not None else None,
            "message": message}


def main() -> int:
    from ..core.runs import RunRecord
    from ..errors import RunFailedError, WorkbenchError
    from .execute import run_notebook
    from .options import RunOptions

    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # as the CLI: nbformat never uses it
    signal.signal(signal.SIGTERM, _terminate)
    out, sys.stdout = sys.stdout, sys.stderr  # whatever else prints stays off the answer's line
    try:
        spec = json.loads(sys.stdin.read())
        rec = run_notebook(spec["notebook"], spec.get("params") or {}, RunOptions.from_dict(spec.get("options") or {}),
                           sweep_id=spec.get("sweep_id"), executor=spec.get("executor"))
        answer, code = _answer(rec), 0
    except RunFailedError as e:
        answer, code = _answer(e.record if isinstance(e.record, RunRecord) else None, str(e)), 1
    except WorkbenchError as e:
        answer, code = _answer(None, f"error: {e}"), 2
    except KeyboardInterrupt:
        answer, code = _answer(None, "interrupted"), 130
    print(json.dumps(answer, default=str), file=out, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
