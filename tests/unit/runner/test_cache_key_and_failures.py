"""The run cache key follows the keyed run options and the input data; a failing cell still gets its marked
report and a ``failed`` record (the papermill step replaced by a stand-in: no kernel, unit-level)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import nbformat
import pytest

from workbench.errors import RunFailedError
from workbench.runner import _kernel
from workbench.runner.cache import cache_key, data_fingerprints
from workbench.runner.execute import run_notebook
from workbench.runner.options import RunOptions
from workbench.runner.plan import plan_run


def _key(project: Path, params=None, **options) -> str:
    options.setdefault("reports", str(project / "reports"))
    options.setdefault("cwd", str(project))
    return plan_run(project / "sum.ipynb", params or {}, RunOptions(**options)).key


def test_keyed_run_options_change_the_key_and_the_others_do_not(project: Path, tmp_path_factory):
    base = _key(project)
    assert _key(project) == base
    for unkeyed in (dict(reports=str(project / "elsewhere")), dict(timeout=30.0), dict(log_output=True),
                    dict(progress=False), dict(force=True)):
        assert _key(project, **unkeyed) == base, unkeyed
    assert _key(project, hide_code=True) != base
    assert _key(project, trust_html=True) != base  # a sanitized report is not a trusted one
    other = tmp_path_factory.mktemp("other")  # another working folder, same file content
    (other / "table.csv").write_bytes((project / "table.csv").read_bytes())
    assert _key(project, cwd=str(other)) != base
    keyed = RunOptions(hide_code=True, cwd=str(project)).keyed("python3")
    assert keyed == {"hide_code": True, "kernel": "python3", "cwd": str(project), "trust_html": False}
    args = ("d", {"a": 1}, {}, {"p": "1"})
    assert cache_key(*args, RunOptions().keyed("python3")) != cache_key(*args, RunOptions().keyed("other-kernel"))
    assert cache_key(*args, {"hide_code": False}) != cache_key(*args, {"hide_code": True})


def test_input_data_changes_the_key(project: Path):
    base = _key(project)
    assert _key(project, {"factor": 3}) != base
    (project / "table.csv").write_text("x\n1\n2\n4\n")  # same size, other bytes
    changed = _key(project)
    assert changed != base
    (project / "table.csv").write_text("x\n1\n2\n3\n")
    assert _key(project) == base  # content, not time
    (project / "copy.csv").write_text("x\n1\n2\n3\n")
    assert _key(project, {"path": "copy.csv"}) != base  # another parameter value
    (project / "imgs").mkdir()
    (project / "imgs" / "a.png").write_bytes(b"\x89PNG")
    folder = _key(project, {"path": "imgs"})
    (project / "imgs" / "b.png").write_bytes(b"\x89PNG")
    assert _key(project, {"path": "imgs"}) != folder  # a file added to a folder
    args = ("d", {"a": 1})
    assert cache_key(*args, {"a": "sha256:1"}, {"p": "1"}) != cache_key(*args, {"a": "sha256:2"}, {"p": "1"})
    fp = data_fingerprints({"data": "telco_churn", "more": ["table.csv"], "opts": {"f": "table.csv"}}, cwd=project)
    assert set(fp) == {"data", "more[0]", "opts.f"} and fp["more[0]"] == fp["opts.f"]


def _fake_papermill(prepared: Path, output: Path, how) -> None:
    """What papermill does when the last cell raises: outputs up to it, the error marked, then it raises."""
    from papermill.execute import raise_for_execution_errors

    nb = nbformat.read(str(prepared), as_version=4)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = i + 1
    nb.cells[-1].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="boom on purpose",
                                                   traceback=["ValueError: boom on purpose"])]
    raise_for_execution_errors(nb, str(output))


def test_a_failing_cell_still_writes_its_marked_report_and_a_failed_record(project, monkeypatch):
    monkeypatch.setenv("WORKBENCH_TRACKING", "off")
    monkeypatch.setattr(_kernel, "start_kernel", lambda *a, **kw: None)
    done = threading.Thread(target=lambda: None)
    done.start()
    monkeypatch.setattr(_kernel, "stop_in_background", lambda km: done)
    monkeypatch.setattr(_kernel, "_papermill", _fake_papermill)
    with pytest.raises(RunFailedError, match=r"sum failed at cell 3 \(In \[4\]\): ValueError: boom on purpose"):
        run_notebook(project / "sum.ipynb", {}, RunOptions(reports=str(project / "reports"), cwd=str(project)))
    (run,) = [p for p in (project / "reports" / "sum").iterdir() if p.is_dir()]
    rec = json.loads((run / "run.json").read_text())
    assert rec["status"] == "failed" and rec["error"]["ename"] == "ValueError" and rec["pid"] is None
    assert rec["error"]["evalue"] == "boom on purpose" and rec["error"]["exec_count"] == 4  # after the injected cell
    html = (run / "report.html").read_text()
    assert 'wb-status-failed' in html and "wb-error-box" in html and "boom on purpose" in html
    assert 'href="#papermill-error-cell"' in html and 'id="papermill-error-cell"' in html
    saved = nbformat.read(str(run / "notebook.ipynb"), as_version=4)
    assert saved.cells[-1].outputs[0]["ename"] == "ValueError"
    assert not (project / "reports" / "sum" / "latest.html").exists()  # latest is the newest succeeded run
