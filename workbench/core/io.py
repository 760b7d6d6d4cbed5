"""Files: atomic writes that honour the umask, strict JSON, content hashes.

Every file workbench writes for others to read (reports, records, model cards, predictions) goes
through :func:`atomic_write_bytes`: readers see the old file or the whole new one, never a part, and
the new file gets the mode a plain ``open()`` would give it (``0666 & ~umask``), not ``mkstemp``'s 0600.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

_UMASK: int | None = None


def _umask() -> int:
    """The process umask (read once; ``os.umask`` can only be read by setting it)."""
    global _UMASK
    if _UMASK is None:
        current = os.umask(0o022)
        os.umask(current)
        _UMASK = current
    return _UMASK


def file_mode() -> int:
    """Mode of a newly created regular file under the current umask."""
    return 0o666 & ~_umask()


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    ``mode`` defaults to what ``open(path, "w")`` would create (the umask is honoured); pass ``0o600``
    for private files. On any failure the temp file is removed and an existing ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode() if mode is None else mode)
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


def atomic_write_text(path: str | Path, text: str, *, mode: int | None = None) -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: numpy/torch scalars and arrays converted, NaN and infinities as
    ``None`` (JSON has neither), paths and other objects as strings, mapping keys as strings."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return to_jsonable(value.item())
    if hasattr(value, "tolist"):
        return to_jsonable(value.tolist())
    return str(value)


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (see :func:`to_jsonable`; never ``NaN``/``Infinity``)."""
    return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False, ensure_ascii=False)


def write_json(path: str | Path, obj: Any, *, mode: int | None = None) -> None:
    """Write ``obj`` as strict, indented JSON, atomically."""
    atomic_write_text(path, dumps(obj) + "\n", mode=mode)


def read_json(path: str | Path) -> Any:
    """JSON from a UTF-8 file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def update_file_hash(path: str | Path, h: "hashlib._Hash", chunk: int = 1 << 20) -> None:
    """Feed a file's bytes into the running hash ``h``."""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
