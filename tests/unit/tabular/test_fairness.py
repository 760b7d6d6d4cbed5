"""The compare notebook's fairness section: sensitive columns checked before training, the held-out
numbers (equal to fairlearn), training without them, the mitigation row, the recorded gaps."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from workbench import tabular
from workbench.errors import DatasetError, ModelError

SENSITIVE = ["female", "senior_citizen"]


@pytest.fixture(scope="module")
def telco():
    from workbench import load_dataset

    return load_dataset("telco_churn", target="churn")


def _best(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tabular.prepare_task(data, "churn", positive_label="Yes", models=["logreg"], folds=3, **kw)
        comparison = tabular.compare_models(task, ensemble=False)
        return tabular.fit_best(task, comparison)


@pytest.fixture(scope="module")
def best(telco):
    return _best(telco, sensitive=SENSITIVE, mitigate="equalized_odds")


def test_unknown_sensitive_column_fails_before_training_listing_the_columns(telco):
    with pytest.raises(DatasetError) as err:
        tabular.prepare_task(telco, "churn", positive_label="Yes", sensitive=["gender", "senior_citizen"])
    msg = str(err.value)
    assert "'gender' not in 'telco_churn'" in msg and "female, senior_citizen" in msg and "\n" not in msg
    with pytest.raises(DatasetError, match="needs a binary target"):
        tabular.prepare_task(telco, "monthly_charges", sensitive=SENSITIVE)
    with pytest.raises(ModelError, match="mitigate must be one of none, demographic_parity, equalized_odds"):
        tabular.prepare_task(telco, "churn", positive_label="Yes", sensitive=SENSITIVE, mitigate="parity")
    with pytest.raises(ModelError, match="gap_threshold must be a number between 0 and 1"):
        tabular.prepare_task(telco, "churn", positive_label="Yes", sensitive=SENSITIVE, gap_threshold=5)


def test_fairness_section_equals_fairlearn_on_the_test_split(best):
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    task = best.task
    y = (task.y_test == "Yes").astype(int)
    pred = (best.test_pred[:, 1] >= best.model.threshold).astype(int)
    groups = task.groups.loc[task.X_test.index]
    panel = best.fairness()
    gaps = next(p for p in panel.parts if getattr(p, "index", None) is not None and p.index.name == "feature")
    for col in SENSITIVE:
        assert abs(gaps.loc[col, "dp_difference"] - round(demographic_parity_difference(
            y, pred, sensitive_features=groups[col]), 4)) < 1e-9
    recorded = tabular.record(best)
    dp = max(demographic_parity_difference(y, pred, sensitive_features=groups[c]) for c in SENSITIVE)
    eo = max(equalized_odds_difference(y, pred, sensitive_features=groups[c]) for c in SENSITIVE)
    assert abs(recorded["dp_difference"] - dp) < 1e-9 and abs(recorded["eo_difference"] - eo) < 1e-9
    warned = [n.text for n in panel.notes() if n.level == "warning"]
    assert any("senior_citizen" in w and "above the threshold 0.1" in w for w in warned)
    assert not any(w.startswith("demographic-parity difference for female is") for w in warned)  # a 0.03 gap


def test_mitigation_row_states_its_accuracy_cost_and_narrows_the_gap(best):
    table = best.mitigation()
    base, fair = table.iloc[0], table.iloc[1]
    assert table.index[1] == "logreg + ThresholdOptimizer (equalized_odds)"
    assert fair["eo_difference"] < base["eo_difference"]
    assert fair["accuracy_cost"] == pytest.approx(base["accuracy"] - fair["accuracy"], abs=2e-4)
    assert best.mitigation("none").empty


def test_sensitive_as_feature_false_trains_without_them(telco):
    b = _best(telco, sensitive=SENSITIVE, sensitive_as_feature=False)
    assert not set(SENSITIVE) & set(b.task.features) and not set(SENSITIVE) & set(b.model.numeric + b.model.categorical)
    assert list(b.task.groups.columns) == SENSITIVE
    assert "left out of the features" in b.task.summary().loc["sensitive", "value"]
    assert np.isfinite(tabular.record(b)["dp_difference"])
