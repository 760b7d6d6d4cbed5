"""Drift through the model: prediction drift, performance on current, the request log as current,
and the model folder treated as untrusted input (only ``workbench.models.load`` opens it)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from workbench import tabular
from workbench.data import load_dataset
from workbench.drift import DriftReport
from workbench.errors import ModelError
from workbench.evaluation import Note, Panel
from workbench.models import load

SHIFTED = {"monthly_charges", "tenure", "contract"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A logistic regression trained on the reference half (tests may use tabular; the library may not)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(load_dataset("telco_churn_reference"), "churn", positive_label="Yes",
                                    models=["logreg"], folds=2, seed=0)
        best = tabular.fit_best(task, tabular.compare_models(task))
    return tabular.save(best, tmp_path_factory.mktemp("artifacts"))


def texts(result) -> str:
    parts = result.parts if isinstance(result, Panel) else [result]
    return " | ".join(p.text for p in parts if isinstance(p, Note))


def write_log(folder: Path, frame: pd.DataFrame, model_dir: Path, per_file: int = 1500) -> Path:
    """The request log `workbench serve` will write: the model's inputs and outputs, one file per 'day'."""
    predictor = load(model_dir)
    inputs = predictor.card.input_schema.features
    scored = predictor.predict(frame)
    folder.mkdir(parents=True, exist_ok=True)
    records = frame[inputs].astype(object).where(frame[inputs].notna(), None).to_dict("records")
    outputs = scored.drop(columns=[c for c in scored.columns if c in ("rownames",)]).to_dict("records")
    for start in range(0, len(records), per_file):
        lines = [json.dumps({"ts": f"2024-06-{1 + start // per_file:02d}T10:00:00Z", "model": "churn", "latency_ms": 2.0,
                             "input": r, "output": {k: v for k, v in o.items() if v is not None}})
                 for r, o in zip(records[start:start + per_file], outputs[start:start + per_file])]
        (folder / f"requests-{start // per_file}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_prediction_drift_and_performance_with_a_model(model_dir):
    report = DriftReport("telco_churn_reference", "telco_churn_drifted", model=str(model_dir), domain_rows=0)
    assert report.target == "churn" and "taken from the model card" in texts(report.overview())
    assert {c.column for c in report.results if c.drifted} == SHIFTED
    preds = {c.column: c for c in report.prediction_results}
    assert set(preds) == {"prediction", "proba_Yes"} and preds["proba_Yes"].drifted
    assert report.headline()["prediction_drift"] is True
    table = report.performance().parts[0]
    assert list(table.columns) == ["reference (3,522 rows)", "current (3,521 rows)", "held-out test at training", "change"]
    assert 0.75 < table.loc["ROC-AUC", "current (3,521 rows)"] < 0.95
    assert table.loc["ROC-AUC", "change"] == pytest.approx(table.iloc[0, 1] - table.iloc[0, 0], abs=2e-4)
    assert report.failures == []


def test_the_request_log_as_current_uses_the_recorded_predictions(model_dir, tmp_path):
    drifted = load_dataset("telco_churn_drifted").frame
    folder = write_log(tmp_path / "logs" / "churn", drifted, model_dir)
    report = DriftReport("telco_churn_reference", str(folder), model=str(model_dir), domain_rows=2000)
    assert {c.column for c in report.results if c.drifted} == SHIFTED
    assert report.current.log["requests"] == len(drifted) and len(report.current.log["files"]) == 3
    notes = texts(report.prediction_drift())
    assert "current: predictions recorded with the data" in notes and "reference: scored with the model" in notes
    assert {c.column for c in report.prediction_results if c.drifted} >= {"proba_Yes"}
    assert "no labels yet" in texts(report.target_drift())
    assert "current has no labels" in texts(report.performance())
    assert "4 log file(s)" not in report.overview().parts[0].to_string()
    assert "3 log file(s), 3,521 requests from 2024-06-01" in report.overview().parts[0].to_string()
    assert report.failures == []


def test_recorded_predictions_on_both_sides_need_no_model(model_dir, tmp_path):
    ref = load_dataset("telco_churn_reference").frame
    scored = pd.concat([ref, load(model_dir).predict(ref).drop(columns=["rownames"], errors="ignore")], axis=1)
    scored.to_csv(tmp_path / "scored.csv", index=False)
    folder = write_log(tmp_path / "logs", load_dataset("telco_churn_current").frame, model_dir)
    report = DriftReport(str(tmp_path / "scored.csv"), str(folder), domain_rows=0)
    assert {c.column for c in report.prediction_results} == {"prediction", "proba_Yes"}
    assert not any(c.drifted for c in report.prediction_results + report.results)
    assert "prediction" not in report.schema.kinds and "error" not in report.schema.kinds  # outputs, not features


def test_a_column_the_model_needs_is_missing_from_current(model_dir):
    cur = load_dataset("telco_churn_current").frame.drop(columns=["tenure"])
    report = DriftReport("telco_churn_reference", cur, model=str(model_dir), domain_rows=0)
    warnings_ = [f for f in report.schema.findings if f["column"] == "tenure"]
    assert any("the model needs it and the current table lacks it" in f["finding"] for f in warnings_)
    assert "the model needs column(s) the table lacks (tenure)" in texts(report.prediction_drift())
    assert report.prediction_results == [] and report.failures == []


def test_a_tampered_model_folder_is_refused_before_any_data_is_read(model_dir, tmp_path):
    bad = tmp_path / "model"
    shutil.copytree(model_dir, bad)
    f = next(p for p in bad.iterdir() if p.name != "model.json")
    f.write_bytes(f.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="sha256|hash"):
        DriftReport("no-such-dataset", "no-such-dataset", model=str(bad))


def test_labels_the_model_does_not_know_are_a_note_not_a_crash(model_dir):
    cur = load_dataset("telco_churn_current").frame
    cur["churn"] = cur["churn"].str.lower()
    report = DriftReport("telco_churn_reference", cur, model=str(model_dir), domain_rows=0)
    result = report.performance()
    assert "current: labels no, yes are not classes of the model (No, Yes)" in texts(result)
    assert list(result.parts[0].columns) == ["reference (3,522 rows)", "held-out test at training"]
    assert report.failures == []
