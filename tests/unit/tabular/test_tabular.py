"""Unit tests of workbench.tabular on small real data (telco_churn slices, scikit-learn's bundled sets)."""

from __future__ import annotations

import json
import operator
import os
import warnings

import numpy as np
import pandas as pd
import pytest
from support import run_cli

import workbench
from workbench import tabular
from workbench.errors import DatasetError, ModelError
from workbench.tabular._fitted import score_frame
from workbench.tabular._persist import load_model, save_model
from workbench.tabular._prep import make_preprocessor
from workbench.tabular._registry import REGISTRY, ModelSpec, build_model, validate_models


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return workbench.load_dataset("telco_churn", target="churn").frame


@pytest.fixture(scope="module")
def small(telco) -> pd.DataFrame:
    return telco.iloc[:1200].copy()


def _iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    d = load_iris(as_frame=True)
    df = d.frame.rename(columns={"target": "species"})
    df["species"] = np.asarray(d.target_names)[df["species"]]
    return df


def _prepare(df, target="churn", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return tabular.prepare_task(df, target, **kw)


# ------------------------------------------------------------------------------------- preparation
def test_prepare_telco_types_split_and_id_drop(telco):
    with pytest.warns(UserWarning, match="rownames.*ID-like"):
        task = tabular.prepare_task(workbench.load_dataset("telco_churn"), "churn", positive_label="Yes", folds=5)
    assert "rownames" in task.dropped and "rownames" not in task.features
    assert task.classes == ["No", "Yes"] and task.positive_label == "Yes" and task.binary
    assert "total_charges" in task.numeric and "contract" in task.categorical
    assert len(task.y_train) + len(task.y_test) == len(telco) and len(task.folds) == 5
    assert task.X_train["total_charges"].isna().sum() + task.X_test["total_charges"].isna().sum() == 11
    assert set(task.categories["contract"]) == {"Month-to-month", "One year", "Two year"}
    assert "ROC-AUC" in task.summary().to_string()


@pytest.mark.filterwarnings("ignore:column 'rownames' dropped")
def test_positive_label_inferred_or_checked(small):
    with pytest.warns(UserWarning, match="minority class 'Yes'"):
        task = tabular.prepare_task(small, "churn", positive_label="", models=["logreg"])
    assert task.classes[-1] == "Yes"
    with pytest.raises(DatasetError, match="positive_label 'Maybe'.*'No', 'Yes'"):
        _prepare(small, positive_label="Maybe")
    task = _prepare(small, positive_label="No")
    assert task.classes == ["Yes", "No"]


@pytest.mark.parametrize("change, error, match", [
    (lambda df: df.drop(columns="churn"), DatasetError, "target column 'churn' not in .*columns: rownames"),
    (lambda df: df.assign(churn="No"), DatasetError, "single class .*'No'"),
    (lambda df: df.assign(churn=["Maybe"] + df["churn"].tolist()[1:]), DatasetError,
     r"too rare for stratified 5-fold CV.*'Maybe': 1 sample.*at least 8; fix: drop or merge"),
    (lambda df: df.assign(churn=["Maybe"] * 5 + df["churn"].tolist()[5:]), DatasetError,
     r"'Maybe': 5 sample.*at least 8; fix: lower folds \(folds=3\)"),
    (lambda df: df[["churn"]].assign(x=np.nan), DatasetError, "no usable feature columns"),
])
def test_bad_input_is_a_clear_error_before_training(small, change, error, match):
    with pytest.raises(error, match=match):
        _prepare(change(small), positive_label="Yes", folds=5)


@pytest.mark.filterwarnings("ignore:column 'rownames' dropped")
def test_bad_arguments_are_named_in_the_error(small):
    """The library names the argument and its value (the CLI and notebooks speak -p, the library does not)."""
    for kwargs, error, match in [
            ({"folds": 1}, DatasetError, r"^folds must be an integer >= 2 \(folds=1\); e\.g\. folds=5$"),
            ({"test_size": 1.5}, DatasetError, r"^test_size must be a fraction between 0 and 1 \(test_size=1\.5\)"),
            ({"class_weight": "heavy"}, DatasetError, r"\(class_weight='heavy'\); e\.g\. class_weight='balanced'$"),
            ({"task": "clustering"}, DatasetError, r"^task must be one of .*\(task='clustering'\); fix: task='auto'")]:
        with pytest.raises(error, match=match):
            _prepare(small, positive_label="Yes", **kwargs)
    task = _prepare(small, positive_label="Yes", folds=2, models=["dummy"])
    with pytest.raises(ModelError, match=r"^tune_top must be an integer >= 0, 0 for no tuning \(tune_top=-1\)"):
        tabular.compare_models(task, tune_top=-1, verbose=False)
    comp = tabular.compare_models(task, n_jobs=1, verbose=False, ensemble=False)
    with pytest.raises(ModelError, match=r"^threshold must be 'f1' or a number between 0 and 1 \(threshold=1\.5\)"):
        tabular.fit_best(task, comp, threshold=1.5)


@pytest.mark.filterwarnings("ignore:column 'rownames' dropped")
def test_all_missing_feature_dropped_with_warning(small):
    with pytest.warns(UserWarning, match="'empty' dropped \\(all values missing\\)"):
        task = tabular.prepare_task(small.assign(empty=np.nan), "churn", positive_label="Yes")
    assert "empty" not in task.features


def test_unknown_model_and_metric_list_valid_names(small):
    with pytest.raises(ModelError, match="unknown model name.*'xgboost'.*valid models: dummy, logreg, random_forest, "
                                         "hist_gb, catboost, .*presets: all, fast, default"):
        _prepare(small, models=["logreg", "xgboost"])
    with pytest.raises(ModelError, match="unknown ranking metric 'auroc'.*roc_auc"):
        _prepare(small, metric="auroc")
    assert validate_models(["LR", "rf", "hgb", "logreg"]) == ["logreg", "random_forest", "hist_gb"]
    from workbench.evaluation import resolve_metric

    assert resolve_metric("ROC-AUC").key == "roc_auc"


def test_preprocessor_tolerates_unknown_categories(small):
    task = _prepare(small, positive_label="Yes")
    pre = make_preprocessor(task.numeric, task.categorical).fit(task.X_train)
    X = task.X_test.copy()
    X["contract"] = "Ten year"
    out = pre.transform(X)
    assert np.isfinite(out).all() and out.shape[0] == len(X)


# --------------------------------------------------------------------------------------- comparison
class _Broken:
    """An estimator that always fails to fit (a stand-in for a crashing model)."""

    def get_params(self, deep=True):
        return {}

    def fit(self, X, y):
        raise RuntimeError("boom: this model cannot fit")


def test_failing_model_is_an_error_row_and_leaderboard_persisted(small, tmp_path, request):
    REGISTRY.register("broken", ModelSpec("broken", "fails", lambda *a: _Broken(), 0.1))
    request.addfinalizer(lambda: REGISTRY.unregister("broken"))
    task = _prepare(small, positive_label="Yes", folds=3, models=["dummy", "broken", "logreg"])
    comp = tabular.compare_models(task, n_jobs=1, out_dir=tmp_path, verbose=False, race=False)
    lb = comp.leaderboard
    assert lb.index.tolist() == ["logreg", "dummy", "broken"]
    assert lb.loc["broken", "status"] == "error" and "boom" in lb.loc["broken", "error"]
    assert comp.best == "logreg" and lb.loc["logreg", "roc_auc_mean"] > 0.75
    saved = pd.read_csv(tmp_path / "leaderboard.csv", index_col=0)
    assert saved.index.tolist() == lb.index.tolist()
    assert "note" in comp.table().columns and "ensembles need 3" in comp.notes[0]
    assert len(comp.fold_scores) == 6 and not np.isnan(comp.oof["logreg"]).any()


def test_multiclass_parallel_comparison_is_reproducible():
    task = _prepare(_iris(), "species", positive_label="Yes", folds=3, models=["logreg", "hist_gb", "catboost"])
    assert not task.binary and any("ignored" in n for n in task.notes)
    a = tabular.compare_models(task, n_jobs=2, verbose=False, ensemble=False)
    b = tabular.compare_models(task, models=["logreg"], n_jobs=2, verbose=False)
    assert (a.leaderboard["status"] == "ok").all()
    for key in ("roc_auc", "pr_auc", "f1", "log_loss", "brier"):
        assert np.isfinite(a.leaderboard[f"{key}_mean"]).all()
    from sklearn import metrics as skm

    y = np.asarray(task.y_train)
    for name in ("logreg", "hist_gb"):  # each fold's metrics against scikit-learn, averaged: exactly the board
        oof = a.oof[name]
        folds = [(y[va], oof[va]) for _, va in task.folds]
        expect = {"log_loss": [skm.log_loss(t, p / p.sum(1, keepdims=True), labels=task.classes) for t, p in folds],
                  "roc_auc": [skm.roc_auc_score(t, p / p.sum(1, keepdims=True), multi_class="ovr", labels=task.classes)
                              for t, p in folds],
                  "accuracy": [np.mean(np.asarray(task.classes, dtype=object)[p.argmax(1)] == t) for t, p in folds]}
        for key, values in expect.items():
            assert a.leaderboard.loc[name, f"{key}_mean"] == pytest.approx(np.mean(values), rel=1e-9), (name, key)
    assert a.leaderboard.loc["logreg", "roc_auc_mean"] > 0.95
    assert a.leaderboard.loc["logreg", "f1_mean"] == b.leaderboard.loc["logreg", "f1_mean"]
    best = tabular.fit_best(task, a)
    figs = best.diagnostics().parts
    assert "micro-averaged" in figs[0].layout.title.text and len(a.curves().parts) == 3


def test_comparison_without_a_time_guard_fits_in_threads_and_leaves_process_settings(small, monkeypatch):
    """Without max_model_seconds no worker process is started (every fit runs in this process), and the
    process-wide warning filters and BLAS/OpenMP thread limits are as they were before the comparison."""
    from threadpoolctl import threadpool_info

    from workbench.tabular import _cv

    pids, real = [], _cv.fit_fold

    def recording(*args):
        pids.append(os.getpid())
        return real(*args)

    monkeypatch.setattr(_cv, "fit_fold", recording)
    task = _prepare(small, positive_label="Yes", folds=3, models=["logreg", "hist_gb", "catboost"])
    filters, limits = list(warnings.filters), [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    comp = tabular.compare_models(task, n_jobs=2, verbose=False, race=False, ensemble=False)
    assert (comp.leaderboard["status"] == "ok").all() and comp.leaderboard.loc["catboost", "roc_auc_mean"] > 0.8
    assert pids == [os.getpid()] * 9
    assert list(warnings.filters) == filters
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == limits


# ------------------------------------------------------------------------------ refit, save, score
@pytest.fixture(scope="module")
def fitted(small, tmp_path_factory):
    """catboost and logreg refit on a telco slice, each saved to a folder."""
    task = _prepare(small, positive_label="Yes", folds=3, models=["logreg", "catboost"])
    comp = tabular.compare_models(task, n_jobs=1, verbose=False, ensemble=False)
    out = {}
    for name in ("logreg", "catboost"):
        model = tabular.fit_best(task, comp, name).model
        folder = save_model(model, tmp_path_factory.mktemp(name) / "model")
        out[name] = (task, model, folder)
    return out


@pytest.mark.parametrize("name, files", [("logreg", ["model.skops", "model.compiled.safetensors"]),
                                         ("catboost", ["model.cbm"])])
def test_save_load_round_trip_and_sidecar(fitted, small, name, files):
    task, model, folder = fitted[name]
    card = json.loads((folder / "model.json").read_text())
    assert all((folder / f).is_file() for f in files) and list(card["files"]) == files and card["format_version"] == 2
    assert card["details"].get("compiled") == ({"file": files[1], "format": 1} if len(files) > 1 else None)
    assert card["kind"] == "tabular" and card["task"] == "binary" and card["name"] == name
    columns = {c["name"]: c for c in card["input_schema"]["columns"]}
    assert list(columns) == task.features and columns["contract"]["categories"]
    assert columns["tenure"]["dtype"] == "int64" and card["input_schema"]["id_columns"] == ["rownames"]
    assert card["metrics"]["test_metrics"]["roc_auc"] > 0.7 and "mean" in card["metrics"]["cv_metrics"]["roc_auc"]
    assert card["threshold_rule"].startswith("F1-optimal") and card["classes"] == ["No", "Yes"]
    assert card["output_schema"]["columns"] == ["rownames", "prediction", "proba_No", "proba_Yes", "error"]
    loaded = load_model(folder)
    raw = small.loc[task.X_test.index]
    shuffled = raw.sample(frac=1.0, random_state=1)[list(reversed(raw.columns))].assign(extra="ignored")
    expect = model.predict_frame(task.X_test)
    got = score_frame(loaded, shuffled).set_index(shuffled.index).loc[raw.index]
    np.testing.assert_allclose(got[["proba_No", "proba_Yes"]].to_numpy(), expect[["proba_No", "proba_Yes"]].to_numpy(),
                               rtol=0, atol=1e-12)
    assert (got["prediction"].to_numpy() == expect["prediction"].to_numpy()).all()
    assert (got["rownames"].to_numpy() == raw["rownames"].to_numpy()).all()


@pytest.mark.parametrize("name", ["catboost", "logreg"])
def test_scoring_unseen_categories_and_missing_columns(fitted, small, name):
    task, model, folder = fitted[name]
    loaded = load_model(folder)
    df = small.head(20).assign(contract="Ten year", payment_method=np.nan)
    with pytest.warns(UserWarning, match="not seen in training.*contract: 20"):
        out = score_frame(loaded, df)
    assert len(out) == 20 and out["proba_Yes"].between(0, 1).all() and out["error"].isna().all()
    known = score_frame(loaded, small.head(20))
    assert not np.allclose(out["proba_Yes"], known["proba_Yes"]), "the unseen category changed the inputs"
    with pytest.raises(ModelError, match="lacks 2 column.*tenure, contract"):
        score_frame(loaded, small.drop(columns=["tenure", "contract"]))


def test_load_refuses_changed_file_and_untrusted_types(fitted, tmp_path):
    import shutil

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    _, _, folder = fitted["logreg"]
    copy = tmp_path / "m"
    shutil.copytree(folder, copy)
    with open(copy / "model.skops", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match="does not match the sha256"):
        load_model(copy)
    sio.dump(FunctionTransformer(func=operator.neg), copy / "model.skops")
    from workbench.core.io import file_sha256

    card = json.loads((copy / "model.json").read_text())
    card["files"]["model.skops"] = file_sha256(copy / "model.skops")
    (copy / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="outside the allow-list.*operator"):
        load_model(copy)
    with pytest.raises(ModelError, match="no model.json"):
        load_model(tmp_path)


def test_catboost_writes_no_files_in_cwd(small, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    task = _prepare(small, positive_label="Yes", folds=3)
    build_model("catboost", task.numeric, task.categorical).set_params(iterations=20).fit(
        task.X_train, task.y_train)
    assert list(tmp_path.iterdir()) == []


def test_predict_cli_and_score_alias(fitted, small, tmp_path):
    _, model, folder = fitted["catboost"]
    small.head(50).drop(columns=["churn"]).to_csv(tmp_path / "new.csv", index=False)
    proc = run_cli("predict", str(folder), "new.csv", "-o", "out/pred.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "predicted 50 row(s) with tabular model 'catboost'" in proc.stdout
    pred = pd.read_csv(tmp_path / "out/pred.csv")
    assert pred.columns.tolist() == ["rownames", "prediction", "proba_No", "proba_Yes", "error"]
    alias = run_cli("score", str(folder), "new.csv", "-o", "out/pred2.csv", cwd=tmp_path)
    assert alias.returncode == 0 and "alias of `workbench predict`" in alias.stderr
    assert pd.read_csv(tmp_path / "out/pred2.csv").equals(pred)
    assert pred["rownames"].tolist() == small["rownames"].head(50).tolist()
    small.head(5).drop(columns=["tenure"]).to_csv(tmp_path / "bad.csv", index=False)
    proc = run_cli("predict", str(folder), "bad.csv", "-o", "x.csv", cwd=tmp_path)
    assert proc.returncode == 2 and "tenure" in proc.stderr and "lacks 1 column" in proc.stderr
    assert not (tmp_path / "x.csv").exists()


def test_predict_never_overwrites_inputs_the_model_or_files_without_force(fitted, small, tmp_path):
    _, _, folder = fitted["logreg"]
    small.head(20).drop(columns=["churn"]).to_csv(tmp_path / "new.csv", index=False)
    before = (tmp_path / "new.csv").read_bytes()
    cases = [(["-o", "new.csv", "--force"], "an input of this command"),
             (["-o", str(folder / "model.json"), "--force"], "an input of this command"),
             (["-o", str(folder / "preds.csv"), "--force"], "a file in"),
             (["-o", "."], "is a folder")]
    for args, message in cases:
        proc = run_cli("predict", str(folder), "new.csv", *args, cwd=tmp_path)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
    assert (tmp_path / "new.csv").read_bytes() == before and not (folder / "preds.csv").exists()
    (tmp_path / "out.csv").write_text("keep me")
    proc = run_cli("predict", str(folder), "new.csv", "-o", "out.csv", cwd=tmp_path)
    assert proc.returncode == 2 and "exists" in proc.stderr and (tmp_path / "out.csv").read_text() == "keep me"
    proc = run_cli("predict", str(folder), "new.csv", "-o", "out.csv", "--force", cwd=tmp_path)
    assert proc.returncode == 0 and len(pd.read_csv(tmp_path / "out.csv")) == 20


def test_integer_coded_multiclass_target_compares_diagnoses_and_saves(tmp_path):
    from sklearn.datasets import load_wine

    d = load_wine(as_frame=True)
    df = d.frame.rename(columns={"target": "cultivar"})  # 0, 1, 2
    task = _prepare(df, "cultivar", folds=3, models=["logreg", "random_forest"])
    assert task.classes == [0, 1, 2] and not task.binary
    comp = tabular.compare_models(task, n_jobs=1, verbose=False, ensemble=False)
    assert (comp.leaderboard["status"] == "ok").all() and comp.leaderboard["f1_mean"].min() > 0.8
    best = tabular.fit_best(task, comp)
    assert len(best.diagnostics().parts) >= 5
    folder = tabular.save(best, tmp_path)
    assert folder == tmp_path / "model"
    saved = pd.read_csv(tmp_path / "test_predictions.csv")
    assert saved.columns.tolist() == ["row", "cultivar", "prediction", "proba_0", "proba_1", "proba_2", "error"]
    assert saved["row"].tolist() == task.X_test.index.tolist() and (saved["cultivar"] == task.y_test).all()
    out = workbench.load_model(folder).predict(df.drop(columns=["cultivar"]).head(10))
    assert out.columns.tolist()[-4:] == ["proba_0", "proba_1", "proba_2", "error"]
    assert set(out["prediction"]) <= {0, 1, 2}
