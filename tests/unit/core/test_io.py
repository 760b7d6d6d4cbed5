"""Atomic writes, strict JSON, hashes."""

import os
from pathlib import Path

import pytest

from workbench.core.io import atomic_write_text


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")

    class Boom(str):
        def encode(self, *a, **k):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write_text(target, Boom("new"))
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]
