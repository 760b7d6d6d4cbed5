"""A notebook is read once: the source feeds the signature, the kernel, the cache digest and the injection."""

import builtins
import json
import pathlib
from pathlib import Path

import nbformat
import pytest
from support import make_notebook

from workbench.errors import NotebookNotFoundError
from workbench.runner._kernel import inject_parameters
from workbench.runner.plan import plan_run
from workbench.runner.source import NotebookSource


def test_source_holds_signature_kernel_and_code_digest(tmp_path: Path):
    nb = make_notebook(tmp_path / "nb.ipynb", 'n = 2  # a number\nlabel = "x"  # a text', "print(n)")
    src = NotebookSource.load(nb)
    assert src.has_parameters_cell and [p.name for p in src.parameters] == ["n", "label"]
    assert src.kernel == "python3" and src.name == "nb.ipynb" and len(src.code_digest) == 64
    n = nbformat.read(str(nb), as_version=4)
    n.cells[1].outputs = [nbformat.v4.new_output("stream", text="noise")]
    n.metadata.pop("kernelspec")
    nbformat.write(n, str(nb))
    again = NotebookSource.load(nb)
    assert again.code_digest == src.code_digest and again.kernel is None
    assert NotebookSource.load(again) is again


def test_a_run_plan_and_its_injection_read_the_notebook_file_once(tmp_path: Path, monkeypatch):
    nb = make_notebook(tmp_path / "nb.ipynb", 'n = 2  # a number\napi_key = ""  # a secret', "print(n)")
    reads: list[str] = []
    real_read_text, real_open = pathlib.Path.read_text, builtins.open

    def read_text(self, *a, **k):
        reads.append(str(self))
        return real_read_text(self, *a, **k)

    def spy_open(file, *a, **k):
        reads.append(str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(pathlib.Path, "read_text", read_text)
    monkeypatch.setattr(builtins, "open", spy_open)
    plan = plan_run(nb, {"n": 3, "api_key": "s3cret-value"})
    injected = inject_parameters(plan.source.node(), plan.full, plan.secrets, plan.kernel)
    assert reads.count(str(nb)) == 1, reads
    cell = next(c for c in injected.cells if "injected-parameters" in c.metadata["tags"])
    assert "n = 3" in cell.source and "s3cret-value" not in cell.source
    assert "api_key = _wb_context.secret('api_key')" in cell.source
    assert injected.metadata.papermill["parameters"] == {"n": 3, "api_key": "***"}
    assert len(plan.source.data["cells"]) == 2 and "".join(plan.source.data["cells"][0]["source"]).startswith("n = 2"), \
        "the source's JSON is never modified"


def test_node_of_an_old_notebook_gets_papermills_metadata(tmp_path: Path):
    """nbformat 4.0 without cell ids and without tags: the node is what papermill's loader would give."""
    data = {"nbformat": 4, "nbformat_minor": 0, "metadata": {},
            "cells": [{"cell_type": "code", "source": ["x = ", "1"], "metadata": {}, "outputs": [],
                       "execution_count": None}]}
    (tmp_path / "old.ipynb").write_text(json.dumps(data))
    node = NotebookSource.load(tmp_path / "old.ipynb").node()
    assert node.nbformat_minor >= 5 and node.cells[0].source == "x = 1" and node.cells[0].id
    assert node.cells[0].metadata.tags == [] and "papermill" in node.metadata
    assert inject_parameters(node, {}, [], "python3") is node, "nothing to inject: the notebook as it is"


@pytest.mark.parametrize("name,content,message", [
    ("missing.ipynb", None, "not found"), ("x.txt", "{}", "not a notebook: expected a .ipynb"),
    ("broken.ipynb", "{not json", "not a readable notebook"), ("nocells.ipynb", "{}", "no 'cells' list"),
    ("v3.ipynb", json.dumps({"nbformat": 3, "cells": []}), "notebook format 3"),
])
def test_load_errors_name_the_problem(tmp_path: Path, name, content, message):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(NotebookNotFoundError, match=message):
        NotebookSource.load(tmp_path / name)
