"""What the server reads back from Redis is its own: a forged or junk entry is a counted miss, a Redis restart
loses no interaction, two models under one name share nothing, and live users are bounded in memory."""

from __future__ import annotations

import json

import pytest
import redis as redis_sync
from fastapi.testclient import TestClient
from serve_support import redis_server, telco_records

from workbench.serve import create_app

KEY = "cache-key-0123456789abcdef"


@pytest.fixture
def redis():
    with redis_server() as (url, proc):
        yield url, proc


def _metric(client, line: str) -> float:
    for row in client.get("/metrics").text.splitlines():
        if row.startswith(line + " "):
            return float(row.split()[-1])
    return 0.0


@pytest.mark.parametrize("forged", ["rows", "junk", "other key"])
def test_a_forged_or_junk_cache_entry_is_a_counted_miss(churn_dir, config_for, redis, tmp_path, forged):
    url, _ = redis
    raw = redis_sync.Redis.from_url(url)
    body = {"records": telco_records(2)}
    config = config_for(("churn", churn_dir), redis_url=url, cache_key=KEY, log_dir=str(tmp_path / "logs"))
    with TestClient(create_app(config)) as client:
        truth = client.post("/models/churn/predict", json=body).json()
        (entry,) = raw.keys("wb:serve:cache:*")
        fake_rows = [{**row, "prediction": "FORGED"} for row in truth["predictions"]]
        if forged == "rows":  # another client writes the answer it wants served, in the clear
            raw.hset(entry, "", json.dumps(fake_rows))
        elif forged == "junk":
            raw.hset(entry, "", b"\xff{not json")
        else:  # sealed by a server with another key: not this server's
            with TestClient(create_app(config_for(("churn", churn_dir), redis_url=url, request_log=False,
                                                  cache_key="another-key-0123456789"))) as other:
                raw.delete(entry)
                other.post("/models/churn/predict", json=body)
        again = client.post("/models/churn/predict", json=body)
        assert again.status_code == 200 and again.json() == truth
        assert _metric(client, 'workbench_serve_cache_invalid_total{use="cache"}') == 1
        assert _metric(client, 'workbench_serve_cache_hits_total{model="churn"}') == 0
        assert client.post("/models/churn/predict", json=body).json() == truth  # resealed: a hit now
        assert _metric(client, 'workbench_serve_cache_hits_total{model="churn"}') == 1
        state = client.app.state.serve
        state.request_log.flush()
        assert state.request_log._thread.is_alive()  # the request-log writer lives on
    logged = (tmp_path / "logs" / "churn").glob("requests-*.jsonl")
    rows = [json.loads(line) for path in logged for line in path.read_text().splitlines()]
    assert [r["output"]["prediction"] for r in rows] == [p["prediction"] for p in truth["predictions"]] * 3


def test_a_junk_answer_never_stops_the_request_log(tmp_path):
    from workbench.serve._logs import RequestLog

    dropped = []
    log = RequestLog(tmp_path, on_drop=lambda model, n: dropped.append((model, n)))
    log.start()
    log.add("m", "2024-06-01T00:00:00.000Z", 1.0, [{"a": 1}], b"\xff{junk")  # what a forged entry once fed it
    log.add("m", "2024-06-01T00:00:00.000Z", 1.0, [{"a": 2}], b'[{"prediction": "x"}]')
    log.close()
    assert dropped == [("m", 1)]
    (line,) = (tmp_path / "m" / "requests-20240601.jsonl").read_text().splitlines()
    assert json.loads(line)["input"] == {"a": 2}


def test_a_forged_profile_event_is_not_applied(recsys_dir, config_for, redis):
    url, _ = redis
    raw = redis_sync.Redis.from_url(url)
    with TestClient(create_app(config_for(("recs", recsys_dir), redis_url=url, cache_key=KEY))) as client:
        assert client.post("/models/recs/interactions", json={"user": 3, "item": "item4"}).status_code == 200
        (events,) = [k for k in raw.keys("wb:serve:profile:recs:*") if k.endswith(b":3")]
        raw.rpush(events, json.dumps({"item": "item9", "rating": None}))
        assert client.get("/models/recs/users/3").json()["items"] == ["item4"]
        assert _metric(client, 'workbench_serve_cache_invalid_total{use="profiles"}') == 1


def test_an_interaction_after_a_redis_restart_is_applied(recsys_dir, config_for):
    with redis_server() as (url, proc):
        config = config_for(("recs", recsys_dir), redis_url=url, cache_key=KEY)
        with TestClient(create_app(config)) as a, TestClient(create_app(config)) as b:
            for item in ("item4", "item7"):
                assert a.post("/models/recs/interactions", json={"user": 3, "item": item}).status_code == 200
            assert b.get("/models/recs/users/3").json()["items"] == ["item4", "item7"]
            redis_sync.Redis.from_url(url).flushall()  # what a restart without persistence leaves
            r = a.post("/models/recs/interactions", json={"user": 3, "item": "item12"})
            assert r.status_code == 200
            for client in (a, b):  # applied where it was taken, and seen by the other worker
                assert client.get("/models/recs/users/3").json()["items"] == ["item4", "item7", "item12"]
            items = [i["item"] for i in b.post("/models/recs/predict", json={"user": 3, "k": 2}).json()["items"]]
            assert items == ["item11", "item13"]


def test_two_models_under_one_name_share_no_profile_events(recsys_dir, tmp_path, config_for, redis):
    from serve_support import build_recommender

    url, _ = redis
    other = build_recommender(tmp_path / "other")
    data = json.loads((other / "data.json").read_text())
    data["popularity"] = data["popularity"][::-1]  # another model: other files, another version
    (other / "data.json").write_text(json.dumps(data))
    from workbench.models import read_card, save_card

    card = read_card(other)
    save_card(other, card)  # the files' hashes again
    with TestClient(create_app(config_for(("recs", recsys_dir), redis_url=url, cache_key=KEY))) as a, \
            TestClient(create_app(config_for(("recs", other), redis_url=url, cache_key=KEY,
                                             log_dir=str(tmp_path / "other-logs")))) as b:
        assert a.get("/models/recs").json()["version"] != b.get("/models/recs").json()["version"]
        assert a.post("/models/recs/interactions", json={"user": 3, "item": "item4"}).status_code == 200
        assert b.get("/models/recs/users/3").json()["items"] == []
        assert a.get("/models/recs/users/3").json()["items"] == ["item4"]


@pytest.mark.parametrize("shared", [False, True])
def test_live_users_are_bounded_and_evictions_counted(recsys_dir, config_for, redis, shared):
    url, _ = redis
    config = config_for(("recs", recsys_dir), max_users=3, **({"redis_url": url, "cache_key": KEY} if shared else {}))
    with TestClient(create_app(config)) as client:
        for user in range(100, 110):
            assert client.post("/models/recs/interactions", json={"user": user, "item": "item4"}).status_code == 200
        sm = client.app.state.serve.models["recs"]
        assert len(sm.profiles.applied) == 3 and len(sm.predictor.history) == 3 + 3  # 3 saved users + 3 live
        assert _metric(client, 'workbench_serve_users_evicted_total{model="recs"}') == 7
        # with Redis an evicted user's events are applied again when they come back; without, they are gone
        assert client.get("/models/recs/users/100").json()["items"] == (["item4"] if shared else [])
