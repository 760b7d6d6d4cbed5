"""Notebooks users already run with papermill, run with `workbench run` and with plain `papermill` side by
side: no parameters cell, computed defaults, no kernelspec, old nbformat without cell ids, a notebook
papermill already executed, sys.exit, --cwd, --log-output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from support import run_cli

PAPERMILL = Path(sys.executable).parent / "papermill"


def _write(path: Path, cells: list[str], params: str | None = None, *, kernelspec: bool = True, minor: int = 5,
           ids: bool = True) -> Path:
    nb = nbformat.v4.new_notebook()
    code = [nbformat.v4.new_code_cell(c) for c in cells]
    if params is not None:
        p = nbformat.v4.new_code_cell(params)
        p.metadata["tags"] = ["parameters"]
        code.insert(0, p)
    nb.cells = code
    data = json.loads(nbformat.writes(nb))
    data["nbformat_minor"] = minor
    if not ids:
        for c in data["cells"]:
            c.pop("id", None)
    data["metadata"] = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}} \
        if kernelspec else {}
    path.write_text(json.dumps(data))
    return path


def _papermill(cwd: Path, nb: str, out: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PAPERMILL), nb, out, "--no-progress-bar", *args], cwd=cwd, capture_output=True,
                          text=True)


def _outputs(nb_path: Path) -> str:
    nb = json.loads(Path(nb_path).read_text())
    return "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])


def _run(cwd: Path, nb: str, *args: str) -> tuple[subprocess.CompletedProcess, dict, Path | None]:
    proc = run_cli("run", nb, "--no-progress", *args, cwd=cwd, env={"WORKBENCH_TRACKING": "off"})
    runs = sorted((cwd / "reports" / Path(nb).stem).glob("2*")) if (cwd / "reports").exists() else []
    if not runs:
        return proc, {}, None
    return proc, json.loads((runs[-1] / "run.json").read_text()), runs[-1]


@pytest.mark.slow
def test_no_parameters_cell_no_kernelspec_old_nbformat(workdir):
    """VS Code style: no kernelspec, nbformat 4.0 without cell ids, no parameters cell."""
    _write(workdir / "plain.ipynb", ["x = 6 * 7\nprint('answer', x)"], kernelspec=False, minor=0, ids=False)
    pm = _papermill(workdir, "plain.ipynb", "pm.ipynb", "-k", "python3")
    proc, rec, run = _run(workdir, "plain.ipynb")
    assert pm.returncode == 0 and proc.returncode == 0, proc.stderr
    assert "answer 42" in _outputs(workdir / "pm.ipynb") and "answer 42" in _outputs(run / "notebook.ipynb")
    assert rec["params"] == {} and any("no cell tagged 'parameters'" in n for n in rec["notes"])
    assert any("names no kernel" in n for n in rec["notes"]) and rec["options"]["kernel"] == "python3"
    assert "no cell tagged" in (run / "report.html").read_text()
    refused = run_cli("run", "plain.ipynb", "-p", "x", "1", cwd=workdir)
    assert refused.returncode == 2 and "no cell tagged 'parameters'" in refused.stderr
    assert "runs as it is" in run_cli("params", "plain.ipynb", cwd=workdir).stdout


@pytest.mark.slow
def test_computed_defaults_type_hints_and_multiline_literals_match_papermill(workdir):
    params = ('a = 3  # a number\nname: str = "exp"  # a text with a type hint\nd = a == 3  # computed: a bool\n'
              'out = f"runs/{name}"  # computed: a text\nn = 2 ** 10  # constant arithmetic\n'
              'f = 2  # type: float  a float by comment\nm = helper(a) if False else None  # computed, unknown type\n'
              'grid = [\n    1,\n    2,\n]  # a multi-line list')
    _write(workdir / "c.ipynb", ["print(a, name, d, out, n, f, grid)"], params)
    listing = run_cli("params", "c.ipynb", cwd=workdir).stdout
    assert "d     bool" in listing and "(computed; settable)" in listing and "computed: not settable" in listing
    assert "n     int       1024" in listing and "f     float" in listing and "grid  list" in listing
    # papermill's -p reads only numbers (false stays text); its -y reads YAML, as workbench's -p does
    for pm_args, args in (([], []), (["-y", "{a: 4, d: false, f: 2.0}"], ["-p", "a", "4", "-p", "d", "false",
                                                                           "-p", "f", "2"])):
        pm = _papermill(workdir, "c.ipynb", "pm.ipynb", *pm_args)
        proc, rec, run = _run(workdir, "c.ipynb", *args, "--force")
        assert pm.returncode == 0 and proc.returncode == 0, proc.stderr
        assert _outputs(workdir / "pm.ipynb") == _outputs(run / "notebook.ipynb"), args
        assert "d" not in rec["params"] or args, "a computed default is not injected"
    assert _outputs(run / "notebook.ipynb").startswith("4 exp False runs/exp 1024 2.0 [1, 2]")
    bad = run_cli("run", "c.ipynb", "-p", "m", "1", cwd=workdir)
    assert bad.returncode == 2 and "computed by the notebook" in bad.stderr
    wrong = run_cli("run", "c.ipynb", "-p", "d", "yes-please", cwd=workdir)
    assert wrong.returncode == 2 and "must be bool (computed: a == 3)" in wrong.stderr


@pytest.mark.slow
def test_rerunning_a_papermill_output_replaces_its_injected_cell(workdir):
    _write(workdir / "src.ipynb", ["print('k is', k)"], "k = 1  # a value", ids=False, minor=4)
    assert _papermill(workdir, "src.ipynb", "once.ipynb", "-p", "k", "2").returncode == 0
    proc, rec, run = _run(workdir, "once.ipynb", "-p", "k", "3")
    assert proc.returncode == 0, proc.stderr
    cells = json.loads((run / "notebook.ipynb").read_text())["cells"]
    injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and "k = 3" in "".join(injected[0]["source"])
    assert "k is 3" in _outputs(run / "notebook.ipynb")


@pytest.mark.slow
@pytest.mark.parametrize("code,papermill_rc,status", [("sys.exit(0)", 0, "succeeded"), ("raise SystemExit", 0, "succeeded"),
                                                       ("sys.exit(3)", 1, "failed")])
def test_exit_semantics_match_papermill(workdir, code, papermill_rc, status):
    _write(workdir / "e.ipynb", ["import sys\nprint('before')", code, "print('after')"], "n = 1  # unused")
    pm = _papermill(workdir, "e.ipynb", "pm.ipynb")
    proc, rec, run = _run(workdir, "e.ipynb")
    assert pm.returncode == papermill_rc and rec["status"] == status
    assert proc.returncode == (0 if status == "succeeded" else 1)
    for out in (_outputs(workdir / "pm.ipynb"), _outputs(run / "notebook.ipynb")):
        assert "before" in out and "after" not in out


@pytest.mark.slow
def test_cwd_runs_next_to_the_data_and_the_cache_keys_on_it(workdir):
    for name, rows in (("a", "x\n1\n2\n"), ("b", "x\n10\n20\n")):
        (workdir / name).mkdir()
        (workdir / name / "data.csv").write_text(rows)
    _write(workdir / "sum.ipynb", ["import pandas as pd, workbench\ntotal = int(pd.read_csv(path)['x'].sum())\n"
                                   "workbench.record('total', total)\nprint('total', total)"], 'path = "data.csv"  # input')
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    pm = _papermill(elsewhere, str(workdir / "sum.ipynb"), "pm.ipynb", "--cwd", str(workdir / "a"))
    assert pm.returncode == 0 and "total 3" in _outputs(elsewhere / "pm.ipynb")
    first = run_cli("run", str(workdir / "sum.ipynb"), "--cwd", str(workdir / "a"), "--no-progress", cwd=elsewhere,
                    env={"WORKBENCH_TRACKING": "off"})
    assert first.returncode == 0 and "total=3" in first.stdout, first.stderr
    other = run_cli("run", str(workdir / "sum.ipynb"), "--cwd", str(workdir / "b"), "--no-progress", cwd=elsewhere,
                    env={"WORKBENCH_TRACKING": "off"})
    assert other.returncode == 0 and "reused" not in other.stdout and "total=30" in other.stdout
    again = run_cli("run", str(workdir / "sum.ipynb"), "--cwd", str(workdir / "a"), "--no-progress", cwd=elsewhere,
                    env={"WORKBENCH_TRACKING": "off"})
    assert "reused" in again.stdout
    rec = json.loads(max((elsewhere / "reports" / "sum").glob("*/run.json")).read_text())
    assert f"--cwd {workdir / 'a'}" in rec["rerun_command"]


@pytest.mark.slow
def test_log_output_streams_cell_outputs_without_secrets(workdir):
    _write(workdir / "log.ipynb", ["print('progress line one')", "print('token', api_token)"],
           'api_token = ""  # a secret')
    proc = run_cli("run", "log.ipynb", "-p", "api_token", "s3cr3t-value-xyz", "--log-output", "--no-progress",
                   cwd=workdir, env={"WORKBENCH_TRACKING": "off"})
    assert proc.returncode == 0, proc.stderr
    assert "progress line one" in proc.stderr and "Executing Cell" in proc.stderr
    assert "s3cr3t-value-xyz" not in proc.stderr + proc.stdout and "token ***" in proc.stderr
