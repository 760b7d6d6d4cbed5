"""The common classification metrics, checked against scikit-learn's own functions on real predictions."""

import numpy as np
import pytest
from sklearn import metrics as skm

from workbench.errors import ModelError
from workbench.evaluation import METRICS, classification_metrics, curve_inputs, f1_threshold, rank_auc, resolve_metric


def _binary_case(seed=0, n=400):
    rng = np.random.default_rng(seed)
    y = rng.choice(["stay", "churn"], n, p=[0.7, 0.3])
    p = np.clip(rng.random(n) * 0.6 + (y == "churn") * 0.35, 0, 1)
    return y, p


@pytest.mark.parametrize("threshold", [0.5, 0.31])
def test_binary_metrics_equal_sklearn(threshold):
    y, p = _binary_case()
    s = classification_metrics(y, np.c_[1 - p, p], ["stay", "churn"], threshold=threshold)
    yb = (y == "churn").astype(int)
    pred = (p >= threshold).astype(int)
    assert set(s) == set(METRICS)
    assert s["roc_auc"] == pytest.approx(skm.roc_auc_score(yb, p))
    assert s["pr_auc"] == pytest.approx(skm.average_precision_score(yb, p))
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(yb, pred))
    assert s["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(yb, pred))
    assert s["f1"] == pytest.approx(skm.f1_score(yb, pred))
    assert s["precision"] == pytest.approx(skm.precision_score(yb, pred))
    assert s["recall"] == pytest.approx(skm.recall_score(yb, pred))
    assert s["log_loss"] == pytest.approx(skm.log_loss(yb, p))
    assert s["brier"] == pytest.approx(skm.brier_score_loss(yb, p))


@pytest.mark.parametrize("classes", [["a", "b", "c"], [0, 1, 2], [2, 7, 11]])
def test_multiclass_metrics_equal_sklearn_for_text_and_integer_labels(classes):
    rng = np.random.default_rng(1)
    yi = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 2.0 * np.eye(3)[yi]
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.asarray(classes, dtype=object)[yi]
    s = classification_metrics(y, proba, classes)
    pred = proba.argmax(1)
    assert s["roc_auc"] == pytest.approx(skm.roc_auc_score(yi, proba, multi_class="ovr", average="macro"))
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(yi, pred))
    assert s["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(yi, pred))
    assert s["f1"] == pytest.approx(skm.f1_score(yi, pred, average="macro"))
    assert s["precision"] == pytest.approx(skm.precision_score(yi, pred, average="macro"))
    assert s["recall"] == pytest.approx(skm.recall_score(yi, pred, average="macro"))
    assert s["log_loss"] == pytest.approx(skm.log_loss(yi, proba))
    hot = np.eye(3)[yi]
    assert s["brier"] == pytest.approx(np.mean(np.sum((proba - hot) ** 2, axis=1)))
    assert s["pr_auc"] == pytest.approx(np.mean([skm.average_precision_score(hot[:, k], proba[:, k]) for k in range(3)]))


def test_one_class_present_gives_nan_not_an_error():
    s = classification_metrics(np.array(["a"] * 5), np.tile([0.3, 0.7], (5, 1)), ["a", "b"])
    assert np.isnan(s["roc_auc"]) and s["accuracy"] == 0.0


def test_rank_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 500)
    score = np.round(rng.random(500) + 0.3 * y, 1)  # many ties
    assert rank_auc(y, score) == pytest.approx(skm.roc_auc_score(y, score))
    assert np.isnan(rank_auc(np.ones(5), np.arange(5)))


def test_f1_threshold_maximizes_f1_over_all_thresholds():
    y, p = _binary_case(seed=3)
    yb = (y == "churn").astype(int)
    thr = f1_threshold(yb, p)
    best = max(skm.f1_score(yb, (p >= t).astype(int)) for t in np.unique(p))
    assert skm.f1_score(yb, (p >= thr).astype(int)) == pytest.approx(best)
    assert skm.f1_score(yb, (p >= thr).astype(int)) > skm.f1_score(yb, (p >= 0.5).astype(int))


def test_curve_inputs_binary_and_multiclass():
    y, s, what = curve_inputs(np.array(["a", "b"]), np.array([[0.8, 0.2], [0.1, 0.9]]), ["a", "b"])
    assert y.tolist() == [0, 1] and s.tolist() == [0.2, 0.9] and "'b'" in what
    y, s, what = curve_inputs(np.array([0, 2]), np.eye(3)[[0, 2]], [0, 1, 2])
    assert y.tolist() == [1, 0, 0, 0, 0, 1] and "micro" in what


def test_metric_names_resolve_and_unknown_ones_list_the_valid():
    assert resolve_metric("ROC-AUC").key == "roc_auc" and resolve_metric("logloss").key == "log_loss"
    assert not resolve_metric("brier").greater_is_better
    with pytest.raises(ModelError, match="unknown ranking metric 'auroc'.*roc_auc, pr_auc"):
        resolve_metric("auroc")


def test_regression_metrics_equal_sklearn():
    from workbench.evaluation import REGRESSION_METRICS, interval_coverage, regression_metrics

    rng = np.random.default_rng(4)
    y = rng.lognormal(3, 0.5, 500)
    p = y * rng.normal(1, 0.1, 500) + rng.normal(0, 1, 500)
    s = regression_metrics(y, p)
    assert set(s) == set(REGRESSION_METRICS)
    assert s["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert s["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert s["medae"] == pytest.approx(skm.median_absolute_error(y, p))
    assert s["r2"] == pytest.approx(skm.r2_score(y, p))
    assert s["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, p))
    assert np.isnan(regression_metrics(np.r_[0.0, y], np.r_[1.0, p])["mape"])  # a zero: MAPE is not stated
    assert interval_coverage(y, p - 5, p + 5) == pytest.approx(np.mean(np.abs(y - p) <= 5))
    assert not REGRESSION_METRICS["rmse"].greater_is_better and REGRESSION_METRICS["r2"].greater_is_better


def test_metric_names_resolve_per_task_kind():
    assert resolve_metric("RMSE").key == "rmse" and resolve_metric("neg_mean_absolute_error").key == "mae"
    assert resolve_metric("r2", task="regression").key == "r2"
    with pytest.raises(ModelError, match="'rmse' for a binary task; expected one of: roc_auc"):
        resolve_metric("rmse", task="binary")
    with pytest.raises(ModelError, match="'roc_auc' for a regression task; expected one of: rmse, mae"):
        resolve_metric("roc_auc", task="regression")
