"""``workbench rerun``: environment locks stored once, the notebook version from the file or from git,
environment differences, metrics old vs new. Real papermill runs of a small notebook in a temp git repo."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support import make_notebook, run_cli

from workbench.core.envlock import environment_lock, lock_digest, read_environment
from workbench.core.runs import read_record
from workbench.errors import WorkbenchError
from workbench.runner import RunOptions, run_notebook
from workbench.runner.rerun import metric_rows, prepare_rerun

CODE = "import pandas as pd, workbench\nworkbench.record('total', float(pd.read_csv(path)['x'].sum() * factor))"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git repo with a committed notebook summing a CSV column, run once (factor 3: total 18)."""
    root = tmp_path_factory.mktemp("rerun")
    (root / "table.csv").write_text("x\n1\n2\n3\n")
    make_notebook(root / "nb" / "sum.ipynb", 'path = "table.csv"\nfactor = 2', CODE)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "notebook")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "disabled")
        mp.chdir(root)
        rec = run_notebook(Path("nb/sum.ipynb"), {"factor": 3}, RunOptions(progress=False))
    assert rec.metrics == {"total": 18.0} and rec.git["commit"] == git(root, "rev-parse", "HEAD")
    return root


@pytest.fixture
def here(repo: Path, monkeypatch) -> Path:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    return repo


def first_run(repo: Path):
    return read_record(sorted((repo / "reports" / "sum").glob("*/run.json"))[0])


def test_rerun_of_an_unchanged_notebook_is_a_new_run_with_the_same_result_and_one_stored_environment(here):
    old = first_run(here)
    assert old.code_digest and old.notebook_sha256 and old.environment
    assert read_environment("reports", old.environment) == environment_lock()
    rerun = prepare_rerun("reports", old.run_id[:20], progress=False)
    assert rerun.params == {"factor": 3} and rerun.source.revision is None and "unchanged" in rerun.origin
    assert rerun.differences == [] and rerun.notes == []
    new = rerun.run()
    assert new.run_id != old.run_id and new.rerun_of == old.run_id and new.cached_from is None  # executed
    assert new.metrics == old.metrics and new.params == old.params
    assert new.environment == old.environment
    assert [p.name for p in (here / "reports" / ".envs").iterdir()] == [f"{old.environment}.json"]
    assert json.loads((new.folder.record).read_text())["rerun_of"] == old.run_id


def test_a_changed_notebook_reruns_from_the_recorded_commit(here):
    old = first_run(here)
    nb = here / "nb" / "sum.ipynb"
    text = nb.read_text()
    nb.write_text(text.replace("* factor", "* factor * 10"))  # what runs now would record 180
    try:
        rerun = prepare_rerun("reports", old.run_id, progress=False)
        assert rerun.source.revision == old.git["commit"] and "git commit" in rerun.origin
        assert rerun.source.code_digest == old.code_digest
        new = rerun.run()
    finally:
        nb.write_text(text)
    assert new.metrics == {"total": 18.0} and new.rerun_of == old.run_id
    assert new.git == {"commit": old.git["commit"], "dirty": False} and new.notebook == "nb/sum.ipynb"
    assert new.folder.path.resolve().parent == old.folder.path.parent  # the same notebook's folder, not a temp name


def test_a_version_that_was_never_committed_is_a_clear_error(here):
    nb = here / "nb" / "sum.ipynb"
    text = nb.read_text()
    nb.write_text(text.replace("* factor", "* factor * 2"))
    try:
        rec = run_notebook(Path("nb/sum.ipynb"), {"factor": 1}, RunOptions(progress=False))
        assert rec.git["dirty"] is True
        nb.write_text(text)
        with pytest.raises(WorkbenchError, match="holds another version than run .* ran .*uncommitted"):
            prepare_rerun("reports", rec.run_id)
        nb.unlink()
        with pytest.raises(WorkbenchError, match="is gone, and commit"):
            prepare_rerun("reports", rec.run_id)
    finally:
        nb.write_text(text)


def test_environment_differences_against_the_recorded_lock(here):
    old = first_run(here)
    lock = json.loads(json.dumps(environment_lock()))
    lock["packages"]["numpy"] = "0.0.1"
    lock["packages"]["gone-pkg"] = "1.0"
    lock["python"] = "3.10.0"
    digest = lock_digest(lock)
    (here / "reports" / ".envs" / f"{digest}.json").write_text(json.dumps(lock))
    data = json.loads(old.folder.record.read_text())
    try:
        old.folder.record.write_text(json.dumps({**data, "environment": digest}))
        rerun = prepare_rerun("reports", old.run_id)
        now = environment_lock()
        assert rerun.differences == [f"python 3.10.0 -> {now['python']}", "gone-pkg 1.0 removed",
                                     f"numpy 0.0.1 -> {now['packages']['numpy']}"]
        old.folder.record.write_text(json.dumps({**data, "environment": "0" * 64}))  # the lock file is gone
        rerun = prepare_rerun("reports", old.run_id)
        assert rerun.differences == [] and "missing from reports/.envs" in rerun.notes[0]
        data_old = {**data, "environment": None, "packages": {**data["packages"], "numpy": "0.0.2"}}
        old.folder.record.write_text(json.dumps(data_old))  # an old record: only the key packages
        rerun = prepare_rerun("reports", old.run_id)
        assert rerun.differences == [f"numpy 0.0.2 -> {now['packages']['numpy']}"]
    finally:
        old.folder.record.write_text(json.dumps(data))


def test_bad_input_is_one_clear_error_before_any_work(here):
    with pytest.raises(WorkbenchError, match="no run 'nope'"):
        prepare_rerun("reports", "nope")
    old = first_run(here)
    data = json.loads(old.folder.record.read_text())
    try:
        old.folder.record.write_text(json.dumps({k: v for k, v in data.items() if k != "params"}))
        with pytest.raises(WorkbenchError, match="holds no parameters"):
            prepare_rerun("reports", old.run_id)
        old.folder.record.write_text(json.dumps({**data, "given_params": {"factor": 3, "api_key": "***"}}))
        with pytest.raises(WorkbenchError, match=r"secret parameter\(s\) api_key.*-p api_key VALUE"):
            prepare_rerun("reports", old.run_id).check()
        old.folder.record.write_text(json.dumps({**data, "notebook": "nb/gone.ipynb", "git": {"commit": None}}))
        with pytest.raises(WorkbenchError, match="nb/gone.ipynb is gone and run .* names no git commit"):
            prepare_rerun("reports", old.run_id)
    finally:
        old.folder.record.write_text(json.dumps(data))


def test_metric_rows_old_vs_new():
    rows = metric_rows({"auc": 0.8, "n": 10, "name": "a", "only_old": 1.0, "ok": True},
                       {"auc": 0.85, "n": 10, "name": "b", "ok": True, "only_new": 2})
    assert rows == [("auc", 0.8, 0.85, pytest.approx(0.05)), ("n", 10, 10, 0), ("name", "a", "b", None),
                    ("only_old", 1.0, None, None), ("ok", True, True, None), ("only_new", None, 2, None)]


def test_cli_prints_environment_warnings_first_and_each_metric_old_vs_new(here):
    old = first_run(here)
    (here / "table.csv").write_text("x\n1\n2\n4\n")  # the data changed since: 21 instead of 18
    try:
        proc = run_cli("rerun", old.run_id, "--no-progress", cwd=here, env={"WANDB_MODE": "disabled"})
    finally:
        (here / "table.csv").write_text("x\n1\n2\n3\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"rerunning {old.run_id}: nb/sum.ipynb (unchanged since the run)" in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-3].split() == ["METRIC", "OLD", "NEW", "DELTA"]
    assert lines[-2].split() == ["total", "18", "21", "+3"] and lines[-1] == "1 of 1 metrics differ"
    bad = run_cli("rerun", "nope", cwd=here)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "workbench: error: no run 'nope' under 'reports'; `workbench runs` lists them"]
