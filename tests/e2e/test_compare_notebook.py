"""End-to-end: notebooks/compare_models.ipynb through the real CLI, its report in Chromium, scoring round trip."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from support import REPO, only_run, render_dom, run_cli, run_defaults

import workbench

NOTEBOOK = REPO / "notebooks" / "compare_models.ipynb"


def test_notebook_is_committed_clean():
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    names = [line.split("=")[0].strip() for line in code[0].source.splitlines()]
    assert names == ["dataset", "target", "task", "positive_label", "models", "folds", "seed", "test_size", "metric",
                     "class_weight", "threshold", "tune_top", "tune_seconds", "ensemble", "max_model_seconds", "register_as",
                     "sensitive", "sensitive_as_feature", "gap_threshold", "mitigate"]
    assert all("#" in line for line in code[0].source.splitlines())


@pytest.fixture(scope="module")
def defaults_run(tmp_path_factory) -> tuple[Path, dict]:
    """The notebook on its defaults (telco_churn, the five default models, five folds, voting and stacking)."""
    return run_defaults(NOTEBOOK, tmp_path_factory.mktemp("defaults"))


@pytest.mark.slow
def test_defaults_on_telco_reach_published_auc(defaults_run):
    run, rec = defaults_run
    assert rec["status"] == "succeeded"
    m = rec["metrics"]
    assert m["metric"] == "roc_auc" and m["best_model"] in {"logreg", "random_forest", "hist_gb", "catboost", "voting",
                                                             "stacking"}
    assert m["best_score"] >= 0.845 and m["cv_score"] >= 0.843 and m["n_models"] == 5, m
    board = pd.read_csv(run / "artifacts" / "leaderboard.csv", index_col=0)
    assert board.index.tolist()[0] == m["best_model"] and len(board) == 7 and {"voting", "stacking"} <= set(board.index)
    ok = board[board["status"] == "ok"]
    assert len(ok) >= 6 and ok["roc_auc_mean"].is_monotonic_decreasing and set(board["status"]) <= {"ok", "raced"}
    card = json.loads((run / "artifacts" / "model" / "model.json").read_text())
    assert card["name"] == m["best_model"] and card["metrics"]["test_score"] == pytest.approx(m["best_score"])
    assert card["provenance"]["run_id"] == rec["run_id"] and card["provenance"]["notebook"] == "compare_models"
    columns = {c["name"]: c for c in card["input_schema"]["columns"]}
    assert card["provenance"]["data_fingerprint"] and columns["contract"]["categories"]
    assert card["details"]["explain_background"]["rows"] == 50  # what explanations of this model need
    assert not (run.parents[2] / "catboost_info").exists() and not list(run.parents[2].glob("*.cbm"))
    # fairness by female and senior_citizen on the test split: the worst gap is the seniors' (a 0.03 gap by sex)
    assert 0.15 < m["dp_difference"] < 0.5 and 0.1 < m["eo_difference"] < 0.5, m


@pytest.mark.slow
@pytest.mark.browser
def test_report_renders_offline(defaults_run):
    run, _ = defaults_run
    dom = render_dom(run / "report.html")
    assert dom.count('class="main-svg"') >= 10
    for text in ("ROC-AUC", "Permutation importance", "Confusion matrix", "F1-optimal", "best_score", "stacking",
                 "tune_top = 0", "Global importance: mean |SHAP value|", "Dependence of the top 4 columns", "Test row",
                 "Fairness by group", "female × senior_citizen", "Rates by group",
                 "demographic-parity difference for senior_citizen", "ThresholdOptimizer (equalized_odds)",
                 "dp_difference",
                 # every default winner is explained exactly, a voting as its members: all test rows, none sampled
                 "Global importance: mean |SHAP value| over 1,409 test rows"):
        assert text in dom, text
    assert "Traceback" not in dom


@pytest.mark.slow
def test_scoring_round_trip_equals_notebook_predictions(defaults_run, tmp_path):
    run, _ = defaults_run
    saved = pd.read_csv(run / "artifacts" / "test_predictions.csv")
    telco = workbench.load_dataset("telco_churn").frame
    rows = telco.loc[saved["row"]].drop(columns=["churn"])
    rows = rows[list(reversed(rows.columns))].assign(note="extra column, ignored")
    rows.to_csv(tmp_path / "new.csv", index=False)
    proc = run_cli("predict", str(run / "artifacts" / "model"), "new.csv", "-o", "pred.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert len(pred) == len(saved)
    assert pred["rownames"].tolist() == rows["rownames"].tolist()
    np.testing.assert_allclose(pred[["proba_No", "proba_Yes"]], saved[["proba_No", "proba_Yes"]], rtol=0, atol=1e-9)
    assert (pred["prediction"] == saved["prediction"]).all()


def _csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_other_binary_csv_with_another_target(tmp_path):
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer(as_frame=True)
    df = d.frame.rename(columns={"target": "diagnosis"})
    df["diagnosis"] = np.asarray(d.target_names)[df["diagnosis"]]
    df.insert(0, "patient_id", [f"P{i:04d}" for i in range(len(df))])
    path = _csv(df, tmp_path / "cancer.csv")
    proc = run_cli("run", str(NOTEBOOK), "-p", "dataset", str(path), "-p", "target", "diagnosis",
                   "-p", "positive_label", "", "-p", "models", "[logreg, random_forest]", "-p", "folds", "3",
                   "-p", "sensitive", "[]", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rec = json.loads((only_run(tmp_path, "compare_models") / "run.json").read_text())
    assert rec["metrics"]["best_score"] > 0.95
    card = json.loads((only_run(tmp_path, "compare_models") / "artifacts" / "model" / "model.json").read_text())
    assert card["positive_label"] == "malignant" and "patient_id" in card["details"]["dropped_columns"]


@pytest.mark.slow
def test_multiclass_csv(tmp_path):
    from sklearn.datasets import load_iris

    d = load_iris(as_frame=True)
    df = d.frame.rename(columns={"target": "species"})
    df["species"] = np.asarray(d.target_names)[df["species"]]
    path = _csv(df, tmp_path / "iris.csv")
    proc = run_cli("run", str(NOTEBOOK), "-p", "dataset", str(path), "-p", "target", "species",
                   "-p", "models", "[dummy, logreg, hist_gb]", "-p", "folds", "3", "-p", "sensitive", "[]", "--no-progress",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = only_run(tmp_path, "compare_models")
    rec = json.loads((run / "run.json").read_text())
    assert rec["metrics"]["best_score"] > 0.95 and rec["metrics"]["best_model"] != "dummy"
    pred = pd.read_csv(run / "artifacts" / "test_predictions.csv")
    assert {"proba_setosa", "proba_versicolor", "proba_virginica"} <= set(pred.columns)


@pytest.mark.slow
def test_unknown_model_fails_fast_with_valid_names(tmp_path):
    proc = run_cli("run", str(NOTEBOOK), "-p", "models", "[logreg, xgboost]", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 1
    assert "xgboost" in proc.stderr and "valid models: dummy, logreg" in proc.stderr
    rec = json.loads((only_run(tmp_path, "compare_models") / "run.json").read_text())
    assert rec["status"] == "failed" and rec["error"]["ename"] == "ModelError"
    assert not (only_run(tmp_path, "compare_models") / "artifacts" / "leaderboard.csv").exists()


@pytest.mark.slow
def test_unknown_sensitive_column_fails_fast_listing_the_columns(tmp_path):
    proc = run_cli("run", str(NOTEBOOK), "-p", "sensitive", "[gender, senior_citizen]", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 1
    assert "sensitive column(s) 'gender' not in 'telco_churn'" in proc.stderr and "female, senior_citizen" in proc.stderr
    assert not (only_run(tmp_path, "compare_models") / "artifacts" / "leaderboard.csv").exists()


@pytest.mark.slow
def test_defaults_run_is_tracked_in_wandb_offline(defaults_run):
    """History per model and fold, the leaderboard table, figures, the report and the model as artifacts."""
    import wandb_reader

    run, rec = defaults_run
    rec = json.loads((run / "run.json").read_text())
    assert rec["tracking"]["mode"] == "offline", rec["tracking"]
    got = wandb_reader.summarize(rec["tracking"]["offline_dir"])
    assert got["run"]["job_type"] == "compare_models"
    assert got["config"]["models"] == ["default"]
    assert got["summary"]["best_model"] == rec["metrics"]["best_model"]
    folds = [h for h in got["history"] if "cv/fold" in h]
    saved = pd.read_csv(run / "artifacts" / "fold_scores.csv")
    assert len(folds) == len(saved) >= 6 * 5 and {h["cv/model"] for h in folds} == {
        "dummy", "logreg", "random_forest", "hist_gb", "catboost", "voting", "stacking"}
    # the run-level summary is the run's own metrics, not the last fold's (W&B's runs table compares these)
    for k, v in rec["metrics"].items():
        assert got["summary"][k] == (pytest.approx(v) if isinstance(v, float) else v), k
    assert not [k for k in got["summary"] if k.startswith("cv/")]
    assert "model" not in got["summary"] and "roc_auc" not in got["summary"]
    logged = {k.split("/")[0] for h in got["history"] for k in h}
    assert {"leaderboard", "roc_oof"} <= logged
    types = {a["type"] for a in got["artifacts"]}
    assert {"report", "model"} <= types
    curves = json.loads((run / "curves.json").read_text())
    assert "test ROC (best model)" in curves


@pytest.fixture(scope="module")
def ames_run(tmp_path_factory) -> tuple[Path, dict]:
    """The demo's second run: regression on Ames (log10 sale price) from notebooks/compare_models.ames.yaml."""
    cwd = tmp_path_factory.mktemp("ames")
    proc = run_cli("run", str(NOTEBOOK), "-f", str(REPO / "notebooks" / "compare_models.ames.yaml"), "--no-progress",
                   cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = only_run(cwd, "compare_models")
    return run, json.loads((run / "run.json").read_text())


@pytest.mark.slow
def test_regression_demo_run_on_ames(ames_run, tmp_path):
    run, rec = ames_run
    m = rec["metrics"]
    assert rec["status"] == "succeeded" and m["metric"] == "rmse" and m["n_models"] == 5
    assert m["best_score"] < 0.07 and m["cv_score"] < 0.062, m  # log10 dollars: about 15% typical error
    card = json.loads((run / "artifacts" / "model" / "model.json").read_text())
    assert card["task"] == "regression" and card["metrics"]["test_metrics"]["coverage"] > 0.85
    ames = workbench.load_dataset("ames").frame
    saved = pd.read_csv(run / "artifacts" / "test_predictions.csv")
    ames.loc[saved["row"]].drop(columns=["log10_sale_price"]).to_csv(tmp_path / "houses.csv", index=False)
    proc = run_cli("predict", str(run / "artifacts" / "model"), "houses.csv", "-o", "pred.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert pred.columns.tolist() == ["rownames", "prediction", "interval_lower", "interval_upper", "error"]
    np.testing.assert_allclose(pred["prediction"], saved["prediction"], rtol=0, atol=1e-9)


@pytest.mark.slow
@pytest.mark.browser
def test_regression_report_renders_offline(ames_run):
    run, _ = ames_run
    dom = render_dom(run / "report.html")
    for text in ("RMSE", "Predicted vs actual", "Residuals", "interval coverage", "log10_sale_price"):
        assert text in dom, text
    assert "Traceback" not in dom


@pytest.mark.slow
def test_tuning_and_class_weights_through_the_cli(tmp_path):
    """Optuna tuning with its history in the report and in W&B (trial/ rows), balanced weights, a given threshold."""
    import wandb_reader

    proc = run_cli("run", str(NOTEBOOK), "-p", "models", "[dummy, logreg, naive_bayes, hist_gb]", "-p", "folds", "3",
                   "-p", "tune_top", "1", "-p", "tune_seconds", "5", "-p", "class_weight", "balanced",
                   "-p", "threshold", "0.5", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = only_run(tmp_path, "compare_models")
    rec = json.loads((run / "run.json").read_text())
    board = pd.read_csv(run / "artifacts" / "leaderboard.csv", index_col=0)
    tuned = [n for n in board.index if n.endswith("_tuned")]
    assert len(tuned) == 1 and rec["metrics"]["n_models"] == len([n for n in board.index if board.loc[n, "kind"] == "model"])
    assert rec["metrics"]["best_score"] > 0.83
    card = json.loads((run / "artifacts" / "model" / "model.json").read_text())
    assert card["threshold"] == 0.5 and card["threshold_rule"] == "given" and card["details"]["class_weight"] == "balanced"
    got = wandb_reader.summarize(rec["tracking"]["offline_dir"])
    trials = [h for h in got["history"] if "trial/trial" in h]
    assert trials and {h["trial/model"] for h in trials} == set(tuned)
    assert not [k for k in got["summary"] if k.startswith(("trial/", "cv/"))]
