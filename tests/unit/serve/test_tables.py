"""Serving a tabular model: JSON and CSV in, the common columns out, validation, limits, cache, log, metrics."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serve_support import telco_records

from workbench.models import load
from workbench.serve import create_app

TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.fixture
def client(churn_dir, config_for):
    app = create_app(config_for(("churn", churn_dir)))
    with TestClient(app) as c:
        yield c


def test_health_models_and_card(client, churn_dir):
    assert client.get("/health").json()["status"] == "ok"
    listed = client.get("/models").json()["models"]
    assert [m["name"] for m in listed] == ["churn"]
    assert listed[0]["kind"] == "tabular" and listed[0]["input"] == "table" and listed[0]["classes"] == ["No", "Yes"]
    card = client.get("/models/churn").json()
    assert card["kind"] == "tabular" and card["files"] == json.loads((churn_dir / "model.json").read_text())["files"]
    r = client.get("/models/nope")
    assert r.status_code == 404 and "unknown model 'nope'" in r.json()["detail"] and "churn" in r.json()["detail"]


def test_predictions_equal_the_predictor_and_keep_order_and_ids(client, churn_dir):
    records = telco_records(40, start=2000)
    r = client.post("/models/churn/predict", json={"records": records})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "churn" and len(body["version"]) == 12
    rows = body["predictions"]
    expected = load(churn_dir).predict(pd.DataFrame(records))
    assert [p["customer_id"] for p in rows] == [rec["customer_id"] for rec in records]
    assert [p["prediction"] for p in rows] == expected["prediction"].tolist()
    got = np.array([[p["proba_No"], p["proba_Yes"]] for p in rows])
    np.testing.assert_allclose(got, expected[["proba_No", "proba_Yes"]].to_numpy(), rtol=0, atol=1e-9)
    assert all(p["error"] is None for p in rows)
    assert set(rows[0]) == {"rownames", "customer_id", "prediction", "proba_No", "proba_Yes", "error"}


@pytest.mark.filterwarnings("ignore:categories not seen in training")
def test_missing_values_and_unseen_categories_are_tolerated(client, churn_dir):
    rec = telco_records(1)[0] | {"total_charges": None, "contract": "Decade", "internet_service": None}
    r = client.post("/models/churn/predict", json={"records": [rec]})
    assert r.status_code == 200
    expected = load(churn_dir).predict(pd.DataFrame([rec]))
    assert abs(r.json()["predictions"][0]["proba_Yes"] - expected["proba_Yes"].iloc[0]) < 1e-9


@pytest.mark.parametrize("payload, loc, msg", [
    ({"records": [{"tenure": "twelve"}]}, ["body", "records", 0, "tenure"], "valid number"),
    ({"records": [{"tenure": True}]}, ["body", "records", 0, "tenure"], "valid number"),
    ({"records": [{"contract": 3}]}, ["body", "records", 0, "contract"], "valid string"),
    ({"records": [{"contract": {"nested": 1}}]}, ["body", "records", 0, "contract"], "valid string"),
    ({"records": []}, ["body", "records"], "at least 1"),
    ({"record": []}, ["body", "record"], "unknown field 'record'"),
    ([1, 2], ["body"], "object"),
])
def test_bad_payloads_are_422_naming_the_field(client, payload, loc, msg):
    r = client.post("/models/churn/predict", json=payload)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert any(d["loc"] == loc and msg in d["msg"] for d in detail), detail


def test_a_missing_column_is_named(client):
    rec = telco_records(1)[0]
    del rec["tenure"]
    detail = client.post("/models/churn/predict", json={"records": [rec]}).json()["detail"]
    assert detail == [{"loc": ["body", "records", 0, "tenure"], "msg": "field required: 'tenure'", "type": "missing"}]


@pytest.mark.parametrize("raw", [b"{", b"", b"\xff\xfe", b'{"records": [{"tenure": 1e999}]}', b'{"records": NaN}',
                                 b"[" * 5000, b'{"records": [' + b"{}," * 3 + b"]}"])
def test_malformed_json_is_422_never_500(client, raw):
    r = client.post("/models/churn/predict", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


def test_csv_body_multipart_upload_and_csv_answer(client, churn_dir):
    frame = pd.DataFrame(telco_records(25))
    frame.loc[3, "total_charges"] = None
    data = frame.to_csv(index=False).encode()
    expected = load(churn_dir).predict(frame)
    for kw in ({"content": data, "headers": {"content-type": "text/csv"}},
               {"files": {"file": ("new.csv", data, "text/csv")}}):
        r = client.post("/models/churn/predict", **kw)
        assert r.status_code == 200, r.text
        got = [p["proba_Yes"] for p in r.json()["predictions"]]
        np.testing.assert_allclose(got, expected["proba_Yes"], rtol=0, atol=1e-9)
    r = client.post("/models/churn/predict", content=data, headers={"content-type": "text/csv", "accept": "text/csv"})
    assert r.headers["content-type"].startswith("text/csv")
    answer = pd.read_csv(pd.io.common.StringIO(r.text))
    assert answer.columns.tolist() == ["rownames", "customer_id", "prediction", "proba_No", "proba_Yes", "error"]
    assert answer["prediction"].tolist() == expected["prediction"].tolist()


@pytest.mark.parametrize("text, status, msg", [
    ("tenure,contract\n1,One year\n", 422, "lacks column(s) 'female'"),
    ("", 422, "not a readable CSV"),
    ("a,b\n\"unterminated\n", 422, "EOF inside string"),
    (",".join(f"c{i}" for i in range(5000)) + "\n" + "1," * 4999 + "1\n", 422, "over 4,096 columns"),
])
def test_bad_csv_is_422(client, text, status, msg):
    r = client.post("/models/churn/predict", content=text.encode(), headers={"content-type": "text/csv"})
    assert r.status_code == status and msg in json.dumps(r.json()), r.text


def test_csv_with_text_in_a_numeric_column_names_row_and_column(client):
    frame = pd.DataFrame(telco_records(3))
    frame["tenure"] = frame["tenure"].astype(object)
    frame.loc[1, "tenure"] = "long"
    r = client.post("/models/churn/predict", content=frame.to_csv(index=False).encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "csv", 1, "tenure"]


def test_limits_media_types_and_routes(churn_dir, config_for):
    app = create_app(config_for(("churn", churn_dir), max_rows=5, max_body_bytes=200_000))
    with TestClient(app) as client:
        recs = telco_records(6)
        r = client.post("/models/churn/predict", json={"records": recs})
        assert r.status_code == 413 and "at most 5" in r.json()["detail"]
        csv = pd.DataFrame(recs).to_csv(index=False).encode()
        assert client.post("/models/churn/predict", content=csv, headers={"content-type": "text/csv"}).status_code == 413
        big = b'{"records": [' + b'{"x": "' + b"a" * 300_000 + b'"}]}'
        r = client.post("/models/churn/predict", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "MiB" in r.json()["detail"]

        def chunks():  # no Content-Length: the limit applies to the streamed bytes
            for _ in range(40):
                yield b"x" * 10_000

        r = client.post("/models/churn/predict", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        r = client.post("/models/churn/predict", content=b"<x/>", headers={"content-type": "application/xml"})
        assert r.status_code == 415 and "application/json" in r.json()["detail"]
        assert client.get("/models/churn/predict").status_code == 405
        for path in ("/models/..%2F..%2Fetc%2Fpasswd/predict", "/models/../predict", "/models/churn%00/predict",
                     "/models/%2e%2e/predict", "/models/churn/../../predict"):
            assert client.post(path, json={"records": recs[:1]}).status_code in (404, 405), path
        r = client.post("/models/churn/interactions", json={"user": 1, "item": 2})
        assert r.status_code == 404 and "recommenders" in r.json()["detail"]


def test_token_guards_every_route_but_health(churn_dir, config_for):
    app = create_app(config_for(("churn", churn_dir), token=TOKEN))
    rec = telco_records(1)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        for method, path in (("get", "/models"), ("get", "/models/churn"), ("get", "/metrics"), ("get", "/docs"),
                             ("get", "/openapi.json"), ("post", "/models/churn/predict"), ("get", "/nowhere")):
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN},
                            {"authorization": f"Basic {TOKEN}"}):
                r = getattr(client, method)(path, headers=headers)
                assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (path, headers)
        ok = {"authorization": f"Bearer {TOKEN}"}
        assert client.post("/models/churn/predict", json={"records": rec}, headers=ok).status_code == 200
        assert client.get("/models", headers={"authorization": f"bearer {TOKEN}"}).status_code == 200
        assert "bearer" in client.get("/openapi.json", headers=ok).json()["components"]["securitySchemes"]


def test_cache_hits_expire_and_are_counted(churn_dir, config_for):
    app = create_app(config_for(("churn", churn_dir), cache_ttl=0.5))
    body = {"records": telco_records(2)}
    with TestClient(app) as client:
        first = client.post("/models/churn/predict", json=body).json()
        again = client.post("/models/churn/predict", json=body).json()
        assert first == again
        metrics = client.get("/metrics").text
        assert 'workbench_serve_cache_hits_total{model="churn"} 1.0' in metrics
        assert 'workbench_serve_cache_misses_total{model="churn"} 1.0' in metrics
        client.post("/models/churn/predict", json={"records": body["records"][:1]})
        time.sleep(0.6)
        client.post("/models/churn/predict", json=body)
        metrics = client.get("/metrics").text
        assert 'workbench_serve_cache_misses_total{model="churn"} 3.0' in metrics


def test_request_log_holds_inputs_outputs_and_never_the_token(churn_dir, config_for, tmp_path):
    config = config_for(("churn", churn_dir), token=TOKEN)
    recs = telco_records(3)
    with TestClient(create_app(config)) as client:
        h = {"authorization": f"Bearer {TOKEN}"}
        for _ in range(2):  # the second answer comes from the cache: logged too
            assert client.post("/models/churn/predict", json={"records": recs}, headers=h).status_code == 200
    files = list((tmp_path / "logs" / "churn").glob("requests-*.jsonl"))
    assert len(files) == 1 and files[0].name == f"requests-{time.strftime('%Y%m%d', time.gmtime())}.jsonl"
    text = files[0].read_text()
    assert TOKEN not in text and "Bearer" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 6
    first = lines[0]
    assert set(first) == {"ts", "model", "latency_ms", "input", "output"} and first["model"] == "churn"
    assert first["ts"].endswith("Z") and isinstance(first["latency_ms"], float)
    assert first["input"]["contract"] == recs[0]["contract"] and first["input"]["customer_id"] == "c0"
    assert set(first["output"]) == {"prediction", "proba_No", "proba_Yes", "error"}
    assert lines[3]["output"] == lines[0]["output"]


def test_metrics_exposition_and_bounded_labels(client):
    client.post("/models/churn/predict", json={"records": telco_records(2)})
    client.post("/models/churn/predict", json={"records": [{}]})
    for i in range(5):
        client.get(f"/random/{i}")
    text = client.get("/metrics").text
    assert 'workbench_serve_requests_total{model="churn",route="/models/{name}/predict",status="200"} 1.0' in text
    assert 'workbench_serve_errors_total{model="churn",status="422"} 1.0' in text
    assert 'workbench_serve_rows_total{model="churn"} 2.0' in text
    assert 'workbench_serve_request_latency_seconds_bucket{le="0.005",model="churn",route="/models/{name}/predict"}' in text
    assert 'route="other",status="404"} 5.0' in text and "/random" not in text
