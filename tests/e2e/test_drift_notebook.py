"""End-to-end: notebooks/drift.ipynb through the real CLI, the report opened offline in headless Chromium."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from support import REPO, only_run, remote_references, render_dom, run_cli

NOTEBOOK = REPO / "notebooks" / "drift.ipynb"
SHIFTED = {"monthly_charges", "tenure", "contract"}


def test_notebook_is_committed_clean_with_a_parameters_signature():
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    proc = run_cli("params", str(NOTEBOOK), cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for name in ("reference", "current", "target", "model", "columns", "threshold", "drift_share", "max_rows", "engine",
                 "seed", "shift", "sensitive", "scheduler"):
        assert f"\n{name} " in proc.stdout, name


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> tuple[Path, dict, str]:
    workdir = tmp_path_factory.mktemp("drift")
    proc = run_cli("run", str(NOTEBOOK), cwd=workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    d = only_run(workdir, "drift")
    return d, json.loads((d / "run.json").read_text()), render_dom(d / "report.html")


@pytest.mark.slow
@pytest.mark.browser
def test_default_run_flags_the_planted_shifts_and_renders_offline(default_run):
    d, rec, dom = default_run
    m = rec["metrics"]
    assert rec["status"] == "succeeded"
    assert (m["n_drifted"], m["n_columns"], m["dataset_drift"], m["target_drift"]) == (3, 19, True, False)
    assert m["drift_share"] == pytest.approx(3 / 19) and m["domain_auc"] > 0.9
    table = pd.read_csv(d / "artifacts" / "drift.csv")
    assert set(table.loc[table["drifted"], "column"]) == SHIFTED
    assert {"column", "kind", "test", "statistic", "p_value", "score", "threshold", "drifted"} <= set(table.columns)
    assert dom.count('class="main-svg"') >= 4  # scores, distributions, importance, target
    for text in ("Dataset drift: YES", "normalised Wasserstein", "Benjamini-Hochberg", "domain classifier ROC-AUC",
                 "ID-like", "no model given"):
        assert text in dom, text
    assert "wb-note-error" not in dom and "Traceback" not in dom
    assert remote_references((d / "report.html").read_text()) == []


def _model_and_log(tmp: Path) -> tuple[Path, Path]:
    from workbench import tabular
    from workbench.data import load_dataset
    from workbench.models import load

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(load_dataset("telco_churn_reference"), "churn", positive_label="Yes",
                                    models=["logreg"], folds=2, seed=0)
        model_dir = tabular.save(tabular.fit_best(task, tabular.compare_models(task)), tmp)
    frame = load_dataset("telco_churn_drifted").frame
    predictor = load(model_dir)
    inputs = predictor.card.input_schema.features
    scored = predictor.predict(frame)
    logs = tmp / "logs" / "churn"
    logs.mkdir(parents=True)
    with open(logs / "requests-2024-06-01.jsonl", "w") as f:
        for (_, row), (_, out) in zip(frame[inputs].iterrows(), scored.iterrows()):
            f.write(json.dumps({"ts": "2024-06-01T10:00:00Z", "model": "churn", "latency_ms": 2.5,
                                "input": {k: (None if pd.isna(v) else v) for k, v in row.items()},
                                "output": {"prediction": out["prediction"], "proba_No": out["proba_No"],
                                           "proba_Yes": out["proba_Yes"]}}) + "\n")
    return model_dir, logs


@pytest.mark.slow
def test_a_request_log_and_a_model(tmp_path):
    model_dir, logs = _model_and_log(tmp_path)
    proc = run_cli("run", str(NOTEBOOK), "-p", "current", str(logs), "-p", "model", str(model_dir), "-p", "target", "",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    d = only_run(tmp_path, "drift")
    m = json.loads((d / "run.json").read_text())["metrics"]
    assert m["n_drifted"] == 3 and m["prediction_drift"] is True and "target_drift" not in m
    table = pd.read_csv(d / "artifacts" / "drift.csv")
    assert set(table.loc[table["drifted"] & (table["role"] == "feature"), "column"]) == SHIFTED
    assert "proba_Yes" in set(table.loc[table["role"] == "prediction", "column"])
    html = (d / "report.html").read_text()
    assert "predictions recorded with the data" in html and "current has no labels" in html


@pytest.mark.slow
def test_an_empty_current_table_fails_with_a_clear_error(tmp_path):
    (tmp_path / "empty.csv").write_text("tenure,contract\n")
    proc = run_cli("run", str(NOTEBOOK), "-p", "current", "empty.csv", cwd=tmp_path)
    assert proc.returncode == 1
    assert "DatasetError" in proc.stderr and "header but no rows" in proc.stderr


@pytest.mark.slow
def test_an_unknown_engine_fails_before_any_statistic_with_the_valid_ones(tmp_path):
    proc = run_cli("run", str(NOTEBOOK), "-p", "engine", "spark", cwd=tmp_path)
    assert proc.returncode == 1
    assert "engine must be one of auto, pandas, dask, sketch (engine='spark')" in proc.stderr
    assert "Traceback" not in proc.stderr
    rec = json.loads((only_run(tmp_path, "drift") / "run.json").read_text())
    assert rec["status"] == "failed" and rec["error"]["ename"] == "ParameterError"
    assert not (only_run(tmp_path, "drift") / "artifacts" / "drift.csv").exists()


@pytest.mark.slow
def test_engine_dask_on_parquet_datasets_flags_the_default_shifts(tmp_path):
    """The default tables as Parquet datasets (two files each), column statistics out of core: the same
    three planted shifts as the in-memory default run, and each KS statistic's sketch error in drift.csv."""
    from workbench.data import load_dataset

    for name, folder in (("telco_churn_reference", "ref"), ("telco_churn_drifted", "cur")):
        frame = load_dataset(name).frame
        (tmp_path / folder).mkdir()
        half = len(frame) // 2
        frame.iloc[:half].to_parquet(tmp_path / folder / "part-0.parquet")
        frame.iloc[half:].to_parquet(tmp_path / folder / "part-1.parquet")
    proc = run_cli("run", str(NOTEBOOK), "-p", "reference", "ref", "-p", "current", "cur", "-p", "engine", "dask",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    d = only_run(tmp_path, "drift")
    table = pd.read_csv(d / "artifacts" / "drift.csv")
    assert set(table.loc[table["drifted"], "column"]) == SHIFTED
    assert "ks_error" in table.columns and (table["ks_error"].fillna(0) >= 0).all()
    assert json.loads((d / "run.json").read_text())["metrics"]["n_drifted"] == 3
