"""Fairness by group on real Telco predictions: equal to fairlearn's MetricFrame and parity gaps to 1e-9."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench.errors import ModelError
from workbench.evaluation import fairness_figure, fairness_gaps, group_table, headline_gaps, proportion_interval


@pytest.fixture(scope="module")
def telco():
    """Out-of-sample predictions of a logistic regression on the Telco churn table (test half)."""
    from sklearn.linear_model import LogisticRegression

    from workbench import load_dataset

    df = load_dataset("telco_churn").frame.dropna().reset_index(drop=True)
    y = (df["churn"] == "Yes").to_numpy().astype(int)
    X = pd.get_dummies(df.drop(columns=["churn", "rownames"]), dtype=float).to_numpy()
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-9)
    half = len(df) // 2
    score = LogisticRegression(max_iter=500).fit(X[:half], y[:half]).predict_proba(X[half:])[:, 1]
    groups = df.loc[half:, ["female", "senior_citizen"]].reset_index(drop=True)
    return y[half:], (score >= 0.4).astype(int), score, groups


def test_group_rates_equal_fairlearn_metricframe(telco):
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import precision_score, roc_auc_score

    y, pred, score, groups = telco
    table = group_table(y, pred, groups, score)
    metrics = {"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate,
               "precision": lambda a, b: precision_score(a, b, zero_division=0)}
    for col in ["female", "senior_citizen"]:
        mf = MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=groups[col].astype(str))
        auc = MetricFrame(metrics=roc_auc_score, y_true=y, y_pred=score, sensitive_features=groups[col].astype(str))
        mine = table[table["feature"] == col].set_index("group")
        assert sorted(mine.index) == sorted(mf.by_group.index.astype(str))
        for g, row in mf.by_group.iterrows():
            for key in metrics:
                assert abs(mine.loc[str(g), key] - row[key]) < 1e-9, (col, g, key)
            assert abs(mine.loc[str(g), "roc_auc"] - auc.by_group.loc[g]) < 1e-9
    # intersections: all four Telco cells have far more than 30 rows, so each gets a row
    joint = table[table["feature"] == "female × senior_citizen"]
    mf = MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=groups.astype(str))
    assert len(joint) == len(mf.by_group) == 4
    auc = MetricFrame(metrics=roc_auc_score, y_true=y, y_pred=score, sensitive_features=groups.astype(str))
    for (f, s), row in mf.by_group.iterrows():
        mine = joint.set_index("group").loc[f"{f} × {s}"]
        for key in metrics:
            assert abs(mine[key] - row[key]) < 1e-9, (f, s, key)
        assert abs(mine["roc_auc"] - auc.by_group.loc[(f, s)]) < 1e-9


def test_gaps_equal_fairlearn(telco):
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
    )

    y, pred, _, groups = telco
    gaps = fairness_gaps(y, pred, groups).set_index("feature")
    for feature, sf in [("female", groups["female"]), ("senior_citizen", groups["senior_citizen"]),
                        ("female × senior_citizen", groups)]:
        sf = sf.astype(str)
        assert abs(gaps.loc[feature, "dp_difference"] - demographic_parity_difference(y, pred, sensitive_features=sf)) < 1e-9
        assert abs(gaps.loc[feature, "dp_ratio"] - demographic_parity_ratio(y, pred, sensitive_features=sf)) < 1e-9
        assert abs(gaps.loc[feature, "eo_difference"] - equalized_odds_difference(y, pred, sensitive_features=sf)) < 1e-9
        assert abs(gaps.loc[feature, "eo_ratio"] - equalized_odds_ratio(y, pred, sensitive_features=sf)) < 1e-9
    head = headline_gaps(gaps.reset_index(), ["female", "senior_citizen"])
    assert head["dp_difference"] == max(gaps.loc["female", "dp_difference"], gaps.loc["senior_citizen", "dp_difference"])
    assert head["eo_difference_senior_citizen"] == gaps.loc["senior_citizen", "eo_difference"]


def test_intervals_are_wilson_and_delong_and_small_intersections_are_left_out():
    from workbench.evaluation import auc_interval

    y = np.array([1, 1, 0, 0, 1, 0, 1, 0, 0, 0])
    pred = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0, 0])
    score = np.linspace(0.9, 0.1, 10)
    g = pd.DataFrame({"a": list("xxxxxyyyyy"), "b": list("pqpqpqpqpq")})
    table = group_table(y, pred, g, score, min_rows=3).set_index(["feature", "group"])
    x = table.loc[("a", "x")]
    assert (x["tpr"], x["tpr_low"], x["tpr_high"]) == proportion_interval(2, 3)  # TP 2 of 3 positives
    assert (x["roc_auc"], x["roc_auc_low"], x["roc_auc_high"]) == pytest.approx(auc_interval(y[:5], score[:5]))
    assert math.isnan(table.loc[("a", "y"), "roc_auc"])  # one positive: no DeLong interval
    joint = table.loc["a × b"]
    assert list(joint.index) == ["x × p", "y × q"]  # 3 rows each; x × q and y × p have 2: left out
    assert len(fairness_figure(group_table(y, pred, g, score)).data) == 5


def test_bad_input_is_one_clear_error():
    with pytest.raises(ModelError, match="one per row"):
        group_table([1, 0], [1, 0, 1], pd.DataFrame({"a": [1, 2]}))
