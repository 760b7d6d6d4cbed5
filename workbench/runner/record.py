"""What a run's record says about how to get it again: the git state and the rerun command."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml


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
