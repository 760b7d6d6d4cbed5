"""The registry's shared files: JSON read with limits, the per-name lock, the aliases file, the audit log.

A registry folder is shared between people and treated as untrusted input, like a model folder:
every file is opened without following a symbolic link, must be a regular file, and is read with
a size limit; its JSON is type-checked by the caller. Nothing is ever unpickled.

Writers of one model name serialize on ``<name>/.lock`` (``filelock``). Readers never take it: the
aliases file is replaced atomically (:func:`~workbench.core.io.write_json`), so a reader sees the old
or the new one, and the audit log only grows by whole, fsync'ed lines written under the same lock,
so its order is the order of the aliases file's changes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any, Iterator

from ..core.io import file_mode, write_json
from ..errors import ModelError

ALIASES_FILE = "aliases.json"
AUDIT_FILE = "audit.jsonl"
LOCK_FILE = ".lock"
MAX_JSON_BYTES = 1 << 20
MAX_AUDIT_LINE = 1 << 16
LOCK_TIMEOUT_S = 60.0
ACTIONS = ("register", "set", "rollback", "remove", "delete")


def utc_stamp() -> str:
    """The time now as ISO-8601 UTC with microseconds (``2024-05-01T12:00:00.123456Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def current_user() -> str:
    """Who is acting: the login name (``getpass.getuser``), else the numeric uid; nothing more."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry and no $USER
        return str(os.getuid())


def real_dir(path: Path, what: str) -> bool:
    """Whether ``path`` is a folder; a symbolic link (or anything but a folder) is refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise ModelError(f"{what} {str(path)!r} is not a real folder (a symbolic link or a file); a registry "
                         "holds only its own folders; refusing it")
    return True


def read_json_file(path: Path, limit: int = MAX_JSON_BYTES) -> Any:
    """JSON from ``path``: a regular file (not followed if a link), at most ``limit`` bytes, UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise ModelError(f"cannot read {str(path)!r} ({e.strerror}); a registry file must be a regular file") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise ModelError(f"{str(path)!r} is not a regular file of at most {limit >> 10} KiB; refusing it")
        data = f.read(limit + 1)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ModelError(f"{str(path)!r} is not valid JSON ({e}); the registry file is damaged") from None


@contextlib.contextmanager
def name_lock(name_dir: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """The lock every writer of one model name holds (a file lock: works across processes)."""
    from filelock import FileLock, Timeout

    try:
        with FileLock(str(name_dir / LOCK_FILE), timeout=timeout, mode=file_mode()):
            yield
    except Timeout:
        raise ModelError(f"could not lock {str(name_dir / LOCK_FILE)!r} within {timeout:g} s: another registry "
                         "command is writing to this model; try again") from None


# ---------------------------------------------------------------------------------------- aliases
def read_aliases(name_dir: Path) -> dict[str, int]:
    """``alias -> version`` of one model (empty when it has none); no lock needed."""
    path = name_dir / ALIASES_FILE
    if not os.path.lexists(path):
        return {}
    data = read_json_file(path)
    aliases = data.get("aliases") if isinstance(data, dict) else None
    if not isinstance(aliases, dict):
        raise ModelError(f"{str(path)!r} has no 'aliases' object; the registry file is damaged")
    out = {}
    for alias, version in aliases.items():
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ModelError(f"{str(path)!r}: alias {alias!r} points at {version!r}, not a version number")
        out[str(alias)] = version
    return out


def write_aliases(name_dir: Path, name: str, aliases: dict[str, int]) -> None:
    """Replace the aliases file atomically (call under :func:`name_lock`)."""
    write_json(name_dir / ALIASES_FILE, {"name": name, "aliases": dict(sorted(aliases.items())),
                                         "updated": utc_stamp()})


def change_token(name_dir: Path) -> tuple:
    """A cheap token that changes whenever an alias or the set of versions changes: the aliases file's
    (mtime_ns, size, inode) — a replacement is a new inode — and the versions folder's mtime_ns."""
    out: list[Any] = []
    for path in (name_dir / ALIASES_FILE, name_dir / "versions"):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            out.append(None)
            continue
        out.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(out)


# ---------------------------------------------------------------------------------------- audit log
def audit_entry(action: str, name: str, alias: str | None, from_: int | None, to: int | None) -> dict[str, Any]:
    """One line of the audit log."""
    return {"ts": utc_stamp(), "user": current_user(), "action": action, "name": name, "alias": alias,
            "from": from_, "to": to}


def append_audit(name_dir: Path, entry: dict[str, Any]) -> None:
    """Append ``entry`` as one JSON line, flushed and fsync'ed (call under :func:`name_lock`).

    A last line left without its end by a crash gets one first, so the new entry stays whole.
    """
    line = (json.dumps(entry, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    fd = os.open(name_dir / AUDIT_FILE, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _valid_entry(e: Any) -> bool:
    def version(v: Any) -> bool:
        return v is None or (isinstance(v, int) and not isinstance(v, bool))

    return (isinstance(e, dict) and e.get("action") in ACTIONS and isinstance(e.get("name"), str)
            and isinstance(e.get("ts"), str) and isinstance(e.get("user"), str)
            and (e.get("alias") is None or isinstance(e.get("alias"), str))
            and version(e.get("from")) and version(e.get("to")))


def read_audit(name_dir: Path) -> list[dict[str, Any]]:
    """The audit log's entries, oldest first; a damaged or over-long line is skipped, never fatal."""
    path = name_dir / AUDIT_FILE
    if not os.path.lexists(path):
        return []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise ModelError(f"cannot read the audit log {str(path)!r} ({e.strerror})") from None
    out = []
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ModelError(f"the audit log {str(path)!r} is not a regular file; refusing it")
        while line := f.readline(MAX_AUDIT_LINE):
            if not line.endswith(b"\n") and len(line) == MAX_AUDIT_LINE:  # over-long: skip the rest of it
                while (rest := f.readline(MAX_AUDIT_LINE)) and not rest.endswith(b"\n"):
                    pass
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if _valid_entry(entry):
                out.append(entry)
    return out


# ---------------------------------------------------------------------------------------- read-only trees
def freeze(folder: Path) -> None:
    """Make a version folder read-only: files 0444, folders 0555 (an accidental edit fails loudly)."""
    for root, _dirs, files in os.walk(folder):
        for f in files:
            os.chmod(os.path.join(root, f), 0o444)
    for root, dirs, _files in os.walk(folder, topdown=False):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o555)
    os.chmod(folder, 0o555)


def remove_tree(folder: Path) -> None:
    """Remove a (frozen) folder of our own: folders made writable first; links are never followed."""
    if not real_dir(folder, "folder to remove"):
        return
    os.chmod(folder, 0o700)
    for root, dirs, _files in os.walk(folder):
        for d in dirs:
            p = os.path.join(root, d)
            if not os.path.islink(p):
                os.chmod(p, 0o700)
    shutil.rmtree(folder)


def sweep_stale(versions: Path, max_age_s: float = 86400.0) -> None:
    """Remove staging and trash folders left by crashed commands (older than ``max_age_s``)."""
    now = time.time()
    for entry in versions.iterdir() if versions.is_dir() else ():
        if entry.name.startswith((".staging-", ".trash-")):
            with contextlib.suppress(OSError, ModelError):
                if now - os.lstat(entry).st_mtime > max_age_s:
                    remove_tree(entry)
