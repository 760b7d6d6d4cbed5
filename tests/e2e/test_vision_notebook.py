"""End to end: the vision notebook through the CLI on small real data, then ``workbench predict``."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest
from support import NOTEBOOKS, make_folder, only_run, render_dom, run_cli

NB = NOTEBOOKS / "vision_finetune.ipynb"
QUICK = ("-p", "image_size", "64", "-p", "epochs_frozen", "10", "-p", "epochs", "1", "--no-progress")


def test_notebook_is_stripped_with_parameters_cell():
    nb = nbformat.read(str(NB), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for name in ("dataset", "backbone", "image_size", "epochs_frozen", "epochs", "batch_size", "lr", "lr_finetune",
                 "class_weight", "seed", "max_images"):
        assert f"\n{name} = " in "\n" + code[0].source
    assert all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
def test_quick_elpv_run_then_predict_round_trip(tmp_path):
    r = run_cli("run", NB, "-p", "max_images", "120", "-p", "class_weight", "balanced", *QUICK, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    run_dir = only_run(tmp_path, "vision_finetune")
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["status"] == "succeeded" and rec["params"]["class_weight"] == "balanced"
    assert {"test_accuracy", "test_roc_auc", "train_seconds"} <= set(rec["metrics"])
    html = (run_dir / "report.html").read_text()
    for text in ("Confusion matrix", "ROC curve", "Learning curves", "Worst", "data:image/png;base64",
                 "Grad-CAM of the predicted class", "correct predictions"):
        assert text in html, text
    model_dir = run_dir / "artifacts" / "model"
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "model.json").is_file()
    saved = pd.read_csv(run_dir / "artifacts" / "test_predictions.csv")
    assert len(saved) == 30
    # the recorded accuracy is the saved predictions' own, exactly
    assert rec["metrics"]["test_accuracy"] == pytest.approx((saved["label"] == saved["prediction"]).mean(), abs=1e-6)

    out = tmp_path / "predictions.csv"
    p = run_cli("predict", model_dir, *saved["path"], tmp_path / "nothing.png", "-o", out, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "predicted 30 row(s) with vision model" in p.stdout and "1 with errors" in p.stdout
    pred = pd.read_csv(out)
    assert pred["path"].tolist()[:30] == saved["path"].tolist()
    assert pred["prediction"].tolist()[:30] == saved["prediction"].tolist()
    probs = [c for c in saved.columns if c.startswith("proba_")]
    assert len(probs) == 2
    assert (pred[probs].iloc[:30] - saved[probs]).abs().to_numpy().max() < 1e-5
    assert pred["error"].iloc[30] == "file not found"

    # tracked: one W&B history row per epoch, the model as an artifact, curves for comparison pages
    import wandb_reader

    got = wandb_reader.summarize(rec["tracking"]["offline_dir"])
    epochs = [h for h in got["history"] if "epoch/val_loss" in h]
    assert epochs and {h["epoch/phase"] for h in epochs} <= {"frozen", "fine-tune"}
    for k, v in rec["metrics"].items():  # the summary is the run's metrics, not the last epoch's
        assert got["summary"][k] == pytest.approx(v), k
    assert got["summary"]["best_val_loss"] == pytest.approx(min(h["epoch/val_loss"] for h in epochs))
    assert not [k for k in got["summary"] if k.startswith("epoch/")]
    assert {"report", "model"} <= {a["type"] for a in got["artifacts"]}
    assert {"validation loss", "validation accuracy"} <= set(json.loads((run_dir / "curves.json").read_text()))


@pytest.mark.slow
@pytest.mark.browser
def test_user_folder_with_corrupt_files_trains_and_reports_skips(tmp_path):
    root = make_folder(tmp_path / "parts", per_class=8)
    r = run_cli("run", NB, "-p", "dataset", str(root), *QUICK, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    run_dir = only_run(tmp_path, "vision_finetune")
    rec = json.loads((run_dir / "run.json").read_text())
    assert "test_accuracy" in rec["metrics"] and "test_roc_auc" not in rec["metrics"]
    html = (run_dir / "report.html").read_text()  # the skipped files are listed in the report itself
    assert "<b>4</b> file(s) skipped" in html
    for reason in ("not an image file", "not a readable image", "corrupt image", "empty file"):
        assert reason in html, reason
    dom = render_dom(run_dir / "report.html")  # browser checks last: they say nothing of the above
    assert "<b>4</b> file(s) skipped" in dom and ("Worst" in dom or "No mistakes" in dom)


@pytest.mark.slow
@pytest.mark.parametrize("case,message", [("empty", "no readable images"), ("one", "one class only"),
                                          ("backbone", "unknown backbone 'vgg99'; choose one of: efficientnet_lite0")])
def test_clear_errors_before_training(tmp_path, case, message):
    data = tmp_path / "data"
    (data / "only").mkdir(parents=True)
    args = ["-p", "dataset", str(data)]
    if case == "one":
        make_folder(tmp_path / "src")
        for f in (tmp_path / "src" / "good").iterdir():
            (data / "only" / f.name).write_bytes(f.read_bytes())
    if case == "backbone":
        args = ["-p", "max_images", "40", "-p", "backbone", "vgg99"]
    r = run_cli("run", NB, *args, "--no-progress", cwd=tmp_path)
    assert r.returncode != 0
    assert message in r.stderr + r.stdout
    rec = json.loads((only_run(tmp_path, "vision_finetune") / "run.json").read_text())
    assert rec["status"] == "failed" and "train_seconds" not in rec["metrics"]
