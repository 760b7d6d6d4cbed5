"""Building a run's record: the fields every run shares (executed or reused), git state, rerun command."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from ..core.runs import RunRecord, notebook_name
from ..core.secrets import redact


def git_info(cwd: str | Path = ".") -> dict[str, Any]:
    """Commit and dirty flag of the git checkout around ``cwd`` (None outside git)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    try:
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        dirty = None
    return {"commit": commit, "dirty": dirty}


def _roundtrips(s: str) -> bool:
    try:
        return yaml.safe_load(s) == s
    except yaml.YAMLError:
        return False


def value_text(v: Any) -> str:
    """``v`` as the command-line text that parses back to it (YAML literal, flow style)."""
    if isinstance(v, str) and _roundtrips(v):
        return v
    return yaml.safe_dump(v, default_flow_style=True, width=10**9).strip().removesuffix("\n...").strip()


def rerun_command(notebook: str, params: Mapping[str, Any], extra: Iterable[str] = ()) -> str:
    """The shell command that reruns a notebook with the same parameters."""
    parts = ["workbench", "run", notebook]
    for k, v in params.items():
        parts += ["-p", k, value_text(v)]
    parts += list(extra)
    return shlex.join(parts)


def run_options(timeout: float | None, hide_code: bool, kernel_name: str | None, kernel: str | None = None,
                cwd: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """The run options as recorded (and keyed in the cache: they change the result or the report), and
    as command-line arguments for the rerun command."""
    options: dict[str, Any] = {"hide_code": bool(hide_code), "kernel": kernel or kernel_name,
                               "cwd": str(cwd) if cwd is not None else None}
    args = [] if timeout is None else ["--timeout", f"{timeout:g}"]
    if hide_code:
        args.append("--hide-code")
    if kernel_name:
        args += ["--kernel", kernel_name]
    if cwd is not None:
        args += ["--cwd", str(cwd)]
    return options, args


def new_record(*, run_id: str, notebook: Path, full: Mapping[str, Any], given: Mapping[str, Any], started: str,
               key: str, fingerprints: Mapping[str, str], packages: Mapping[str, str], options: Mapping[str, Any],
               args: list[str], sweep_id: str | None, git: Mapping[str, Any]) -> RunRecord:
    """The record fields shared by executed and reused runs (secrets redacted)."""
    return RunRecord(
        run_id=run_id, notebook=str(notebook), notebook_name=notebook_name(notebook), status="running",
        params=redact(dict(full)), given_params=redact(dict(given)), started=started, git=dict(git),
        packages=dict(packages), data=dict(fingerprints), cache_key=key,
        rerun_command=rerun_command(str(notebook), redact(dict(given)), args), pid=os.getpid(),
        host=os.uname().nodename, sweep_id=sweep_id, options=dict(options),
        executor=os.environ.get("WORKBENCH_EXECUTOR") or "local")
