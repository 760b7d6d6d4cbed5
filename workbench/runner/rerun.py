"""``workbench rerun RUN_ID``: a run again, from its record, and what changed since.

:func:`prepare_rerun` checks everything before any work: the run (by id or unique prefix, through the run
index), its parameters (``given_params``; a secret one is never recorded and must be given again), the
notebook version that ran, and the environment differences. The notebook version is the file when its
bytes or its code cells still match the record (``notebook_sha256``, ``code_digest``), else the content
``git show COMMIT:PATH`` gives for the recorded commit, when that matches; anything else is an error
naming the problem. :meth:`Rerun.run` then takes the normal run path (a new run, recorded and indexed,
``rerun_of`` naming the original; never answered from the run cache), and :func:`metric_rows` sets each
recorded metric old against new.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..core.envlock import canonical, environment_differences, environment_lock, read_environment
from ..core.runs import RunRecord, read_record
from ..core.secrets import REDACTED, is_secret
from ..core.versions import package_versions
from ..errors import NotebookNotFoundError, WorkbenchError
from .options import RunOptions
from .source import NotebookSource

_COMMIT = re.compile(r"[0-9a-f]{7,64}")


@dataclass(frozen=True)
class Rerun:
    """A checked rerun: the original record, the notebook version to run, the parameters and options,
    where the notebook came from, and the environment's differences (one line each)."""

    record: RunRecord
    source: NotebookSource
    params: dict[str, Any]
    options: RunOptions
    origin: str
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def with_params(self, overrides: Mapping[str, Any]) -> "Rerun":
        """The same rerun with some parameter values given again (a secret's, or a deliberate change)."""
        return dataclasses.replace(self, params={**self.params, **overrides})

    def check(self) -> "Rerun":
        """Itself, once no parameter is a redacted secret (runs never record secret values)."""
        missing = [k for k, v in self.params.items() if _redacted(k, v)]
        if missing:
            raise WorkbenchError(f"run {self.record.run_id} was given the secret parameter(s) {', '.join(missing)}, "
                                 "whose values runs never record; give them again: `workbench rerun "
                                 f"{self.record.run_id} " + " ".join(f"-p {k} VALUE" for k in missing) + "`")
        return self

    def run(self) -> RunRecord:
        """Run it: a new run (raises :class:`~workbench.errors.RunFailedError` as any run does)."""
        from .execute import run_notebook

        return run_notebook(self.check().source, self.params, self.options, rerun_of=self.record.run_id)


def _redacted(name: str, value: Any) -> bool:
    if is_secret(name) and value == REDACTED:
        return True
    if isinstance(value, Mapping):
        return any(_redacted(k, v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_redacted("", v) for v in value)
    return False


def find_record(reports: str | Path, run_id: str) -> tuple[RunRecord, dict[str, Any]]:
    """The run (id or unique prefix, as ``workbench runs`` resolves it): its record and raw ``run.json``."""
    from ..core.runstore import RunStore

    row = RunStore(reports).find(run_id)
    path = Path(row["dir"]) / "run.json"
    rec = read_record(path)
    if rec is None:
        raise WorkbenchError(f"run {row['run_id']}: {path} is not a readable run record")
    return rec, json.loads(path.read_text(encoding="utf-8"))


def git_show(commit: str, path: Path) -> bytes:
    """The content of ``path`` at ``commit``, from the git repository around it (the file may be gone)."""
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        raise WorkbenchError(f"the recorded git commit {commit!r} is not a commit id")
    target = Path(os.path.abspath(path))
    base = target.parent
    while not base.is_dir() and base != base.parent:
        base = base.parent
    rel = os.path.relpath(target, base)
    try:
        proc = subprocess.run(["git", "-C", str(base), "show", f"{commit}:./{rel}"], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise WorkbenchError(f"git could not be run to read {path} at commit {commit[:12]}: {e}") from e
    if proc.returncode != 0:
        why = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[0]
        raise WorkbenchError(f"{path} at commit {commit[:12]} could not be read from git ({why}); is the run's "
                             "repository here, with that commit (git fetch)?")
    return proc.stdout


def _matches(source: NotebookSource, rec: RunRecord) -> bool:
    return bool((rec.notebook_sha256 and source.sha256 == rec.notebook_sha256)
                or (rec.code_digest and source.code_digest == rec.code_digest))


def recorded_notebook(rec: RunRecord) -> tuple[NotebookSource, str]:
    """The notebook version ``rec`` ran, and where it was found (a sentence)."""
    if not rec.notebook:
        raise WorkbenchError(f"run {rec.run_id}'s record names no notebook")
    path = Path(rec.notebook)
    current = NotebookSource.load(path) if path.is_file() else None
    if not (rec.notebook_sha256 or rec.code_digest):
        if current is None:
            raise NotebookNotFoundError(f"run {rec.run_id}'s notebook {rec.notebook!r} is gone")
        return current, (f"{rec.notebook} as it is now (run {rec.run_id} was recorded without a notebook digest: "
                         "it may have changed since)")
    if current is not None and _matches(current, rec):
        return current, f"{rec.notebook} (unchanged since the run)"
    state = "has changed since the run" if current is not None else "is gone"
    commit = (rec.git or {}).get("commit")
    if not commit:
        raise WorkbenchError(f"{rec.notebook} {state} and run {rec.run_id}'s record names no git commit to read "
                             "the version that ran from")
    source = NotebookSource.parse(path, git_show(commit, path), revision=commit)
    if not _matches(source, rec):
        raise WorkbenchError(f"{rec.notebook} {state}, and commit {commit[:12]} holds another version than run "
                             f"{rec.run_id} ran (it ran uncommitted changes): the version that ran is not available")
    return source, f"{rec.notebook} at git commit {commit[:12]} (the file {state})"


def _timeout(rec: RunRecord) -> float | None:
    try:
        words = shlex.split(rec.rerun_command or "")
        return float(words[words.index("--timeout") + 1]) if "--timeout" in words else None
    except (ValueError, IndexError):
        return None


def _environment(rec: RunRecord, reports: str | Path) -> tuple[list[str], list[str]]:
    """The differences between the run's environment and this one, and a note when only the key
    packages could be compared."""
    old = read_environment(reports, rec.environment) if rec.environment else None
    if old is not None:
        return environment_differences(old, environment_lock()), []
    why = (f"its environment lock {rec.environment[:12]} is missing from {reports}/.envs" if rec.environment
           else "it was recorded before environment locks")
    then = dict(rec.packages or {})
    now = package_versions(tuple(k for k in then if k != "python"))
    key = {"python": then.pop("python", None), "packages": {canonical(k): v for k, v in then.items()}}
    return (environment_differences(key, {"python": now.pop("python"), "packages": {canonical(k): v for k, v in
                                                                                   now.items()}}),
            [f"run {rec.run_id}: {why}; only its key packages were compared"])


def prepare_rerun(reports: str | Path, run_id: str, **changes: Any) -> Rerun:
    """Everything :meth:`Rerun.run` needs, checked (``changes``: :class:`RunOptions` fields for the new run,
    e.g. ``progress=False``); errors before any work."""
    rec, raw = find_record(reports, run_id)
    if not isinstance(raw.get("params"), dict):
        raise WorkbenchError(f"run {rec.run_id}'s record holds no parameters (run.json has no 'params'): it cannot "
                             "be rerun as it ran")
    params = dict(rec.given_params if isinstance(raw.get("given_params"), dict) else rec.params)
    source, origin = recorded_notebook(rec)
    known = {f.name for f in dataclasses.fields(RunOptions)}
    recorded = {k: v for k, v in (rec.options or {}).items() if k in known}
    options = RunOptions(**{**recorded, "timeout": _timeout(rec), "reports": str(reports), "force": True, **changes})
    differences, notes = _environment(rec, reports)
    return Rerun(rec, source, params, options, origin, differences, notes)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def metric_rows(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    """``(name, old, new, delta)`` for every metric of either run (the old run's order first); ``delta`` is
    new - old for two numbers, else None; a metric one run lacks shows None on that side."""
    rows = []
    for name in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(name), new.get(name)
        rows.append((name, a, b, b - a if _number(a) and _number(b) else None))
    return rows
