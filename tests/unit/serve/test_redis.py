"""Redis: a cache shared by workers, profile updates every worker sees, and serving on when Redis is down or slow.

Two apps on one real ``redis-server`` stand for two worker processes (the end-to-end test runs real ones):
they share the cache key, as the workers of one ``workbench serve`` do.
"""

from __future__ import annotations

import logging
import os
import signal

import pytest
from fastapi.testclient import TestClient
from serve_support import redis_server, telco_records

from workbench.serve import _cache, create_app

KEY = "cache-key-0123456789abcdef"


@pytest.fixture
def redis():
    with redis_server() as (url, proc):
        yield url, proc


@pytest.fixture(autouse=True)
def quick_retry(monkeypatch):
    monkeypatch.setattr(_cache, "RETRY_AFTER_S", 0.3)


def _metric(client, line: str) -> float:
    for row in client.get("/metrics").text.splitlines():
        if row.startswith(line + " "):
            return float(row.split()[-1])
    return 0.0


def test_the_cache_is_shared_between_workers(churn_dir, config_for, redis):
    url, _ = redis
    body = {"records": telco_records(3)}
    with TestClient(create_app(config_for(("churn", churn_dir), redis_url=url, cache_key=KEY))) as a, \
            TestClient(create_app(config_for(("churn", churn_dir), redis_url=url, cache_key=KEY))) as b:
        first = a.post("/models/churn/predict", json=body).json()
        assert b.post("/models/churn/predict", json=body).json() == first
        assert _metric(b, 'workbench_serve_cache_hits_total{model="churn"}') == 1
        assert _metric(a, 'workbench_serve_cache_misses_total{model="churn"}') == 1


def test_an_interaction_on_one_worker_is_seen_by_all(recsys_dir, config_for, redis):
    url, _ = redis
    config = config_for(("recs", recsys_dir), redis_url=url, cache_key=KEY)
    with TestClient(create_app(config)) as a, TestClient(create_app(config)) as b:
        stale = b.post("/models/recs/predict", json={"user": 3, "k": 3}).json()  # cached in Redis by b
        assert [i["item"] for i in stale["items"]] == ["item0", "item1", "item2"]
        assert a.post("/models/recs/interactions", json={"user": 3, "item": "item15"}).status_code == 200
        for client in (b, a):
            items = [i["item"] for i in client.post("/models/recs/predict", json={"user": 3, "k": 3}).json()["items"]]
            assert items == ["item14", "item16", "item0"], items
        assert b.post("/models/recs/interactions", json={"user": 3, "item": "item0"}).status_code == 200
        assert [i["item"] for i in a.post("/models/recs/predict", json={"user": 3, "k": 2}).json()["items"]] == \
            ["item1", "item2"]
        assert a.get("/models/recs/users/3").json()["items"] == ["item15", "item0"]


def test_redis_down_serves_uncached_with_a_warning(churn_dir, recsys_dir, config_for, redis, caplog):
    url, proc = redis
    config = config_for(("churn", churn_dir), ("recs", recsys_dir), redis_url=url)
    body = {"records": telco_records(2)}
    with TestClient(create_app(config)) as client, caplog.at_level(logging.WARNING, "workbench.serve"):
        assert client.post("/models/churn/predict", json=body).status_code == 200
        proc.terminate()
        proc.wait(10)
        for _ in range(3):
            r = client.post("/models/churn/predict", json=body)
            assert r.status_code == 200 and len(r.json()["predictions"]) == 2
        assert client.post("/models/recs/predict", json={"user": 1}).status_code == 200
        r = client.post("/models/recs/interactions", json={"user": 1, "item": "item3"})
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and "not recorded" in r.json()["detail"]
        assert _metric(client, 'workbench_serve_redis_errors_total{use="cache"}') >= 1
    warnings = [r.getMessage() for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert warnings and len(warnings) <= 3, warnings  # once per outage and use, not once per request


def test_a_slow_redis_costs_at_most_the_timeout(churn_dir, config_for, redis, monkeypatch):
    url, proc = redis
    body = {"records": telco_records(1)}
    with TestClient(create_app(config_for(("churn", churn_dir), redis_url=url, redis_timeout=0.05))) as client:
        client.post("/models/churn/predict", json=body)
        os.kill(proc.pid, signal.SIGSTOP)  # Redis hangs: accepts nothing, answers nothing
        monkeypatch.setattr(_cache, "RETRY_AFTER_S", 3600.0)  # no retry while it hangs, however slow this machine
        try:
            for _ in range(5):
                assert client.post("/models/churn/predict", json=body).status_code == 200
            # the mechanism: the first call gave up at the timeout (without it, it would hang on the stopped
            # server), and the breaker skipped the 9 calls after it
            assert _metric(client, 'workbench_serve_redis_errors_total{use="cache"}') == 1
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        client.app.state.serve.cache.breaker.down_until = 0.0  # the retry time has come
        client.post("/models/churn/predict", json=body)
        hits = _metric(client, 'workbench_serve_cache_hits_total{model="churn"}')
        client.post("/models/churn/predict", json=body)
        assert _metric(client, 'workbench_serve_cache_hits_total{model="churn"}') == hits + 1  # back in use


def test_logged_interactions_go_into_redis_once(recsys_dir, config_for, redis):
    url, _ = redis
    local = config_for(("recs", recsys_dir))
    with TestClient(create_app(local)) as client:  # an earlier run without Redis logged an interaction
        client.post("/models/recs/interactions", json={"user": 9, "item": "item12"})
    shared = config_for(("recs", recsys_dir), redis_url=url, cache_key=KEY)
    with TestClient(create_app(shared)) as a, TestClient(create_app(shared)) as b:
        for client in (a, b):
            assert client.get("/models/recs/users/9").json()["items"] == ["item12"]
