"""Prediction drift per sensitive group: a shift planted in one group is found there and not in the other."""

from __future__ import annotations

import warnings

import pytest

from workbench import load_dataset, tabular
from workbench.drift import DriftReport
from workbench.errors import DatasetError


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(load_dataset("telco_churn_reference"), "churn", positive_label="Yes",
                                    models=["logreg"], folds=2, seed=0)
        best = tabular.fit_best(task, tabular.compare_models(task, ensemble=False))
    return tabular.save(best, tmp_path_factory.mktemp("artifacts"))


def test_a_shift_in_one_group_drifts_that_groups_predictions_only(model_dir):
    reference = load_dataset("telco_churn_reference").frame
    current = load_dataset("telco_churn_current").frame.copy()
    seniors = current["senior_citizen"] == 1
    current.loc[seniors, "contract"] = "Month-to-month"  # only the seniors' churn risk rises
    current.loc[seniors, "tenure"] = 1
    report = DriftReport(reference, current, target="churn", model=str(model_dir), sensitive=["senior_citizen"],
                         domain_rows=0)
    table = report.prediction_drift_by_group().parts[-1]
    proba = table[table["column"] == "proba_Yes"]
    assert bool(proba.loc[("senior_citizen", "1"), "drifted"]) is True
    assert bool(proba.loc[("senior_citizen", "0"), "drifted"]) is False
    assert proba.loc[("senior_citizen", "1"), "rows_current"] == int(seniors.sum())


def test_unknown_sensitive_column_is_one_clear_error_before_any_statistic(model_dir):
    ref = load_dataset("telco_churn_reference").frame
    with pytest.raises(DatasetError, match=r"sensitive column\(s\) 'gender' not in the reference table .*female"):
        DriftReport(ref, ref, model=str(model_dir), sensitive=["gender"])
    assert "not checked" in repr(DriftReport(ref, ref, domain_rows=0).prediction_drift_by_group())
