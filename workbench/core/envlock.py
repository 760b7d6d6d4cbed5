"""The environment lock: every installed distribution of this Python, for a run's record.

A lock is a plain dict: ``python`` (version), ``implementation``, ``platform`` (``sysconfig``'s, e.g.
``linux-x86_64``), ``packages`` (canonical name -> version, sorted) and ``editable`` (the names installed
in editable mode). It holds no path and no environment variable: an editable install is named as such,
never by where its source lives, and nothing of ``os.environ`` is read.

Each distinct lock is stored once in the reports tree, content-addressed
(``reports/.envs/<sha256>.json``, written atomically, never rewritten); ``run.json``'s ``environment``
names it; ``workbench gc`` frees a lock no run names any more (:func:`unused_environments`).
:func:`environment_lock` is cheap: names and versions come from the ``.dist-info`` folder names
(the metadata file is parsed only for the odd distribution whose folder name does not say), and the lock
is computed once per process until a ``sys.path`` folder changes (an install or an upgrade touches it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import sysconfig
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .io import read_json, write_json
from .runfolder import ReportsTree

_DIST_INFO = re.compile(r"([^-]+)-([^-]+)\.dist-info")
_cache: dict[str, Any] = {}


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares it (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _name_version(dist: metadata.Distribution) -> tuple[str | None, str | None]:
    path = getattr(dist, "_path", None)
    m = _DIST_INFO.fullmatch(path.name) if isinstance(path, Path) else None
    if m:
        return m.group(1), m.group(2)
    meta = dist.metadata  # an .egg-info or an unusual folder name: read the metadata file
    return meta["Name"], meta["Version"]


def _editable(dist: metadata.Distribution) -> bool:
    path = getattr(dist, "_path", None)
    if isinstance(path, Path) and not (path / "direct_url.json").is_file():
        return False
    try:
        info = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return False
    return bool(isinstance(info, dict) and (info.get("dir_info") or {}).get("editable"))


def _path_state() -> tuple:
    """What the installed set depends on: each ``sys.path`` folder and its modification time."""
    out = []
    for p in sys.path:
        try:
            out.append((p, os.stat(p or ".").st_mtime_ns))
        except OSError:
            out.append((p, None))
    return tuple(out)


def environment_lock() -> dict[str, Any]:
    """The lock of this Python's installed distributions (computed once per process and ``sys.path`` state)."""
    state = _path_state()
    if _cache.get("state") == state:
        return _cache["lock"]
    packages: dict[str, str] = {}
    editable: list[str] = []
    for dist in metadata.distributions():
        name, version = _name_version(dist)
        if not name or canonical(name) in packages:  # the first on sys.path wins, as imports do
            continue
        packages[canonical(name)] = str(version)
        if _editable(dist):
            editable.append(canonical(name))
    lock = {"python": sys.version.split()[0], "implementation": sys.implementation.name,
            "platform": sysconfig.get_platform(), "packages": dict(sorted(packages.items())),
            "editable": sorted(editable)}
    _cache.update(state=state, lock=lock)
    return lock


def lock_digest(lock: dict[str, Any]) -> str:
    """The lock's content address: sha256 of its canonical JSON."""
    text = json.dumps(lock, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def store_environment(reports: str | Path, lock: dict[str, Any]) -> str:
    """Store ``lock`` under the reports tree once (atomic; an existing file is left alone); its digest."""
    digest = lock_digest(lock)
    path = ReportsTree(Path(reports)).environment(digest)
    try:
        os.utime(path)  # in use again: `workbench gc` frees only locks no run used for a while
    except FileNotFoundError:
        write_json(path, lock)
    return digest


def read_environment(reports: str | Path, digest: str) -> dict[str, Any] | None:
    """The stored lock ``digest`` names, or None when it is missing, unreadable or not what it claims."""
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        return None
    try:
        lock = read_json(ReportsTree(Path(reports)).environment(digest))
    except (OSError, ValueError):
        return None
    return lock if isinstance(lock, dict) and lock_digest(lock) == digest else None


def unused_environments(reports: str | Path, min_age_s: float = 3600) -> list[Path]:
    """The stored locks no run record names, stored or used again more than ``min_age_s`` seconds ago (runs
    store theirs under the reports lock, which ``workbench gc`` holds); none when a record is unreadable."""
    tree = ReportsTree(Path(reports))
    folder = tree.root / tree.ENVS
    if not folder.is_dir():
        return []
    used = set()
    for record in tree.records():
        try:
            used.add(read_json(record).get("environment"))
        except (OSError, ValueError, AttributeError):
            return []
    now = time.time()
    out = []
    for p in folder.glob("*.json"):
        with contextlib.suppress(OSError):
            if p.stem not in used and now - p.stat().st_mtime > min_age_s:
                out.append(p)
    return sorted(out)


def environment_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per difference between two locks: interpreter, platform, each distribution added,
    removed or at another version, and a change of editable mode."""
    out = []
    for key in ("python", "implementation", "platform"):
        if old.get(key) != new.get(key):
            out.append(f"{key} {old.get(key) or '?'} -> {new.get(key) or '?'}")
    was, now = old.get("packages") or {}, new.get("packages") or {}
    for name in sorted(set(was) | set(now)):
        if name not in now:
            out.append(f"{name} {was[name]} removed")
        elif name not in was:
            out.append(f"{name} {now[name]} added")
        elif was[name] != now[name]:
            out.append(f"{name} {was[name]} -> {now[name]}")
    old_ed, new_ed = set(old.get("editable") or ()), set(new.get("editable") or ())
    for name in sorted((old_ed ^ new_ed) & set(was) & set(now)):
        out.append(f"{name} {'now' if name in new_ed else 'no longer'} installed in editable mode")
    return out
