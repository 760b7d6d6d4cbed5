"""Atomic writes, strict JSON, hashes."""

import os
from pathlib import Path

import pytest

from workbench.core.io import atomic_write_text


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_honour_the_umask(tmp_path: Path, umask, mode, monkeypatch):
    import workbench.core.io as wio

    monkeypatch.setattr(wio, "_UMASK", umask)
    atomic_write_text(tmp_path / "a.txt", "x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == mode
    atomic_write_text(tmp_path / "p.txt", "x", mode=0o600)
    assert (tmp_path / "p.txt").stat().st_mode & 0o777 == 0o600


def test_a_failure_between_temp_write_and_rename_keeps_the_old_file(tmp_path: Path, monkeypatch):
    """The write really is atomic: a crash after the data is written but before the rename leaves the
    old content and no temp file (a plain, non-atomic write would leave the new or a torn file)."""
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old content")

    def crash(src, dst):
        assert Path(src).read_text() == "new content"  # the data reached the temp file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        atomic_write_text(target, "new content")
    assert target.read_text() == "old content" and os.listdir(tmp_path) == ["a.txt"]


def test_readers_during_a_write_see_old_or_new_never_a_part(tmp_path: Path):
    import threading

    target = tmp_path / "big.txt"
    old, new = "a" * 2_000_000, "b" * 2_000_000
    atomic_write_text(target, old)
    seen, stop = set(), threading.Event()

    def read():
        while not stop.is_set():
            seen.add(target.read_text()[:1] + str(len(target.read_text())))

    t = threading.Thread(target=read)
    t.start()
    for i in range(20):
        atomic_write_text(target, new if i % 2 == 0 else old)
    stop.set()
    t.join()
    assert seen <= {"a2000000", "b2000000"}


def test_json_is_strict_and_converts_numpy():
    import json

    import numpy as np

    from workbench.core.io import dumps

    text = dumps({"a": np.float32(0.5), "b": float("inf"), "c": np.arange(2), "d": float("nan"), 3: "x"})
    assert json.loads(text) == {"a": 0.5, "b": None, "c": [0, 1], "d": None, "3": "x"}
