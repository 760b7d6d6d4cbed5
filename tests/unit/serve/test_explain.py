"""``POST /models/{name}/predict?explain=K`` through a real ``workbench serve`` process on 127.0.0.1: the top-K
contributions per row (equal to the predictor's), declared in the OpenAPI document, a bad K refused with 422."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
from serve_support import free_port, run_serve_cli, telco_records

from workbench.models import load


def _post(port: int, path: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_explain_through_a_real_server(churn_dir, tmp_path):
    port = free_port()
    proc, err = run_serve_cli([f"churn={churn_dir}", "--port", str(port), "--log-dir", str(tmp_path / "logs")], port,
                              cwd=tmp_path)
    try:
        records = telco_records(12, start=3000)
        status, body = _post(port, "/models/churn/predict?explain=3", {"records": records})
        assert status == 200, body
        rows = body["predictions"]
        want = load(churn_dir).explain_records(records, 3)
        assert [r["explain_1_feature"] for r in rows] == [w["explain_1_feature"] for w in want]
        for i in (1, 2, 3):
            np.testing.assert_allclose([r[f"explain_{i}_value"] for r in rows],
                                       [w[f"explain_{i}_value"] for w in want], rtol=0, atol=1e-12)
        assert "explain_4_feature" not in rows[0]
        assert all(abs(r["explain_1_value"]) >= abs(r["explain_3_value"]) for r in rows)
        # without explain: the plain answer (and a cached explained answer never leaks into it)
        status, plain = _post(port, "/models/churn/predict", {"records": records})
        assert status == 200 and not any(k.startswith("explain_") for k in plain["predictions"][0])
        for bad in ("0", "-1", "abc", "2.5", "999"):
            status, body = _post(port, f"/models/churn/predict?explain={bad}", {"records": records})
            assert status == 422, (bad, body)
            detail = body["detail"][0]
            assert detail["loc"] == ["query", "explain"] and "explain must be an integer from 1 to" in detail["msg"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=30) as r:
            doc = json.loads(r.read())
        op = doc["paths"]["/models/churn/predict"]["post"]
        param = next(p for p in op["parameters"] if p["name"] == "explain")
        assert param["in"] == "query" and param["schema"]["minimum"] == 1 and param["schema"]["type"] == "integer"
        row = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["predictions"]["items"]
        assert "explain_1_feature" in row["properties"] and "explain_1_value" in row["properties"]
    finally:
        proc.terminate()
        proc.wait(20)
    assert "Traceback" not in err.text()


def test_recommender_says_why_through_a_real_server(tmp_path):
    from serve_support import build_movielens

    folder = build_movielens(tmp_path / "movies")
    port = free_port()
    proc, err = run_serve_cli([f"movies={folder}", "--port", str(port), "--log-dir", str(tmp_path / "logs")], port,
                              cwd=tmp_path)
    try:
        status, body = _post(port, "/models/movies/predict?explain=2", {"user": 1, "k": 5})
        assert status == 200, body
        want = load(folder).explain([1], 2, k=5)
        assert [i["item"] for i in body["items"]] == want["movieId"].tolist()
        assert [i["explain_1_item"] for i in body["items"]] == want["explain_1_item"].tolist()
        np.testing.assert_allclose([i["explain_2_value"] for i in body["items"]], want["explain_2_value"].astype(float))
        status, plain = _post(port, "/models/movies/predict", {"user": 1, "k": 5})
        assert status == 200 and "explain_1_item" not in plain["items"][0]  # the cache keeps them apart
        for bad in ("0", "11", "x"):
            status, body = _post(port, f"/models/movies/predict?explain={bad}", {"user": 1})
            assert status == 422 and body["detail"][0]["loc"] == ["query", "explain"], body
        status, body = _post(port, "/models/movies/predict?explain=2&other=1", {"user": 1})
        assert status == 422 and "unknown or repeated query parameter 'other'" in body["detail"][0]["msg"]
    finally:
        proc.terminate()
        proc.wait(20)
    assert "Traceback" not in err.text()
