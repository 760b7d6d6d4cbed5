"""The environment lock: every distribution, no paths, computed once per process, stored once per content."""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path

from workbench.core import envlock
from workbench.core.envlock import environment_differences, environment_lock, lock_digest, read_environment, store_environment


def test_the_lock_names_every_distribution_and_no_path():
    lock = environment_lock()
    assert set(lock) == {"python", "implementation", "platform", "packages", "editable"}
    for dist in metadata.distributions():
        name = envlock.canonical(dist.metadata["Name"])
        assert name in lock["packages"], name
    assert lock["packages"]["numpy"] == metadata.version("numpy")
    assert lock["packages"]["scikit-learn"] == metadata.version("scikit-learn")
    assert list(lock["packages"]) == sorted(lock["packages"])
    assert lock["editable"] == ["workbench"]  # this checkout is installed in editable mode: named, no path
    text = json.dumps(lock)
    assert os.sep + "work" not in text and str(Path.home()) not in text and "file:" not in text


def test_the_lock_is_computed_once_per_process_until_sys_path_changes(monkeypatch, tmp_path):
    environment_lock()
    calls = []
    real = metadata.distributions
    monkeypatch.setattr(envlock.metadata, "distributions", lambda: calls.append(1) or real())
    assert environment_lock() is environment_lock() and calls == []
    monkeypatch.syspath_prepend(str(tmp_path))  # an install changes a sys.path folder: computed again
    environment_lock()
    assert calls == [1]


def test_a_lock_is_stored_once_and_read_back_only_when_intact(tmp_path: Path):
    lock = {"python": "3.11.7", "implementation": "cpython", "platform": "linux-x86_64",
            "packages": {"a": "1", "b": "2"}, "editable": []}
    digest = store_environment(tmp_path, lock)
    path = tmp_path / ".envs" / f"{digest}.json"
    assert digest == lock_digest(lock) and path.is_file() and read_environment(tmp_path, digest) == lock
    os.utime(path, (1, 1))
    inode = path.stat().st_ino
    assert store_environment(tmp_path, dict(lock)) == digest
    assert path.stat().st_ino == inode and len(list(path.parent.iterdir())) == 1  # not written again
    assert path.stat().st_mtime > 1  # touched: in use
    assert store_environment(tmp_path, {**lock, "packages": {"a": "1", "b": "3"}}) != digest
    path.write_text(json.dumps({**lock, "packages": {"a": "9"}}))  # edited by hand: not what its name says
    assert read_environment(tmp_path, digest) is None
    assert read_environment(tmp_path, "../../etc/passwd") is None and read_environment(tmp_path, "0" * 64) is None


def test_differences_name_each_distribution_and_the_interpreter():
    old = {"python": "3.11.7", "platform": "linux-x86_64", "packages": {"a": "1", "b": "2", "c": "3", "e": "1"},
           "editable": ["e"]}
    new = {"python": "3.11.9", "platform": "linux-x86_64", "packages": {"a": "1", "b": "2.1", "d": "4", "e": "1"},
           "editable": []}
    assert environment_differences(old, new) == ["python 3.11.7 -> 3.11.9", "b 2 -> 2.1", "c 3 removed", "d 4 added",
                                                 "e no longer installed in editable mode"]
    assert environment_differences(new, new) == []


def test_gc_frees_the_locks_no_run_names_and_keeps_recent_ones(tmp_path: Path):
    from workbench.runner.retention import GcPlan, run_gc

    used, unused, fresh = (store_environment(tmp_path, {"packages": {"a": v}}) for v in ("1", "2", "3"))
    for digest in (used, unused):
        os.utime(tmp_path / ".envs" / f"{digest}.json", (1, 1))  # stored long ago
    run = tmp_path / "nb" / "20260101T000000000Z-abcdef"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "status": "succeeded", "environment": used}))
    run_gc(tmp_path, GcPlan())
    assert sorted(p.stem for p in (tmp_path / ".envs").iterdir()) == sorted([used, fresh])
    (run / "run.json").write_text("{not json")
    os.utime(tmp_path / ".envs" / f"{fresh}.json", (1, 1))
    run_gc(tmp_path, GcPlan())  # a record it cannot read might name any lock: none is freed
    assert sorted(p.stem for p in (tmp_path / ".envs").iterdir()) == sorted([used, fresh])
