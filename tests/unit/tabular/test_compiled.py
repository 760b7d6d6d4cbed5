"""A logistic pipeline's compiled form (``model.compiled.safetensors``): the same predictions as the skops pipeline,
loaded without scikit-learn, and refused with one line when crafted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save

import workbench
from workbench import tabular
from workbench.errors import ModelError
from workbench.models import load
from workbench.tabular import _compiled
from workbench.tabular._compiled import COMPILED
from workbench.tabular._load import CompiledPredictor
from workbench.tabular._persist import TabularPredictor, save_model


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return workbench.load_dataset("telco_churn").frame


@pytest.fixture(scope="module")
def logreg(telco, tmp_path_factory) -> Path:
    """The Telco logistic regression, compared, refit on the train split and saved (as the serve benchmark's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(telco, "churn", positive_label="Yes", models=["logreg"], folds=2)
        model = tabular.fit_best(task, tabular.compare_models(task, n_jobs=1, verbose=False)).model
    return save_model(model, tmp_path_factory.mktemp("logreg") / "model")


def _records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.drop(columns=["churn"]).to_json(orient="records"))


def test_compiled_predictions_equal_the_skops_pipeline(logreg, telco):
    compiled = load(logreg)
    assert type(compiled) is CompiledPredictor and (logreg / COMPILED).is_file()
    full = TabularPredictor(logreg, compiled.card)
    records = _records(telco)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = full.predict(pd.DataFrame(records))
    for batch in (records, records[:5], records[:1]):  # the vectorized and the few-rows paths
        got = compiled.predict_records(batch)
        assert got == full.predict_records(batch)
        want = frame.iloc[: len(batch)]
        np.testing.assert_allclose([[r["proba_No"], r["proba_Yes"]] for r in got],
                                   want[["proba_No", "proba_Yes"]].to_numpy(), rtol=0, atol=1e-12)
        assert [r["prediction"] for r in got] == want["prediction"].tolist()
        assert [r["rownames"] for r in got] == want["rownames"].tolist()
    odd = {**records[0], "tenure": "12", "contract": "Decade", "payment_method": None, "monthly_charges": 1e308 * 10}
    assert compiled.predict_records([odd]) == full.predict_records([odd])
    with pytest.raises(ModelError, match="the data lacks 1 column"):
        compiled.predict_records([{k: v for k, v in records[0].items() if k != "tenure"}])


def test_compiled_frames_and_files_equal_the_skops_pipeline(logreg, telco, tmp_path):
    """``predict`` (a DataFrame: missing values, an unseen category, an infinite number, numbers as text) and
    ``predict_files`` (``workbench predict``) give the skops pipeline's frame: columns, labels, errors exactly,
    probabilities to 1e-12, the same unseen-category warning."""
    compiled = load(logreg)
    full = TabularPredictor(logreg, compiled.card)
    df = telco.drop(columns=["churn"]).copy()
    df["tenure"] = df["tenure"].astype(object)
    df.loc[::7, "monthly_charges"] = np.nan
    df.loc[::11, "contract"] = None
    df.loc[5, "payment_method"], df.loc[6, "total_charges"], df.loc[8, "tenure"] = "Barter", np.inf, "12"
    with pytest.warns(UserWarning, match="payment_method: 1 row") as got_warn:
        got = compiled.predict(df)
    with pytest.warns(UserWarning) as want_warn:
        want = full.predict(df)
    assert [str(w.message) for w in got_warn] == [str(w.message) for w in want_warn]
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-12)
    assert got.loc[6, "error"].startswith("no prediction: numeric value too large") and got["error"].notna().sum() == 1
    path = tmp_path / "rows.csv"
    telco.head(40).to_csv(path, index=False)
    pd.testing.assert_frame_equal(compiled.predict_files([str(path)]), full.predict_files([str(path)]),
                                  check_exact=False, rtol=0, atol=1e-12)
    assert compiled._full is None  # answered from the compiled arrays, the skops pipeline never loaded


def test_multiclass_logistic_regression_compiles(tmp_path):
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True).frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    data["target"] = data["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(data, "target", models=["logreg"], folds=2)
        model = tabular.fit_best(task, tabular.compare_models(task, n_jobs=1, verbose=False)).model
    compiled = load(save_model(model, tmp_path / "m"))
    assert type(compiled) is CompiledPredictor and not compiled.explains
    records = json.loads(data.drop(columns=["target"]).to_json(orient="records"))
    assert compiled.predict_records(records) == TabularPredictor(compiled.folder, compiled.card).predict_records(records)


def test_the_demos_best_model_and_older_folders_keep_the_skops_path(logreg, telco, tmp_path):
    """The demo's winner (voting of the top three) does not compile: no compiled file, the same loader as before;
    a folder saved before compiled forms existed (no file, no details.compiled) loads as before."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(telco.iloc[:1500], "churn", positive_label="Yes", folds=2,
                                    models=["logreg", "random_forest", "hist_gb"])
        best = tabular.fit_best(task, tabular.compare_models(task, n_jobs=1, verbose=False, ensemble=True), "voting")
    folder = save_model(best.model, tmp_path / "voting")
    assert not (folder / COMPILED).exists() and "compiled" not in json.loads((folder / "model.json").read_text())["details"]
    assert type(load(folder)) is TabularPredictor
    old = _copy(logreg, tmp_path)
    card = json.loads((old / "model.json").read_text())
    del card["files"][COMPILED], card["details"]["compiled"]
    (old / COMPILED).unlink()
    (old / "model.json").write_text(json.dumps(card))
    records = _records(telco.iloc[:50])
    assert type(load(old)) is TabularPredictor
    assert load(old).predict_records(records) == load(logreg).predict_records(records)


def test_loading_a_compiled_folder_imports_no_scikit_learn_skops_or_pandas(logreg):
    """Loading and scoring records import none of them; ``workbench predict`` on a CSV imports pandas only."""
    code = ("import sys, json; from workbench.models import load; p = load(sys.argv[1]); "
            "row = p.predict_records([dict.fromkeys(p.card.input_schema.features)])[0]; assert row['error'] is None; "
            "heavy = lambda: sorted(m for m in ('sklearn', 'skops', 'pandas', 'scipy') if m in sys.modules); "
            "before = heavy(); frame = p.predict_files([sys.argv[2]]); "
            "print(json.dumps([type(p).__name__, before, heavy(), len(frame)]))")
    csv = logreg.parent / "rows.csv"
    workbench.load_dataset("telco_churn").frame.head(30).to_csv(csv, index=False)
    out = subprocess.run([sys.executable, "-c", code, str(logreg), str(csv)], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["CompiledPredictor", [], ["pandas"], 30]


# ------------------------------------------------------------------------------------------ crafted files
def _copy(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(folder, out)
    return out


def _craft(folder: Path, tmp_path: Path, tensors=None, spec=None, meta=None, raw: bytes | None = None,
           card=None) -> Path:
    """A copy of ``folder`` whose compiled file is rewritten, its card's hashes rewritten to match (an attacker
    rewrites both)."""
    from workbench.core.io import file_sha256

    out = _copy(folder, tmp_path)
    path = out / COMPILED
    with safe_open(str(path), framework="numpy") as f:
        spec_now = json.loads(f.metadata()["workbench"])
    arrays = load_file(path)
    if raw is None:
        arrays = tensors(arrays) if tensors else arrays
        spec_now = spec(spec_now) if spec else spec_now
        metadata = meta({"workbench": json.dumps(spec_now)}) if meta else {"workbench": json.dumps(spec_now)}
        raw = save(arrays, metadata=metadata)
    path.write_bytes(raw)
    data = json.loads((out / "model.json").read_text())
    data = card(data) or data if card else data
    data["files"] = {name: file_sha256(out / name) for name in data["files"]}
    (out / "model.json").write_text(json.dumps(data))
    return out


def _refused(folder: Path, match: str) -> None:
    with pytest.raises(ModelError, match=match) as e:
        load(folder)
    assert "\n" not in str(e.value) and "refus" in str(e.value) and str(e.value).count("refused") <= 1


@pytest.mark.parametrize("case, kw, match", [
    ("extra tensor", {"tensors": lambda a: {**a, "evil": np.zeros(3)}}, "tensors must be exactly"),
    ("wrong shape", {"tensors": lambda a: {**a, "coef": np.zeros((1, a["coef"].shape[1] + 1))}}, "tensors must be exactly"),
    ("float32", {"tensors": lambda a: {**a, "fill": a["fill"].astype(np.float32)}}, "tensors must be exactly"),
    ("missing tensor", {"tensors": lambda a: {k: v for k, v in a.items() if k != "scale"}}, "tensors must be exactly"),
    ("NaN coefficient", {"tensors": lambda a: {**a, "coef": np.where(np.arange(a["coef"].size) == 3, np.nan,
                                                                      a["coef"].ravel()).reshape(a["coef"].shape)}},
     "non-finite numbers in coef"),
    ("inf intercept", {"tensors": lambda a: {**a, "intercept": np.array([np.inf])}}, "non-finite numbers in intercept"),
    ("zero scale", {"tensors": lambda a: {**a, "scale": np.zeros_like(a["scale"])}}, "zero scale"),
    ("extra spec key", {"spec": lambda s: {**s, "code": "import os"}}, "exactly the keys"),
    ("format true", {"spec": lambda s: {**s, "format": True}}, "unknown format True"),
    ("extra metadata", {"meta": lambda m: {**m, "other": "x"}}, "exactly the key 'workbench'"),
    ("not JSON", {"meta": lambda m: {"workbench": "{nope"}}, "not JSON"),
    ("deeply nested JSON", {"meta": lambda m: {"workbench": "[" * 100_000 + "]" * 100_000}}, "not JSON"),
    ("columns reordered", {"spec": lambda s: {**s, "numeric": s["numeric"][::-1]}}, "disagree with the card"),
    ("category not text", {"spec": lambda s: {**s, "categories": [[1, 2]] + s["categories"][1:]}}, "distinct strings"),
    ("classes", {"spec": lambda s: {**s, "classes": ["No", "Maybe"]}}, r"card's classes \['No', 'Yes'\] disagree"),
    ("garbage", {"raw": b"\xff" * 64}, "not a readable safetensors file"),
    ("wrong file", {"card": lambda c: c["details"].update(compiled={"file": "model.skops", "format": 1})},
     "details.compiled must be"),
])
def test_crafted_compiled_files_are_refused(logreg, tmp_path, case, kw, match):
    _refused(_craft(logreg, tmp_path, **kw), match)


def test_huge_compiled_files_are_refused_before_reading(logreg, tmp_path, monkeypatch):
    folder = _copy(logreg, tmp_path)
    monkeypatch.setattr(_compiled, "MAX_BYTES", 1000)
    _refused(folder, "bytes is over the limit of 1,000")
    monkeypatch.setattr(_compiled, "MAX_BYTES", 256 << 20)
    monkeypatch.setattr(_compiled, "MAX_WIDTH", 10)
    _refused(folder, "features and 2 classes exceed the limits")
