"""Identical artifact files across runs are stored once (issue 25): hard links to ``reports/.blobs``, read-only,
replaced (never modified) by a writer, freed by ``gc`` with the last run that links them."""

import os
from pathlib import Path

from workbench.core import blobs
from workbench.core.io import atomic_write_bytes

MODEL = bytes(range(256)) * 64  # 16 KiB


def _run(reports: Path, name: str, files: dict[str, bytes]) -> Path:
    art = reports / "nb" / name / "artifacts"
    for rel, data in files.items():
        (art / rel).parent.mkdir(parents=True, exist_ok=True)
        (art / rel).write_bytes(data)
    return art


def test_the_same_file_in_two_runs_is_one_read_only_inode_and_a_writer_replaces_its_own(tmp_path: Path):
    reports = tmp_path / "reports"
    a = _run(reports, "a", {"model/w.bin": MODEL, "small.txt": b"x" * 10, "data.csv": b"1,2\n" * 2000})
    b = _run(reports, "b", {"model/w.bin": MODEL, "small.txt": b"x" * 10, "data.csv": b"3,4\n" * 2000})
    assert blobs.share_files(a, reports) == 2 and blobs.share_files(b, reports) == 2
    wa, wb = os.stat(a / "model/w.bin"), os.stat(b / "model/w.bin")
    assert (wa.st_ino, wa.st_nlink) == (wb.st_ino, 3), "one inode: run a, run b and the blob"
    assert wa.st_mode & 0o777 == 0o444 and (b / "model/w.bin").read_bytes() == MODEL
    assert os.stat(a / "data.csv").st_ino != os.stat(b / "data.csv").st_ino, "different content, different blobs"
    assert os.stat(a / "small.txt").st_nlink == 1, "a file under one block stays the run's own"
    assert len(list((reports / blobs.BLOBS).glob("??/*"))) == 3
    assert blobs.share_files(a, reports) == 2 and os.stat(a / "model/w.bin").st_nlink == 3, "twice is harmless"

    atomic_write_bytes(b / "model/w.bin", b"retrained")  # how workbench writes: a new file renamed over
    assert (a / "model/w.bin").read_bytes() == MODEL and os.stat(a / "model/w.bin").st_nlink == 2
    assert not list(a.parent.glob("**/.*.blob")), "no temporary link left behind"


def test_freed_bytes_and_orphans_follow_the_last_run_that_links_a_blob(tmp_path: Path):
    reports = tmp_path / "reports"
    a = _run(reports, "a", {"w.bin": MODEL, "own.bin": b"o" * 8192})
    b = _run(reports, "b", {"w.bin": MODEL})
    for art in (a, b):
        blobs.share_files(art, reports)
    assert blobs.freed_bytes([a.parent], reports) == 8192, "w.bin is still linked by run b"
    assert blobs.freed_bytes([a.parent, b.parent], reports) == 8192 + len(MODEL)
    import shutil

    shutil.rmtree(a.parent)
    assert blobs.orphans(reports) != [] and blobs.remove_orphans(reports) == 8192, "own.bin's blob: nobody left"
    assert (b / "w.bin").read_bytes() == MODEL and blobs.orphans(reports) == []
    shutil.rmtree(b.parent)
    assert blobs.remove_orphans(reports) == len(MODEL) and list((reports / blobs.BLOBS).glob("??/*")) == []
