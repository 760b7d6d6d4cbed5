"""Run records and the ``reports/`` tree: ids, folders, ``run.json``, atomic writes, listing.

Layout::

    reports/<notebook>/<run_id>/{report.html, notebook.ipynb, run.json, artifacts/}
    reports/<notebook>/latest.html
    reports/index.html

``run.json`` files are the single source of truth; indexes are regenerated from them.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import yaml

KEY_PACKAGES = ("workbench", "papermill", "nbconvert", "nbclient", "ipykernel", "pandas", "numpy",
                "scikit-learn", "catboost", "torch", "torchvision", "timm", "plotly", "ipywidgets",
                "wandb")
RECORD_NAME = "run.json"


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def new_run_id(now: _dt.datetime | None = None) -> str:
    """A run id: UTC time to the millisecond plus a short random hash, sortable by time."""
    now = now or utcnow()
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + secrets.token_hex(3)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


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


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    return out


def rerun_command(notebook: str, params: dict[str, Any], extra: Iterable[str] = ()) -> str:
    """The shell command that reruns a notebook with the same parameters."""
    parts = ["workbench", "run", notebook]
    for k, v in params.items():
        text = v if isinstance(v, str) and _roundtrips(v) else yaml.safe_dump(
            v, default_flow_style=True, width=10**9).strip().removesuffix("\n...").strip()
        parts += ["-p", k, text]
    parts += list(extra)
    return shlex.join(parts)


def _roundtrips(s: str) -> bool:
    try:
        return yaml.safe_load(s) == s
    except yaml.YAMLError:
        return False


def notebook_name(notebook: str | Path) -> str:
    return Path(notebook).stem


def run_dir(reports: Path, notebook: str | Path, run_id: str) -> Path:
    return Path(reports) / notebook_name(notebook) / run_id


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_records(reports: str | Path, notebook: str | None = None, status: str | None = None,
                 sweep: str | None = None) -> list[dict[str, Any]]:
    """All run records under ``reports``, newest first, optionally filtered.

    A record still marked ``running`` whose process is gone (killed) is shown as ``interrupted``.
    """
    reports = Path(reports)
    out = []
    pattern = f"{notebook_name(notebook)}/*/{RECORD_NAME}" if notebook else f"*/*/{RECORD_NAME}"
    for p in reports.glob(pattern):
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if rec.get("status") == "running" and rec.get("host") == os.uname().nodename \
                and not _pid_alive(rec.get("pid")):
            rec["status"] = "interrupted"
        rec["_dir"] = str(p.parent)
        if status and rec.get("status") != status:
            continue
        if sweep and rec.get("sweep_id") != sweep:
            continue
        out.append(rec)
    out.sort(key=lambda r: r.get("run_id", ""), reverse=True)
    return out


def find_run(reports: str | Path, run_id: str) -> dict[str, Any]:
    """The record of one run, by id or unique id prefix."""
    from .errors import WorkbenchError

    matches = [r for r in load_records(reports) if r.get("run_id", "").startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise WorkbenchError(f"no run {run_id!r} under {str(reports)!r}; `workbench runs` lists them")
    raise WorkbenchError(f"run id {run_id!r} is ambiguous: {', '.join(r['run_id'] for r in matches[:5])}")
