"""The whole-batch scorer (``Predictor.predict_arrow``) writes what ``predict`` on a DataFrame writes."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import workbench
from workbench import tabular
from workbench.models import Predictor, load
from workbench.tabular._fitted import TabularModel
from workbench.tabular._persist import save_model
from workbench.tabular._registry import build_model


def _fit(df: pd.DataFrame, target: str, name: str, folder, task_kind: str = "auto"):
    """A registry model fitted directly on the training split, saved and loaded; the raw held-out rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(df, target, folds=2, models=[name], task=task_kind)
        est = build_model(name, task.numeric, task.categorical, seed=0,
                          task="regression" if task.regression else "binary")
        small = {"model__n_estimators": 20, "model__max_iter": 20, "iterations": 30}
        est.set_params(**{k: v for k, v in small.items() if k in est.get_params()})
        est.fit(task.X_train, task.y_train)
    ids = [c for c, why in task.dropped.items() if why.startswith("ID")]
    model = TabularModel(name=name, estimator=est, numeric=task.numeric, categorical=task.categorical,
                         classes=task.classes, positive_label=task.positive_label, threshold=0.35, id_columns=ids,
                         meta={"categories": task.categories, "dtypes": task.dtypes}, task=task.kind)
    predictor = load(save_model(model, folder))
    # a compiled folder's predictor hands Arrow batches to the skops pipeline's (``_load.CompiledPredictor.full``)
    return getattr(predictor, "full", predictor), df.loc[task.X_test.index].drop(columns=[target])


def _same(predictor, batch, atol: float = 1e-12) -> pa.Table:
    """The whole-array table equals the DataFrame path's: schema, labels, IDs and errors exactly, numbers to atol."""
    assert predictor._arrays is not False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = Predictor.predict_arrow(predictor, batch)  # pa.Table.from_pandas(predict(frame))
        got = predictor._arrays.table(batch)
    assert got is not None, "the batch took the DataFrame path"
    assert got.schema == want.schema.remove_metadata()
    for c in want.column_names:
        if pa.types.is_floating(want.schema.field(c).type):
            a, b = (t.column(c).to_numpy(zero_copy_only=False) for t in (got, want))
            assert (np.isnan(a) == np.isnan(b)).all()
            np.testing.assert_allclose(a, b, rtol=0, atol=atol, equal_nan=True)
        else:
            assert got.column(c).to_pylist() == want.column(c).to_pylist(), c
    return got


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return workbench.load_dataset("telco_churn").frame


@pytest.mark.parametrize("name", ["logreg", "random_forest", "hist_gb"])
def test_telco_test_rows_score_as_the_frame_path(telco, tmp_path, name):
    predictor, rows = _fit(telco, "churn", name, tmp_path / name)
    predictor.predict_arrow(pa.Table.from_pandas(rows.head(3), preserve_index=False))  # compiles
    got = _same(predictor, pa.Table.from_pandas(rows, preserve_index=False))
    assert got.num_rows == len(rows) and set(got.column("prediction").to_pylist()) == {"No", "Yes"}


def test_awkward_columns_score_as_the_frame_path(telco, tmp_path):
    """Nulls in numbers and categories, an unseen category (warned), a boolean, whole floats and a dictionary
    column as categories, text stored as large_string, several chunks."""
    df = telco.iloc[:2000].copy()
    df["senior"] = df["senior_citizen"].astype(bool)
    plan = np.where(df["tenure"] % 3 == 0, 1.0, np.where(df["tenure"] % 3 == 1, 2.0, np.nan))
    df["plan"] = pd.Series(plan, index=df.index).map({1.0: "1", 2.0: "2"})  # text in training
    df["tier"] = (df["tenure"] % 2).map({0: "0", 1: "1"})
    df.loc[::7, "monthly_charges"] = np.nan
    df.loc[::11, "contract"] = None
    predictor, rows = _fit(df, "churn", "logreg", tmp_path / "m")
    assert {"senior", "plan", "tier"} <= set(predictor.model.categorical)
    rows = rows.copy()
    rows["plan"] = rows["plan"].astype(float)  # whole floats with gaps and integers read as the text "1"
    rows["tier"] = rows["tier"].astype(int)
    rows.iloc[:5, rows.columns.get_loc("payment_method")] = "Barter"
    table = pa.Table.from_pandas(rows, preserve_index=False)
    table = table.set_column(table.schema.get_field_index("contract"), "contract",
                             table.column("contract").cast(pa.large_string()).dictionary_encode())
    table = pa.concat_tables([table.slice(0, 100), table.slice(100)])
    with pytest.warns(UserWarning, match="payment_method: 5 row"):
        predictor.predict_arrow(table)
    _same(predictor, table)


def test_batches_it_does_not_read_take_the_frame_path(telco, tmp_path):
    """An infinite number, numbers stored as text, a missing column: None, and predict_arrow gives the
    DataFrame path's table (errors and refusals included)."""
    predictor, rows = _fit(telco.iloc[:1500], "churn", "logreg", tmp_path / "m")
    rows = rows.head(50).reset_index(drop=True)
    table = pa.Table.from_pandas(rows, preserve_index=False)
    predictor.predict_arrow(table)
    inf = pa.Table.from_pandas(rows.assign(tenure=rows["tenure"].astype(float).where(rows.index != 3, np.inf)),
                               preserve_index=False)
    text = pa.Table.from_pandas(rows.assign(tenure=rows["tenure"].astype(str)), preserve_index=False)
    for batch in (inf, text):
        assert predictor._arrays.table(batch) is None
    out = predictor.predict_arrow(inf).to_pandas()
    assert "infinite" in out.loc[3, "error"] and out["error"].notna().sum() == 1
    assert predictor.predict_arrow(text).column("error").null_count == 50
    with pytest.raises(workbench.ModelError, match="lacks 1 column.*tenure"):
        predictor.predict_arrow(table.drop(["tenure"]))


@pytest.mark.parametrize("name", ["ridge", "random_forest"])
def test_ames_regression_scores_as_the_frame_path(tmp_path, name):
    ames = workbench.load_dataset("ames").frame
    predictor, rows = _fit(ames, "log10_sale_price", name, tmp_path / name, task_kind="regression")
    batch = pa.Table.from_pandas(rows, preserve_index=False)
    predictor.predict_arrow(batch.slice(0, 2))
    got = _same(predictor, batch, atol=1e-12)
    assert got.column_names[-2:] == ["prediction", "error"] and got.num_rows == len(rows)


def test_catboost_scores_as_the_frame_path(telco, tmp_path):
    """CatBoost on whole arrays (its own batch predict on a pool of Categoricals): classifier on Telco with
    awkward cells, regressor on Ames; text read as dictionaries (the batch reader's way) scores the same."""
    df = telco.iloc[:1500].copy()
    df.loc[::7, "monthly_charges"] = np.nan
    df.loc[::11, "contract"] = None
    predictor, rows = _fit(df, "churn", "catboost", tmp_path / "cb")
    rows = rows.copy()
    rows.iloc[:3, rows.columns.get_loc("payment_method")] = "Barter"
    batch = pa.Table.from_pandas(rows, preserve_index=False)
    predictor.predict_arrow(batch.slice(0, 2))
    assert type(predictor._arrays).__name__ == "CatBoostArrays"
    _same(predictor, batch)
    _, encoded = predictor.arrow_columns(batch.schema)
    assert "contract" in encoded
    as_read = batch
    for c in encoded:
        as_read = as_read.set_column(as_read.column_names.index(c), c, pc.dictionary_encode(as_read.column(c)))
    assert predictor._arrays.table(as_read).equals(predictor._arrays.table(batch))
    ames = workbench.load_dataset("ames").frame.iloc[:1500]
    predictor, rows = _fit(ames, "log10_sale_price", "catboost", tmp_path / "cbr", task_kind="regression")
    batch = pa.Table.from_pandas(rows, preserve_index=False)
    predictor.predict_arrow(batch.slice(0, 2))
    _same(predictor, batch)
