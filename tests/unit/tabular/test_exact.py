"""Tabular results checked exactly: fold preprocessing sees only the fold's training rows, lower-is-better
metrics rank lower first, and the leaderboard's numbers are the folds' own metrics."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from workbench import tabular
from workbench.data import load_dataset
from workbench.evaluation import resolve_metric
from workbench.tabular._board import sorted_board
from workbench.tabular._fold import FoldData
from workbench.tabular._prep import make_preprocessor


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return load_dataset("telco_churn").frame.sample(600, random_state=0).reset_index(drop=True)


def _prepare(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return tabular.prepare_task(df, "churn", positive_label="Yes", **kw)


def test_fold_preprocessing_is_fitted_on_the_folds_training_rows_only():
    x = np.array([0.0, 2.0, 4.0, 6.0, 100.0, 200.0])
    task = SimpleNamespace(X_train=pd.DataFrame({"x": x}), folds=[(np.arange(4), np.arange(4, 6))])
    est = Pipeline([("prep", StandardScaler()), ("model", LogisticRegression())])
    model, tr, va = FoldData(task).split(est, 0)
    mean, std = 3.0, np.sqrt(5.0)  # of 0, 2, 4, 6: the validation rows 100 and 200 must not move them
    np.testing.assert_allclose(tr.ravel(), (x[:4] - mean) / std)
    np.testing.assert_allclose(va.ravel(), (x[4:] - mean) / std)
    assert model is est.steps[-1][1]


def test_preprocessor_output_is_exact_and_unknown_categories_are_all_zero():
    train = pd.DataFrame({"n": [1.0, 3.0, np.nan, 5.0], "c": ["a", "b", "a", None]})
    pre = make_preprocessor(["n"], ["c"]).fit(train)
    out = pre.transform(pd.DataFrame({"n": [3.0, np.nan, 7.0], "c": ["b", "zzz", "a"]}))
    # numeric: median 3 imputed, then (x - 3) / std(1, 3, 3, 5) = (x - 3) / sqrt(2); one-hot: missing, a, b
    s = np.sqrt(2.0)
    np.testing.assert_allclose(out, [[0.0, 0, 0, 1], [0.0, 0, 0, 0], [4 / s, 0, 1, 0]])
    assert list(pre.get_feature_names_out())[2:] == ["c_a", "c_b"]


def test_lower_is_better_metrics_rank_the_lowest_first():
    for key in ("log_loss", "brier"):
        assert resolve_metric(key).greater_is_better is False, key
    for key in ("rmse", "mae", "medae", "mape"):
        assert resolve_metric(key, "regression").greater_is_better is False, key
    assert resolve_metric("r2", "regression").greater_is_better is True
    for key in ("roc_auc", "accuracy", "f1"):
        assert resolve_metric(key).greater_is_better is True, key
    records = [{"model": m, "status": "ok", "log_loss_mean": v} for m, v in (("dummy", 0.58), ("logreg", 0.41),
                                                                            ("tree", 0.47))]
    assert sorted_board(records, resolve_metric("log_loss")).index.tolist() == ["logreg", "tree", "dummy"]
    records = [{"model": m, "status": "ok", "roc_auc_mean": v} for m, v in (("dummy", 0.5), ("logreg", 0.84))]
    assert sorted_board(records, resolve_metric("roc_auc")).index.tolist() == ["logreg", "dummy"]


def test_log_loss_ranking_picks_the_real_model_over_the_dummy(small):
    task = _prepare(small, folds=3, models=["dummy", "logreg"], metric="log_loss")
    comp = tabular.compare_models(task, n_jobs=1, verbose=False, race=False, ensemble=False)
    lb = comp.leaderboard
    assert comp.best == "logreg" and lb.index.tolist() == ["logreg", "dummy"]
    assert lb.loc["logreg", "log_loss_mean"] < lb.loc["dummy", "log_loss_mean"]
    # the leaderboard's numbers are the folds' own metrics of the out-of-fold predictions, exactly
    y = (np.asarray(task.y_train) == "Yes").astype(int)
    for name in ("logreg", "dummy"):
        per_fold = [skm.log_loss(y[va], comp.oof[name][va][:, 1], labels=[0, 1]) for _, va in task.folds]
        assert lb.loc[name, "log_loss_mean"] == pytest.approx(np.mean(per_fold), rel=1e-12)
        assert lb.loc[name, "folds_done"] == 3
    dummy_p = comp.oof["dummy"][:, -1]
    for tr, va in task.folds:  # the dummy predicts each fold's training share of churners
        assert dummy_p[va] == pytest.approx(np.full(len(va), y[tr].mean()), rel=1e-12)
