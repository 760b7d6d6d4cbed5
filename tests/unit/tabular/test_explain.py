"""Explanations of saved tabular models on the real Telco test split: base + contributions = the model's margin
(1e-6), one contribution per input column, the exact method where the model has one."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import tabular
from workbench.errors import ModelError
from workbench.models import load
from workbench.models._explain import check_k
from workbench.tabular._explain import background
from workbench.tabular._features import coerce_frame
from workbench.tabular._fitted import TabularModel
from workbench.tabular._persist import save_model
from workbench.tabular._registry import build_model

SMALL = {"model__n_estimators": 30, "model__max_iter": 30}


@pytest.fixture(scope="module")
def task():
    df = workbench.load_dataset("telco_churn").frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tabular.prepare_task(df, "churn", positive_label="Yes", folds=2, models=["logreg"])


def _save(task, name: str, folder, est=None):
    """A registry model (or ``est``) fitted on the train split, saved with its explanation background, loaded."""
    if est is None:
        est = build_model(name, task.numeric, task.categorical, seed=0, task=task.kind)
        if hasattr(est, "iterations"):
            est.set_params(iterations=60)
        else:
            est.set_params(**{k: v for k, v in SMALL.items() if k in est.get_params()})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(task.X_train, task.y_train)
    meta = {"categories": task.categories, "dtypes": task.dtypes,
            "explain_background": background(task.X_train, task.numeric, task.categorical)}
    model = TabularModel(name=name, estimator=est, numeric=task.numeric, categorical=task.categorical,
                         classes=task.classes, positive_label=task.positive_label, meta=meta, task=task.kind)
    return load(save_model(model, folder))


def _margin(predictor, X: pd.DataFrame) -> np.ndarray:
    """The model's own raw output for the positive class, computed without the explainer."""
    m = predictor.model
    est = m.estimator
    Xc = coerce_frame(X, m.numeric, m.categorical)
    if hasattr(est, "model_"):  # CatBoost
        from catboost import Pool

        pool = Pool(est._frame(Xc), cat_features=[c for c in est.feature_names_in_ if c in est.cat_features_])
        return np.asarray(est.model_.predict(pool, prediction_type="RawFormulaVal"), dtype=float)
    ct, final = est.steps[0][1], est.steps[1][1]
    if hasattr(final, "decision_function"):
        return np.asarray(final.decision_function(ct.transform(Xc)), dtype=float)
    return m.predict_proba(X)[:, 1]


@pytest.mark.parametrize("name,method,output", [
    ("logreg", "linear", "log-odds of 'Yes'"),
    ("catboost", "catboost", "log-odds of 'Yes'"),
    ("hist_gb", "tree", "log-odds of 'Yes'"),
    ("random_forest", "tree", "probability of 'Yes'"),
    ("lda", "linear", "log-odds of 'Yes'"),  # binary LDA: its decision function is its log-odds, linear
])
def test_exact_explanations_add_up_to_the_margin(task, tmp_path, name, method, output):
    predictor = _save(task, name, tmp_path / name)
    assert predictor.explainer.method == method
    X = task.X_test
    assert len(X) == 1409
    e = predictor.explainer.explain(X)
    assert e.features == task.numeric + task.categorical and e.values.shape == (1409, len(e.features))
    assert e.output == output
    np.testing.assert_allclose(e.margin, _margin(predictor, X), rtol=0, atol=1e-6)
    # the records path (the server's) gives the same numbers
    recs = X.iloc[:5].astype(object).where(X.iloc[:5].notna(), None).to_dict("records")
    r = predictor.explainer.explain_records(recs)
    np.testing.assert_allclose(r.values, e.values[:5], rtol=0, atol=1e-9)


def test_linear_shap_is_the_coefficients_in_original_columns(task, tmp_path):
    """One-hot parts summed back to their column, the scaled numeric through the scaler: contract's contribution
    is w[contract=value] minus the background's mean of w over contract's one-hot columns."""
    predictor = _save(task, "logreg", tmp_path / "lr")
    pipe = predictor.model.estimator
    ct, final = pipe.steps[0][1], pipe.steps[1][1]
    names = list(ct.get_feature_names_out())
    w = dict(zip(names, final.coef_[0]))
    row = task.X_test.iloc[[0]]
    bg = coerce_frame(pd.DataFrame(predictor.model.meta["explain_background"]["columns"]), task.numeric,
                      task.categorical)
    e = predictor.explainer.explain(row)
    j = e.features.index("contract")
    cats = [n for n in names if n.startswith("contract_")]
    expected = w[f"contract_{row['contract'].iloc[0]}"] - np.mean([w[f"contract_{v}"] for v in bg["contract"]])
    assert len(cats) == 3 and e.values[0, j] == pytest.approx(expected, abs=1e-12)
    t = e.features.index("tenure")
    scaler = ct.named_transformers_["num"].steps[1][1]
    i = task.numeric.index("tenure")
    scaled = (row["tenure"].iloc[0] - scaler.mean_[i]) / scaler.scale_[i]
    bg_scaled = ((bg["tenure"].fillna(ct.named_transformers_["num"].steps[0][1].statistics_[i]) - scaler.mean_[i])
                 / scaler.scale_[i]).mean()
    assert e.values[0, t] == pytest.approx(w["tenure"] * (scaled - bg_scaled), abs=1e-12)


def test_permutation_explainer_is_additive_within_its_budget(task, tmp_path):
    predictor = _save(task, "naive_bayes", tmp_path / "nb")
    assert predictor.explainer.method == "permutation"
    X = task.X_test.iloc[:30]
    e = predictor.explainer.explain(X)
    p = np.clip(predictor.model.predict_proba(X)[:, 1], 1e-12, 1 - 1e-12)
    np.testing.assert_allclose(e.margin, np.log(p / (1 - p)), rtol=0, atol=1e-6)
    assert "2,000" in e.method or "model evaluations per row" in e.method
    assert np.abs(e.values).sum() > 0


def test_stacking_is_its_members_weighted(task, tmp_path):
    from workbench.tabular._ensemble import Ensemble

    members = []
    for name in ("logreg", "catboost"):
        est = build_model(name, task.numeric, task.categorical, seed=0, task=task.kind)
        if hasattr(est, "iterations"):
            est.set_params(iterations=40)
        members.append((name, est))
    ens = Ensemble(members, "stacking", "binary", list(task.classes), [[0.7, 0.5]], [-0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ens.fit(task.X_train, task.y_train)
    predictor = _save(task, "stacking", tmp_path / "stack", est=ens)
    assert predictor.explainer.method == "ensemble"
    X = task.X_test.iloc[:200]
    e = predictor.explainer.explain(X)
    p = predictor.model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(e.margin, np.log(p / (1 - p)), rtol=0, atol=1e-6)


def test_soft_voting_is_its_members_carried_through_the_sigmoid(task, tmp_path):
    """A classifier's voting (the demo's usual winner): each member's exact explanation (linear, CatBoost, a
    forest's probability) carried through the sigmoid in proportion and averaged; adds up to the log-odds of the
    mean probability on every test row. One member alone gives back its own contributions."""
    from workbench.tabular._ensemble import Ensemble

    members = []
    for name in ("logreg", "catboost", "random_forest"):
        est = build_model(name, task.numeric, task.categorical, seed=0, task=task.kind)
        est.set_params(**({"iterations": 40} if hasattr(est, "iterations") else
                          {k: v for k, v in SMALL.items() if k in est.get_params()}))
        members.append((name, est))
    ens = Ensemble(members, "voting", "binary", list(task.classes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ens.fit(task.X_train, task.y_train)
    predictor = _save(task, "voting", tmp_path / "voting", est=ens)
    assert predictor.explainer.method == "ensemble"
    e = predictor.explainer.explain(task.X_test)
    p = predictor.model.predict_proba(task.X_test)[:, 1]
    assert e.output == "log-odds of 'Yes'" and "soft voting" in e.method
    np.testing.assert_allclose(e.margin, np.log(p / (1 - p)), rtol=0, atol=1e-6)
    alone = _save(task, "voting1", tmp_path / "voting1", est=Ensemble(members[:1], "voting", "binary",
                                                                         list(task.classes)))
    lr = _save(task, "logreg", tmp_path / "lr", est=members[0][1])
    np.testing.assert_allclose(alone.explainer.explain(task.X_test).values, lr.explainer.explain(task.X_test).values,
                               rtol=0, atol=1e-9)


def test_predict_adds_the_top_k_columns(task, tmp_path):
    predictor = _save(task, "logreg", tmp_path / "lr")
    out = predictor.explain(task.X_test.iloc[:10], 3)
    assert [c for c in out.columns if c.startswith("explain_")] == [
        "explain_1_feature", "explain_1_value", "explain_2_feature", "explain_2_value",
        "explain_3_feature", "explain_3_value"]
    e = predictor.explainer.explain(task.X_test.iloc[:10])
    j = np.abs(e.values).argmax(axis=1)
    assert out["explain_1_feature"].tolist() == [e.features[i] for i in j]
    assert (out["explain_1_value"].abs() >= out["explain_2_value"].abs()).all()


@pytest.mark.parametrize("bad", [0, -1, "x", 1.5, True, "2.0", None])
def test_k_must_be_a_positive_integer(bad):
    with pytest.raises(ModelError, match=r"explain must be a positive integer"):
        check_k(bad)


def test_a_model_saved_without_background_says_how_to_fix(task, tmp_path):
    predictor = _save(task, "logreg", tmp_path / "lr")
    del predictor.model.meta["explain_background"]
    with pytest.raises(ModelError, match=r"no explanation background.*re-save"):
        predictor.explainer.explain(task.X_test.iloc[:2])


def test_predict_cli_explain(task, tmp_path):
    from support import run_cli

    folder = tmp_path / "lr"
    predictor = _save(task, "logreg", folder)
    rows = task.X_test.iloc[:25]
    rows.to_csv(tmp_path / "new.csv", index=False)
    proc = run_cli("predict", str(folder), "new.csv", "-o", "pred.csv", "--explain", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert pred.columns.tolist()[-4:] == ["explain_1_feature", "explain_1_value", "explain_2_feature", "explain_2_value"]
    want = predictor.explain(rows, 2)
    assert pred["explain_1_feature"].tolist() == want["explain_1_feature"].tolist()
    np.testing.assert_allclose(pred["explain_2_value"], want["explain_2_value"].astype(float), rtol=1e-12)
    # TreeSHAP through shap: no warning from shap's import on the CLI's stderr
    _save(task, "hist_gb", tmp_path / "hgb")
    proc = run_cli("predict", str(tmp_path / "hgb"), "new.csv", "-o", "hgb.csv", "--explain", "2", cwd=tmp_path)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
    for bad in ("0", "x", "-3"):
        proc = run_cli("predict", str(folder), "new.csv", "-o", "bad.csv", "--explain", bad, cwd=tmp_path)
        assert proc.returncode == 2 and "explain must be a positive integer" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and not (tmp_path / "bad.csv").exists()


def test_a_multiclass_model_says_explanations_do_not_cover_it(tmp_path):
    from sklearn.datasets import load_iris
    from support import run_cli

    df = load_iris(as_frame=True).frame
    df["target"] = df["target"].map({0: "a", 1: "b", 2: "c"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = tabular.prepare_task(df, "target", folds=2, models=["logreg"])
    _save(t, "logreg", tmp_path / "iris")
    t.X_test.to_csv(tmp_path / "rows.csv", index=False)
    proc = run_cli("predict", str(tmp_path / "iris"), "rows.csv", "-o", "out.csv", "--explain", "2", cwd=tmp_path)
    assert proc.returncode == 2 and "is multiclass: explanations cover binary classification and regression" in \
        proc.stderr, proc.stderr
    assert not (tmp_path / "out.csv").exists()


def test_report_sections_explain_the_test_split(task):
    import plotly.graph_objects as go

    from workbench.evaluation import Note, Panel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comp = tabular.compare_models(task, n_jobs=1, verbose=False)
        best = tabular.fit_best(task, comp)
    panel = best.explanations()
    assert isinstance(panel, Panel) and isinstance(panel.parts[0], Note) and "linear SHAP (exact)" in panel.parts[0].text
    bar, swarm, dep = panel.parts[1:]
    assert all(isinstance(f, go.Figure) for f in (bar, swarm, dep))
    e = best._explained()[0]
    top = e.features[int(np.abs(e.values).mean(axis=0).argmax())]
    assert bar.data[0].y[0] == top and len(swarm.data) == 12 and len(dep.data) == 4
    mistakes = best.explained_mistakes(2)
    assert len(mistakes.parts) == 2
    w = mistakes.parts[0].data[0]
    # the worst mistake: the least probability on the true class; its waterfall ends at its margin
    p_true = np.where(task.y_test == "Yes", best.test_pred[:, 1], best.test_pred[:, 0])
    worst = int(np.argmin(p_true))
    assert mistakes.parts[0].layout.title.text.startswith(f"Test row {task.X_test.index[worst]}:")
    assert sum(w.x[:-1]) == pytest.approx(np.log(best.test_pred[worst, 1] / best.test_pred[worst, 0]), abs=1e-6)


def test_regressions_and_their_voting_add_up_to_the_value(tmp_path):
    """Ames (log10 sale price): ridge and Bayesian ridge (linear SHAP), CatBoost, and a voting (members weighted 1/2)."""
    from workbench.tabular._ensemble import Ensemble

    df = workbench.load_dataset("ames").frame.iloc[:800]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = tabular.prepare_task(df, "log10_sale_price", folds=2, models=["ridge"])
    ridge = _save(t, "ridge", tmp_path / "ridge")
    bayes = _save(t, "bayesian_ridge", tmp_path / "bayes")
    cb = _save(t, "catboost", tmp_path / "cb")
    members = [(n, build_model(n, t.numeric, t.categorical, seed=0, task=t.kind)) for n in ("ridge", "catboost")]
    members[1][1].set_params(iterations=40)
    ens = Ensemble(members, "voting", "regression", [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ens.fit(t.X_train, t.y_train)
    voting = _save(t, "voting", tmp_path / "voting", est=ens)
    for predictor, method in ((ridge, "linear"), (bayes, "linear"), (cb, "catboost"), (voting, "ensemble")):
        e = predictor.explainer.explain(t.X_test)
        assert predictor.explainer.method == method and e.output == "value"
        np.testing.assert_allclose(e.margin, predictor.model.predict(t.X_test), rtol=0, atol=1e-6)
