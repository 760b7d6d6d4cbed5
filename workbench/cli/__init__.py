"""The ``workbench`` command line: parsing (``_parser``) and printing (``_commands``) only.

Every :class:`~workbench.errors.WorkbenchError` becomes a one-line message and exit status 2 (1 for
a failed run); SIGTERM is handled like Ctrl-C, so a killed run still records how it ended; a closed
pipe (``workbench runs | head``) ends quietly.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Sequence

from ..errors import WorkbenchError


def _skip_slow_optional_imports() -> None:
    """jsonschema imports ``rfc3987_syntax`` when installed, only to check IRI formats, which nbformat
    never uses; it compiles a grammar on import (about a second). The CLI goes without it."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    from ..models._skops_import import lean_skops

    lean_skops()  # this process loads models only through workbench's allow-list: no estimator walk


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    from ._parser import build_parser, rewrite_parameters

    args = build_parser().parse_args(rewrite_parameters(list(sys.argv[1:] if argv is None else argv)))
    _skip_slow_optional_imports()
    signal.signal(signal.SIGTERM, _terminate)  # timeouts, systemd, Kubernetes: end like Ctrl-C
    try:
        reports = getattr(args, "reports", None)
        if reports and os.path.exists(reports) and not os.path.isdir(reports):
            raise WorkbenchError(f"--reports {reports!r} is a file; give a folder (it is created if missing)")
        return args.func(args)
    except WorkbenchError as e:
        print(f"workbench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `workbench runs | head`: the reader is gone, nothing left to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


__all__ = ["main"]
