"""The run cache: identical runs are reused; any change to code, parameters or input data reruns."""

import json
from pathlib import Path

import nbformat
import pytest
from support import run_cli


def _last(workdir: Path) -> dict:
    recs = [json.loads(p.read_text()) for p in (workdir / "reports/sum").glob("*/run.json")]
    return max(recs, key=lambda r: r["run_id"])


@pytest.mark.slow
def test_identical_run_is_reused_and_any_change_reruns(project: Path):
    first = run_cli("run", "sum.ipynb", "--no-progress", cwd=project)
    assert first.returncode == 0, first.stderr
    r1 = _last(project)
    assert r1["metrics"] == {"total": 12.0} and r1["cached_from"] is None and r1["cache_key"]

    second = run_cli("run", "sum.ipynb", "--no-progress", cwd=project)
    assert second.returncode == 0 and f"reused run {r1['run_id']}" in second.stdout
    r2 = _last(project)
    assert r2["cached_from"] == r1["run_id"] and r2["metrics"] == r1["metrics"] and r2["run_id"] != r1["run_id"]
    assert (Path(project / "reports/sum" / r2["run_id"] / "report.html")).read_bytes() == \
        (project / "reports/sum" / r1["run_id"] / "report.html").read_bytes()
    listing = run_cli("runs", cwd=project).stdout.splitlines()
    assert listing[1].startswith(r2["run_id"]) and "succeeded (reused)" in listing[1]
    assert "succeeded (reused)" not in listing[2]
    assert f"reused {r1['run_id']}" in (project / "reports/index.html").read_text()

    forced = run_cli("run", "sum.ipynb", "--no-progress", "--force", cwd=project)
    assert forced.returncode == 0 and "reused" not in forced.stdout and _last(project)["cached_from"] is None

    param = run_cli("run", "sum.ipynb", "-p", "factor", "3", "--no-progress", cwd=project)
    assert "reused" not in param.stdout and _last(project)["metrics"] == {"total": 18.0}

    (project / "table.csv").write_text("x\n1\n2\n4\n")  # one byte of the input
    data = run_cli("run", "sum.ipynb", "--no-progress", cwd=project)
    assert "reused" not in data.stdout and _last(project)["metrics"] == {"total": 14.0}

    n = nbformat.read(str(project / "sum.ipynb"), as_version=4)
    n.cells[2].source = n.cells[2].source.replace("* factor", "* factor + 1")
    nbformat.write(n, str(project / "sum.ipynb"))
    code = run_cli("run", "sum.ipynb", "--no-progress", cwd=project)
    assert "reused" not in code.stdout and _last(project)["metrics"] == {"total": 15.0}


