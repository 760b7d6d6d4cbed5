"""Artifact files stored once per reports tree: ``reports/.blobs/<sha[:2]>/<sha256>``, hard-linked into runs.

When a run ends, every artifact file of at least :data:`MIN_SIZE` bytes is hashed; the first run with that
content links its file into the store, every later one has its own file replaced (atomically: a link
under a temporary name, then a rename) by a hard link to the stored one. A shared file is read-only
(mode 0444, one inode for every run and the store) and nothing in workbench writes into an artifact
in place: every writer replaces the file (``core.io``'s atomic writes), which gives the run its own new
inode and leaves the others' untouched. Across file systems (a run folder on another mount) a file
simply stays the run's own copy.

A blob no run links any more has one link left (the store's): :func:`orphans` lists them and ``workbench
gc`` removes them; :func:`freed_bytes` counts what deleting some run folders frees, blobs included.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

BLOBS = ".blobs"
MIN_SIZE = 4096
"""Smaller files take one disk block either way: they stay the run's own."""
READ_ONLY = 0o444


def store_dir(reports: str | Path) -> Path:
    return Path(reports) / BLOBS


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _share(path: Path, store: Path) -> bool:
    """Link ``path`` to its blob (creating the blob from it when new); True when it now shares one."""
    st = path.lstat()
    digest = _sha256(path)
    blob = store / digest[:2] / digest
    blob.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, blob)  # a new blob: this file's inode, made read-only
        os.chmod(path, READ_ONLY)
        return True
    except FileExistsError:
        pass
    bst = blob.stat()
    if (bst.st_dev, bst.st_ino) == (st.st_dev, st.st_ino):
        return True
    if bst.st_size != st.st_size:
        return False  # not what its name says: leave both alone
    tmp = path.with_name(f".{path.name}.{os.getpid()}.blob")
    os.link(blob, tmp)
    try:
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return True


def share_files(folder: str | Path, reports: str | Path) -> int:
    """Store every regular file of ``folder`` (recursively, at least :data:`MIN_SIZE` bytes) once in the blob
    store of ``reports`` and hard-link it back; return the number of files now shared. A file that
    cannot be linked (another file system, no permission) stays as it is."""
    folder, store = Path(folder), store_dir(reports)
    shared = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = Path(dirpath, name)
            try:
                if path.is_symlink() or not path.is_file() or path.stat().st_size < MIN_SIZE:
                    continue
                shared += _share(path, store)
            except OSError:
                continue
    return shared


def _blobs(reports: str | Path) -> Iterable[Path]:
    store = store_dir(reports)
    return (p for p in store.glob("??/*") if p.is_file() and not p.name.startswith(".")) if store.is_dir() else ()


def orphans(reports: str | Path) -> list[Path]:
    """Blobs no run links any more (the store's own link is the last)."""
    return [p for p in _blobs(reports) if p.stat().st_nlink == 1]


def freed_bytes(folders: Iterable[str | Path], reports: str | Path) -> int:
    """Bytes freed by deleting ``folders`` and then the blobs left orphaned: a file counts when every
    link to its inode is inside ``folders`` or is its blob."""
    blob_inodes = set()
    for p in _blobs(reports):
        st = p.stat()
        blob_inodes.add((st.st_dev, st.st_ino))
    seen: dict[tuple[int, int], list] = {}
    for folder in folders:
        for dirpath, _, files in os.walk(folder):
            for name in files:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                entry = seen.setdefault((st.st_dev, st.st_ino), [0, st.st_nlink, st.st_size])
                entry[0] += 1
    return sum(size for key, (links, nlink, size) in seen.items()
               if links + (key in blob_inodes) >= nlink)


def remove_orphans(reports: str | Path) -> int:
    """Delete the orphaned blobs; return the bytes freed."""
    freed = 0
    for p in orphans(reports):
        try:
            size = p.stat().st_size
            p.unlink()
            freed += size
        except OSError:
            continue
    return freed
