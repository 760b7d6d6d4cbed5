"""The compiled record scorer gives the DataFrame path's probabilities (1e-9) for every registry model."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import tabular
from workbench.models import load
from workbench.tabular._fitted import TabularModel
from workbench.tabular._persist import save_model
from workbench.tabular._registry import build_model
from workbench.tabular._scorer import category, number, one_thread


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    df = workbench.load_dataset("telco_churn").frame.iloc[:700].copy()
    df["senior"] = df["senior_citizen"].astype(bool)  # a boolean categorical column
    df.loc[::17, "monthly_charges"] = np.nan
    df.loc[::13, "contract"] = None
    return df


def _saved(df: pd.DataFrame, target: str, name: str, folder) -> object:
    """A registry model fitted directly (no comparison: only the fitted parameters matter here), saved, loaded."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(df, target, folds=2, models=[name])
        est = build_model(name, task.numeric, task.categorical, seed=0)
        if hasattr(est, "iterations"):
            est.set_params(iterations=30)
        else:
            small = {"model__n_estimators": 20, "model__max_iter": 20}
            est.set_params(**{k: v for k, v in small.items() if k in est.get_params()})
        est.fit(task.X_train, task.y_train)
    ids = [c for c, why in task.dropped.items() if why.startswith("ID")]
    model = TabularModel(name=name, estimator=est, numeric=task.numeric, categorical=task.categorical,
                                 classes=task.classes, positive_label=task.positive_label, threshold=0.35,
                                 id_columns=ids, meta={"categories": task.categories, "dtypes": task.dtypes})
    return load(save_model(model, folder))


def _odd_records(df: pd.DataFrame, target: str) -> list[dict]:
    """Real rows, then the awkward ones: missing keys' values, unseen categories, numbers as text,
    booleans and whole floats where text is expected."""
    recs = df.drop(columns=[target]).head(100).to_dict("records")  # over FEW_ROWS: the vectorized path
    first = dict(recs[0])
    recs += [
        {**first, "tenure": None, "contract": "Decade", "payment_method": None},
        {**first, "tenure": "12", "monthly_charges": " 70.5 ", "total_charges": "n/a"},
        {**first, "senior": 1.0, "internet_service": float("nan"), "total_charges": np.float32(3.5)},
        {**first, "senior": np.True_, "tenure": np.int64(7), "contract": np.str_("One year")},
    ]
    return recs


@pytest.mark.parametrize("name", ["logreg", "hist_gb", "random_forest", "dummy", "catboost"])
def test_records_path_equals_the_frame_path(telco, tmp_path, name):
    predictor = _saved(telco, "churn", name, tmp_path / name)
    assert predictor.scorer is not None, f"{name} was not compiled"
    recs = _odd_records(telco, "churn")
    with warnings.catch_warnings(), one_thread():
        warnings.simplefilter("ignore")
        expected = pd.concat([predictor.predict(pd.DataFrame([r])) for r in recs], ignore_index=True)
    for batch in (recs, recs[:1], recs[:5]):  # the vectorized and the few-rows paths
        got = pd.DataFrame(predictor.predict_records(batch))
        want = expected.iloc[: len(batch)]
        np.testing.assert_allclose(got[["proba_No", "proba_Yes"]].to_numpy(),
                                   want[["proba_No", "proba_Yes"]].to_numpy(), rtol=0, atol=1e-9)
        assert got["prediction"].tolist() == want["prediction"].tolist()
        assert got["rownames"].tolist() == want["rownames"].tolist() and got["error"].isna().all()


def test_multiclass_logistic_regression(tmp_path):
    from sklearn.datasets import load_iris

    d = load_iris(as_frame=True)
    df = d.frame.rename(columns={"target": "species"})
    df["species"] = np.asarray(d.target_names)[df["species"]]
    predictor = _saved(df, "species", "logreg", tmp_path / "iris")
    recs = df.drop(columns="species").to_dict("records")
    got = pd.DataFrame(predictor.predict_records(recs))
    want = predictor.predict(df.drop(columns="species"))
    cols = [f"proba_{c}" for c in predictor.classes]
    np.testing.assert_allclose(got[cols].to_numpy(), want[cols].to_numpy(), rtol=0, atol=1e-9)
    one = pd.DataFrame(predictor.predict_records(recs[:3]))
    np.testing.assert_allclose(one[cols].to_numpy(), want[cols].to_numpy()[:3], rtol=0, atol=1e-9)
    assert got["prediction"].tolist() == want["prediction"].tolist()


def test_missing_columns_are_named_and_cells_read_like_coerce_frame(telco, tmp_path):
    predictor = _saved(telco, "churn", "logreg", tmp_path / "m")
    rec = telco.drop(columns=["churn", "tenure"]).head(1).to_dict("records")
    with pytest.raises(workbench.ModelError, match="lacks 1 column.*tenure"):
        predictor.predict_records(rec)
    assert [category(v) for v in (None, "a", True, 1, 1.0, 1.5, float("nan"), np.int64(3))] == \
        [None, "a", "True", "1", "1", "1.5", None, "3"]
    assert np.isnan(number("x")) and number("2.5") == 2.5 and np.isnan(number(None)) and number(True) == 1.0
    assert np.isnan(number(10 ** 400)) and np.isnan(number("inf"))
