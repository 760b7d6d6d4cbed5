"""The run context: what a headless kernel knows about its run, passed in one typed channel.

The runner writes a :class:`RunContext` as JSON into the run's private work folder (mode 0600) and
starts the kernel with one environment variable, ``WORKBENCH_CONTEXT``, naming that file. Inside the
kernel, :func:`current` reads it back. Interactively (JupyterLab, plain papermill) there is none:
notebooks then write to ``.workbench/interactive/`` and never into ``reports/``.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .runfolder import RunFolder

ENV = "WORKBENCH_CONTEXT"
SECRETS_ENV = "WORKBENCH_SECRETS"
CONTEXT_VERSION = 1
CONTEXT_FILE = "context.json"
JOURNAL_FILE = "journal.jsonl"


@dataclass
class RunContext:
    """One headless run as the kernel sees it.

    Attributes
    ----------
    run_id : the run's id (UTC time + short hash).
    run_dir : ``reports/<notebook>/<run_id>`` (absolute); artifacts go to ``run_dir/artifacts``.
    notebook : the notebook's name (file stem).
    work_dir : the run's private folder outside ``reports/`` (journal, partial notebook).
    params : every parameter value of the run, secret ones redacted (their values travel only in
        the kernel's environment, see :func:`secret`).
    sweep_id : the sweep the run belongs to, if any.
    git : commit and dirty flag of the checkout the notebook lives in (model provenance).
    """

    run_id: str
    run_dir: str
    notebook: str
    work_dir: str
    params: dict[str, Any] = field(default_factory=dict)
    sweep_id: str | None = None
    git: dict[str, Any] = field(default_factory=dict)
    version: int = CONTEXT_VERSION

    @property
    def folder(self) -> RunFolder:
        return RunFolder(Path(self.run_dir))

    @property
    def artifacts(self) -> Path:
        return self.folder.artifacts

    @property
    def journal(self) -> Path:
        return Path(self.work_dir) / JOURNAL_FILE

    def write(self) -> Path:
        """Write the context file (0600) into :attr:`work_dir`; return its path."""
        path = Path(self.work_dir) / CONTEXT_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(self), f, default=str)
        return path

    def to_env(self) -> dict[str, str]:
        """Write the context file and return the kernel's environment entry pointing to it."""
        return {ENV: str(self.write())}

    @classmethod
    def read(cls, path: str | Path) -> "RunContext":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        known = {k: data[k] for k in ("run_id", "run_dir", "notebook", "work_dir", "params", "sweep_id", "git",
                                                   "version")
                 if k in data}
        return cls(**known)


_CURRENT: tuple[str, RunContext] | None = None


def current() -> RunContext | None:
    """The context of the headless run this process is the kernel of, or None (interactive)."""
    global _CURRENT
    path = os.environ.get(ENV)
    if not path:
        return None
    if _CURRENT is None or _CURRENT[0] != path:
        try:
            _CURRENT = (path, RunContext.read(path))
        except (OSError, ValueError, TypeError):
            return None
    return _CURRENT[1]


def in_headless_run() -> bool:
    """True inside a kernel started by ``workbench run`` (or a sweep)."""
    return current() is not None


def run_id() -> str | None:
    """The current run's id, or None interactively."""
    ctx = current()
    return ctx.run_id if ctx else None


def artifacts_dir() -> Path:
    """Folder for this run's files (models, tables).

    Headless: ``reports/<notebook>/<run_id>/artifacts``. Interactive: ``.workbench/interactive/`` in
    the working directory, so exploration never writes into ``reports/``.
    """
    ctx = current()
    path = ctx.artifacts if ctx else Path(".workbench") / "interactive"
    path.mkdir(parents=True, exist_ok=True)
    return path


_SECRETS: dict[str, Any] | None = None


def secret(name: str) -> Any:
    """The value of the secret parameter ``name`` of this run.

    The runner never writes secret values into the notebook, a file, a record or the kernel's
    environment: ``WORKBENCH_SECRETS`` names a pipe (a FIFO in the run's private 0700 folder) the runner
    writes them into. The first call reads the pipe once, removes it and drops the variable (processes
    the notebook starts inherit nothing); the injected parameters cell calls this function.
    """
    global _SECRETS
    if _SECRETS is None:
        path = os.environ.pop(SECRETS_ENV, "")
        _SECRETS = {}
        if path:
            try:
                with open(path, "rb") as pipe:
                    _SECRETS = json.loads(pipe.read() or b"{}")
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(path)
    if name not in _SECRETS:
        raise KeyError(f"no secret parameter {name!r} was passed to this run")
    return _SECRETS[name]
