"""End-to-end: the real CLI, papermill kernels, nbconvert export, Chromium rendering."""

import hashlib
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support import make_notebook, remote_references, render_dom, run_cli

PARAMS = 'n = 10  # number of points\nscale = 2.0  # y scale\nlabel = "demo"  # chart title\nfail = False  # raise on purpose'
CELLS = (
    "import plotly.express as px\nimport ipywidgets as widgets\nimport workbench",
    "fig = px.line(x=list(range(n)), y=[i * scale for i in range(n)], title=label)\nfig.show()",
    "widgets.VBox([widgets.IntSlider(value=n, description='points'),\n"
    "              widgets.Dropdown(options=['alpha', 'beta'], value='beta', description='pick')])",
    "if fail:\n    raise ValueError('boom on purpose')\nworkbench.record('total', sum(i * scale for i in range(n)))\n"
    "workbench.record('label', label)",
    "print('done')",
)


@pytest.fixture
def demo(workdir: Path) -> Path:
    return make_notebook(workdir / "demo.ipynb", PARAMS, *CELLS, markdown="# Demo notebook")


def _runs(workdir: Path, name: str = "demo") -> list[Path]:
    return sorted(p for p in (workdir / "reports" / name).glob("*") if p.is_dir())


@pytest.mark.slow
@pytest.mark.browser
def test_run_records_params_metrics_and_renders_offline(workdir, demo):
    proc = run_cli("run", "demo.ipynb", "-p", "n", "5", "-p", "label", "my chart", "--no-progress", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert "demo succeeded" in proc.stdout and "total=20" in proc.stdout
    (run,) = _runs(workdir)
    rec = json.loads((run / "run.json").read_text())
    assert rec["status"] == "succeeded"
    assert rec["params"] == {"n": 5, "scale": 2.0, "label": "my chart", "fail": False}
    assert rec["metrics"] == {"total": 20.0, "label": "my chart"}
    assert rec["run_id"] == run.name and rec["duration_s"] > 0 and rec["ended"] >= rec["started"]
    assert rec["packages"]["papermill"] and "git" in rec
    assert rec["rerun_command"] == "workbench run demo.ipynb -p n 5 -p label 'my chart'"
    assert (run / "notebook.ipynb").exists() and (run / "artifacts").is_dir()
    assert not list(run.glob(".*")), "no temporary files left in the run folder"

    html = (run / "report.html").read_text()
    assert html.count("Plotly.newPlot") >= 1
    assert html.count("define(") <= html.count("plotly.js") + 5  # plotly.js inlined once, not per chart
    assert not remote_references(html), "the report must not load anything from another host"
    index = (workdir / "reports" / "index.html").read_text()
    assert rec["run_id"] in index
    assert (workdir / "reports" / "demo" / "latest.html").read_text() == html.replace('"../../.assets/', '"../.assets/')
    assert 'data-wb-asset' in html and len(html) < 1_000_000, "plotly.js is linked from reports/.assets, not copied"
    nb_text = (run / "notebook.ipynb").read_text()
    assert "Plotly.newPlot" not in nb_text and "report.html" in nb_text, "the figures are kept once, in the report"
    export = run_cli("export", rec["run_id"], "-o", "mail/report.html", cwd=workdir)
    assert export.returncode == 0, export.stderr
    whole = (workdir / "mail" / "report.html").read_text()
    assert "data-wb-asset" not in whole and "* plotly.js" in whole and not remote_references(whole)

    rerun = subprocess.run(rec["rerun_command"].replace("workbench run", f"{sys.executable} -m workbench.cli run", 1)
                           + " --no-progress --force", shell=True, cwd=workdir, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    second = json.loads((_runs(workdir)[-1] / "run.json").read_text())
    assert second["params"] == rec["params"] and second["metrics"] == rec["metrics"]
    assert second["cached_from"] is None and second["run_id"] != rec["run_id"], "the rerun executed"
    # browser checks last: everything above holds without a browser
    dom = render_dom(run / "report.html")
    assert 'class="main-svg"' in dom, "plotly did not draw offline"
    assert 'class="main-svg"' in render_dom(workdir / "mail" / "report.html"), "the exported file draws on its own"
    assert 'data-widget="IntSlider"' in dom and 'data-widget="Dropdown"' in dom
    assert "<option selected=\"\">beta</option>" in dom
    assert "workbench-header" in dom and "succeeded" in dom and "total" in dom


@pytest.mark.slow
def test_failing_run_is_marked_and_earlier_reports_are_untouched(workdir, demo):
    assert run_cli("run", "demo.ipynb", "--no-progress", cwd=workdir).returncode == 0
    (good,) = _runs(workdir)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in good.iterdir() if p.is_file()}
    latest_before = (workdir / "reports/demo/latest.html").read_bytes()

    proc = run_cli("run", "demo.ipynb", "-p", "fail", "true", "--no-progress", cwd=workdir)
    assert proc.returncode == 1
    summary = proc.stderr.strip().splitlines()[-1]
    assert "demo failed at cell" in summary and "ValueError: boom on purpose" in summary and "report.html" in summary
    bad = [r for r in _runs(workdir) if r != good][0]
    rec = json.loads((bad / "run.json").read_text())
    assert rec["status"] == "failed" and rec["error"]["ename"] == "ValueError"
    html = (bad / "report.html").read_text()
    assert "wb-error-box" in html and 'href="#papermill-error-cell"' in html and 'id="papermill-error-cell"' in html
    assert "boom on purpose" in html

    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in good.iterdir() if p.is_file()}
    assert after == before
    assert (workdir / "reports/demo/latest.html").read_bytes() == latest_before, "latest is the newest succeeded"
    listing = run_cli("runs", "--status", "failed", cwd=workdir)
    assert rec["run_id"] in listing.stdout and good.name not in listing.stdout


@pytest.mark.parametrize("args,message", [
    (["-p", "nn", "3"], "unknown parameter 'nn'"),
    (["-p", "n", "3.5"], "parameter 'n' of demo.ipynb must be int"),
    (["-p", "fail", "maybe"], "parameter 'fail' of demo.ipynb must be bool"),
])
def test_bad_parameters_fail_before_any_run(workdir, demo, args, message):
    proc = run_cli("run", "demo.ipynb", *args, cwd=workdir)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "valid parameters: n, scale, label, fail" in proc.stderr or "must be" in proc.stderr
    assert not (workdir / "reports").exists()


def test_missing_notebook_and_missing_parameters_cell(workdir):
    proc = run_cli("run", "nope.ipynb", cwd=workdir)
    assert proc.returncode == 2 and "'nope.ipynb' not found" in proc.stderr
    nb = make_notebook(workdir / "plain.ipynb", "x = 1  # a value")
    import nbformat
    n = nbformat.read(str(nb), as_version=4)
    n.cells[0].metadata.pop("tags")
    nbformat.write(n, str(nb))
    proc = run_cli("run", "plain.ipynb", "-p", "x", "2", cwd=workdir)
    assert proc.returncode == 2 and "no cell tagged 'parameters'" in proc.stderr
    assert not (workdir / "reports").exists()


def test_parameters_file_and_params_command(workdir, demo):
    (workdir / "p.yaml").write_text("n: 3\nlabel: from file\n")
    proc = run_cli("params", "demo.ipynb", cwd=workdir)
    assert proc.returncode == 0
    assert "n      int    10       number of points" in proc.stdout
    (workdir / "bad.yaml").write_text("- 1\n- 2\n")
    proc = run_cli("run", "demo.ipynb", "-f", "bad.yaml", cwd=workdir)
    assert proc.returncode == 2 and "must hold a mapping" in proc.stderr


@pytest.mark.slow
def test_parameters_file_values_reach_the_kernel_and_code_can_be_hidden(workdir, demo):
    (workdir / "p.yaml").write_text("n: 3\nlabel: from file\n")
    proc = run_cli("run", "demo.ipynb", "-f", "p.yaml", "-p", "n", "4", "-p", "scale", "-1e0", "-p", "label", "x",
                   "-r", "label", '"as typed"', "--hide-code", "--no-progress", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    (run,) = _runs(workdir)
    rec = json.loads((run / "run.json").read_text())
    assert rec["params"]["n"] == 4 and rec["params"]["scale"] == -1.0
    assert rec["params"]["label"] == rec["metrics"]["label"] == '"as typed"', "-r: the text unparsed, over -p and -f"
    assert rec["metrics"]["total"] == -6.0
    html = (run / "report.html").read_text()
    assert "raise ValueError" not in html, "code cells are hidden"
    assert "--hide-code" in rec["rerun_command"]


@pytest.mark.slow
def test_four_concurrent_runs_give_four_records_and_one_consistent_index(workdir, demo):
    with ThreadPoolExecutor(4) as pool:
        procs = list(pool.map(lambda n: run_cli("run", "demo.ipynb", "-p", "n", str(n), "--no-progress", cwd=workdir),
                              [2, 3, 4, 5]))
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [p.stderr for p in procs]
    runs = _runs(workdir)
    assert len(runs) == 4 and len({r.name for r in runs}) == 4
    totals = sorted(json.loads((r / "run.json").read_text())["metrics"]["total"] for r in runs)
    assert totals == [2.0, 6.0, 12.0, 20.0]
    index = (workdir / "reports" / "index.html").read_text()
    assert all(r.name in index for r in runs) and index.count("<tr>") == 5
    listing = run_cli("runs", cwd=workdir).stdout.splitlines()
    assert len(listing) == 5 and listing[1].split()[0] == runs[-1].name  # newest first
    assert not list((workdir / "reports").rglob("*.tmp"))
    import sqlite3

    with sqlite3.connect(workdir / "reports" / ".runs.sqlite") as con:  # indexed by the runs themselves
        indexed = dict(con.execute("select r.run_id, m.num from runs r join metrics m on m.folder = r.folder "
                                   "where m.key = 'total' and r.status = 'succeeded'").fetchall())
    assert indexed == {r.name: json.loads((r / "run.json").read_text())["metrics"]["total"] for r in runs}


@pytest.mark.slow
def test_notebooks_stay_runnable_with_plain_papermill(workdir, demo):
    from workbench.core.journal import read_records

    papermill = Path(sys.executable).parent / "papermill"
    proc = subprocess.run([str(papermill), "demo.ipynb", "out.ipynb", "-p", "n", "3", "--no-progress-bar"],
                          cwd=workdir, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert read_records(workdir / "out.ipynb") == {"total": 6.0, "label": "demo"}
    assert not (workdir / "reports").exists()


@pytest.mark.slow
def test_two_runs_at_once_use_their_own_ipc_sockets(workdir):
    """Kernels talk over IPC sockets named per run (no TCP ports to race for)."""
    make_notebook(workdir / "ipc.ipynb", "n = 1  # unused",
                  "import ipykernel, json, workbench\ninfo = ipykernel.get_connection_info(unpack=True)\n"
                  "workbench.record('transport', info['transport'])\nworkbench.record('ip', info['ip'])")
    with ThreadPoolExecutor(2) as pool:
        procs = list(pool.map(lambda i: run_cli("run", "ipc.ipynb", "-p", "n", str(i), "--no-progress", cwd=workdir,
                                                env={"WORKBENCH_TRACKING": "off"}), [1, 2]))
    assert [p.returncode for p in procs] == [0, 0]
    recs = [json.loads((d / "run.json").read_text()) for d in _runs(workdir, "ipc")]
    assert [r["metrics"]["transport"] for r in recs] == ["ipc", "ipc"]
    for r in recs:
        assert r["run_id"] in r["metrics"]["ip"], "the socket path names the run"
    assert recs[0]["metrics"]["ip"] != recs[1]["metrics"]["ip"]
