"""Serving a regression model (ames, log10 price): the same routes, `prediction` and the interval bounds."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serve_support import fit_ames

import workbench
from workbench.serve import create_app


@pytest.fixture(scope="module")
def ames_dir(tmp_path_factory):
    return fit_ames(tmp_path_factory.mktemp("models") / "ames")


def test_a_regression_model_answers_values_with_intervals_as_predict_does(ames_dir, config_for):
    rows = workbench.load_dataset("ames").frame.iloc[600:700].reset_index(drop=True)
    records = json.loads(rows.to_json(orient="records"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # categories unseen in the 600-row slice
        expected = workbench.load_model(ames_dir).predict(rows)
    with TestClient(create_app(config_for(("ames", ames_dir)))) as client:
        summary = client.get("/models").json()["models"][0]
        assert summary["task"] == "regression" and summary["classes"] == []
        for batch in (records[:1], records[:3], records):  # the few-rows and the many-rows paths
            r = client.post("/models/ames/predict", json={"records": batch})
            assert r.status_code == 200, r.text
            got = pd.DataFrame(r.json()["predictions"])
            assert list(got.columns) == ["rownames", "prediction", "interval_lower", "interval_upper", "error"]
            want = expected.iloc[: len(batch)]
            assert got["rownames"].tolist() == want["rownames"].tolist()  # the ID column, echoed in order
            np.testing.assert_allclose(got["prediction"], want["prediction"], rtol=1e-9)
            np.testing.assert_allclose(got["interval_upper"] - got["interval_lower"],
                                       want["interval_upper"] - want["interval_lower"], rtol=1e-9)
            assert got["error"].isna().all()
        prices = 10 ** got["prediction"]
        assert prices.between(30_000, 800_000).all(), prices.describe()  # Ames sale prices, not log noise
        row = client.get("/openapi.json").json()["paths"]["/models/ames/predict"]["post"]["responses"]["200"]
        props = row["content"]["application/json"]["schema"]["properties"]["predictions"]["items"]["properties"]
        assert {"prediction", "interval_lower", "interval_upper", "error"} <= set(props)
        assert not [p for p in props if p.startswith("proba_")]
        bad = client.post("/models/ames/predict", json={"records": [{"Lot_Area": "big"}]})
        assert bad.status_code == 422 and "Lot_Area" in bad.text
