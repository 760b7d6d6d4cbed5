"""End-to-end: notebooks/explore.ipynb through the real CLI, reports opened in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from support import REPO, only_run, render_dom, run_cli

NOTEBOOK = REPO / "notebooks" / "explore.ipynb"


def test_notebook_is_committed_clean_with_a_parameters_signature():
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    proc = run_cli("params", str(NOTEBOOK), cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for name in ("dataset", "target", "max_rows_for_heavy_stats", "seed", "engine", "max_rows", "scheduler"):
        assert name in proc.stdout


@pytest.fixture(scope="module")
def telco_run(tmp_path_factory) -> tuple[Path, dict, str]:
    workdir = tmp_path_factory.mktemp("telco")
    proc = run_cli("run", str(NOTEBOOK), "-p", "dataset", "telco_churn", "-p", "target", "churn", cwd=workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    d = only_run(workdir, "explore")
    return d, json.loads((d / "run.json").read_text())


@pytest.fixture(scope="module")
def telco_dom(telco_run) -> str:
    return render_dom(telco_run[0] / "report.html")


@pytest.mark.slow
def test_telco_run_records_headline_metrics(telco_run):
    _, rec = telco_run
    m = rec["metrics"]
    assert rec["status"] == "succeeded"
    assert (m["rows"], m["columns"], m["duplicate_rows"], m["alerts"]) == (7043, 21, 0, 1)
    assert m["missing_fraction"] == pytest.approx(11 / (7043 * 21), rel=1e-6)
    assert m["target_rate"] == pytest.approx(1869 / 7043, rel=1e-6)


@pytest.mark.slow
@pytest.mark.browser
def test_telco_report_renders_offline_with_plots_and_static_explorer(telco_run, telco_dom):
    d, dom = telco_run[0], telco_dom
    assert dom.count('class="main-svg"') >= 40          # section figures + two per explorer pane
    assert 'class="wb-widget"' in dom and dom.count("<details") == 21  # one explorer pane per column
    assert "Month-to-month" in dom and "id-like" in dom
    assert "wb-note-error" not in dom and "Traceback" not in dom
    assert (d / "report.html").stat().st_size < 8 * 2 ** 20  # histograms pre-binned, plotly.js once
    assert (d / "report.html").read_text().count("PlotlyConfig = {MathJaxConfig") == 1


@pytest.mark.slow
@pytest.mark.browser
def test_csv_with_awkward_columns_and_multiclass_target(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({
        "id": [f"u{i}" for i in range(n)],
        "signup": pd.date_range("2023-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "âge 年齢": rng.integers(18, 80, n),
        "Plan": rng.choice(["basic", "pro", "team"], n),
        "plan ": rng.choice(["basic", "pro", "team"], n),
        "nothing": np.nan,
        "always": "same",
        "spend": rng.lognormal(3, 1, n),
        "segment": rng.choice(["a", "b", "c"], n),
    })
    csv = tmp_path / "customers.csv"
    df.to_csv(csv, index=False)
    proc = run_cli("run", str(NOTEBOOK), "-p", "dataset", str(csv), "-p", "target", "segment", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    d = only_run(tmp_path, "explore")
    rec = json.loads((d / "run.json").read_text())
    assert rec["metrics"]["rows"] == n and rec["metrics"]["columns"] == 9
    assert "target_rate" not in rec["metrics"]  # 3 classes: no single rate
    dom = render_dom(d / "report.html")
    for text in ("3 classes, not 2", "all missing", "constant", "similar name", "parsed as datetimes", "id-like"):
        assert text in dom, text
    assert dom.count('class="main-svg"') >= 10 and "wb-note-error" not in dom


@pytest.mark.slow
def test_partitioned_parquet_dataset_out_of_core_gives_the_in_memory_headline(tmp_path):
    """A hive-partitioned Parquet dataset through the notebook with engine sketch: the same headline values as
    the registered table in memory (the Telco run above), every section drawn, the sample stated."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from workbench.data import load_dataset

    pq.write_to_dataset(pa.Table.from_pandas(load_dataset("telco_churn").frame, preserve_index=False),
                        tmp_path / "telco", partition_cols=["contract"])
    proc = run_cli("run", str(NOTEBOOK), "-p", "dataset", str(tmp_path / "telco"), "-p", "target", "churn",
                   "-p", "engine", "sketch", "-p", "max_rows_for_heavy_stats", "3000", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    d = only_run(tmp_path, "explore")
    m = json.loads((d / "run.json").read_text())["metrics"]
    assert (m["rows"], m["columns"], m["duplicate_rows"], m["alerts"]) == (7043, 21, 0, 1)
    assert m["target_rate"] == pytest.approx(1869 / 7043, rel=1e-12)
    html = (d / "report.html").read_text()
    assert "Out of core (engine sketch)" in html and "of 7,043 rows" in html and "Traceback" not in html


@pytest.mark.slow
def test_unknown_engine_fails_in_one_line(tmp_path):
    proc = run_cli("run", str(NOTEBOOK), "-p", "engine", "spark", cwd=tmp_path)
    assert proc.returncode == 1
    assert "engine must be one of auto, pandas, dask, sketch (engine='spark')" in proc.stderr


@pytest.mark.slow
def test_missing_target_column_fails_with_the_columns_listed(tmp_path):
    csv = tmp_path / "t.csv"
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_csv(csv, index=False)
    proc = run_cli("run", str(NOTEBOOK), "-p", "dataset", str(csv), "-p", "target", "churn", cwd=tmp_path)
    assert proc.returncode == 1
    assert "DatasetError" in proc.stderr and "target column 'churn' not in 't'" in proc.stderr
    rec = json.loads((only_run(tmp_path, "explore") / "run.json").read_text())
    assert rec["status"] == "failed" and "columns: a, b" in rec["error"]["evalue"]


@pytest.mark.slow
def test_interactive_explorer_redraws_for_the_chosen_column(tmp_path, monkeypatch):
    """In a live kernel (outside ``workbench run``) the dropdown's observer redraws the Output widget."""
    from nbclient import NotebookClient
    from support import make_notebook

    monkeypatch.delenv("WORKBENCH_RUN_DIR", raising=False)
    monkeypatch.delenv("PLOTLY_RENDERER", raising=False)
    nb_path = make_notebook(
        tmp_path / "lab.ipynb", "target = 'churn'  # target",
        "import workbench\nfrom workbench import explore\n"
        "eda = explore.Exploration(workbench.load_dataset('telco_churn'), target=target)\nbox = eda.explorer()\nbox",
        "box.children[0].value = 'contract'")
    nb = nbformat.read(str(nb_path), as_version=4)
    # each cell takes ~2 s. While the explorer drew through ``with out: display(...)``, nbclient now and then
    # sat on an answered cell until this timeout (4 of 8 runs; plain papermill, with no timeout, hung for good):
    # a stall shows here as a run of 20 s or more
    NotebookClient(nb, timeout=20, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = {m["model_name"]: m["state"] for m in state.values()}
    assert models["DropdownModel"]["index"] == list(load_telco_columns()).index("contract")
    shown = json.dumps(models["OutputModel"]["outputs"])
    assert "contract: distribution" in shown and "rownames: distribution" not in shown


def load_telco_columns() -> list[str]:
    from workbench.data import load_dataset

    return list(load_dataset("telco_churn").frame.columns)
