"""Serving a recommender (a fake kind with the recommender interface): top-k, interactions at once, logs."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from workbench.serve import ServeError, create_app, load_models


def _items(r) -> list:
    return [i["item"] for i in r.json()["items"]]


def test_top_k_known_and_unknown_users(recsys_dir, config_for):
    with TestClient(create_app(config_for(("recs", recsys_dir)))) as client:
        r = client.post("/models/recs/predict", json={"user": 1})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == "recs" and body["user"] == 1 and body["k"] == 5 and body["cold_start"] is False
        assert [i["rank"] for i in body["items"]] == [1, 2, 3, 4, 5]
        assert "item0" not in _items(r) and "item1" not in _items(r) and _items(r)[0] == "item2"  # next to item1
        cold = client.post("/models/recs/predict", json={"user": "someone-new", "k": 3}).json()
        assert cold["cold_start"] is True and [i["item"] for i in cold["items"]] == ["item0", "item1", "item2"]
        assert client.post("/models/recs/predict", json={"user": "1"}).json()["user"] == 1  # the model's own id form
        summary = client.get("/models").json()["models"][0]
        assert summary["input"] == "recommender" and summary["routes"]["interactions"] == "/models/recs/interactions"


@pytest.mark.parametrize("payload, loc", [
    ({"user": 1, "k": 0}, ["body", "k"]), ({"user": 1, "k": 5000}, ["body", "k"]), ({"user": 1, "k": "3"}, ["body", "k"]),
    ({"k": 3}, ["body", "user"]), ({"user": ""}, ["body", "user"]), ({"user": "   "}, ["body", "user"]),
    ({"user": [1]}, ["body", "user"]), ({"user": 1, "kk": 3}, ["body", "kk"]), ({"user": None}, ["body", "user"]),
    ({"user": "\x1e\u3000\x85"}, ["body", "user"]),
])
def test_bad_recommendation_requests_are_422(recsys_dir, config_for, payload, loc):
    with TestClient(create_app(config_for(("recs", recsys_dir)))) as client:
        r = client.post("/models/recs/predict", json=payload)
        assert r.status_code == 422, r.text
        assert any(d["loc"][: len(loc)] == loc for d in r.json()["detail"]), r.json()


def test_the_schema_refuses_exactly_the_ids_the_server_finds_blank(recsys_dir, config_for):
    """A fuzzer found "\\x1e": white space to Python's strip, not to \\S in pydantic-core's (Rust) or JSON Schema's
    regex, so a schema-valid id was refused by the server. Every all-space id must fail the schema itself."""
    spaces = [chr(i) for i in range(0x110000) if chr(i).isspace()]
    with TestClient(create_app(config_for(("recs", recsys_dir)))) as client:
        for c in spaces:
            r = client.post("/models/recs/predict", json={"user": c * 2})
            assert r.status_code == 422 and r.json()["detail"][0]["type"] == "string_pattern_mismatch", (hex(ord(c)), r.text)
        for text in ("\ufeff", "\x1ea", "\x00", " a "):  # allowed by the schema, so answered (cold start at worst)
            assert client.post("/models/recs/predict", json={"user": text}).status_code == 200, repr(text)


def test_an_interaction_changes_the_next_answer_at_once_and_drops_the_cache(recsys_dir, config_for, tmp_path):
    with TestClient(create_app(config_for(("recs", recsys_dir)))) as client:
        before = client.post("/models/recs/predict", json={"user": 2, "k": 4})
        assert client.post("/models/recs/predict", json={"user": 2, "k": 4}).json() == before.json()  # cached
        assert _items(before) == ["item4", "item6", "item0", "item1"]
        r = client.post("/models/recs/interactions", json={"user": 2, "item": "item10", "rating": 4.5})
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 1 and r.json()["item"] == "item10"
        after = client.post("/models/recs/predict", json={"user": 2, "k": 4})
        assert _items(after) == ["item9", "item11", "item0", "item1"]
        other = client.post("/models/recs/predict", json={"user": 1, "k": 4})
        assert _items(other)[0] == "item2"  # other users untouched
        metrics = client.get("/metrics").text
        assert 'workbench_serve_cache_hits_total{model="recs"} 1.0' in metrics
        assert 'workbench_serve_interactions_total{model="recs"} 1.0' in metrics
        profile = client.get("/models/recs/users/2").json()
        assert profile["items"] == ["item5", "item10"] and profile["ratings"] == [None, 4.5]
        bad = client.post("/models/recs/interactions", json={"user": 2, "item": "nope"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "item"]
        assert "catalog" in bad.json()["detail"][0]["msg"]
        assert client.post("/models/recs/interactions", json={"user": 2, "item": "item3", "rating": "5"}).status_code == 422
    logged = [json.loads(x) for f in (tmp_path / "logs" / "_interactions" / "recs").glob("interactions-*.jsonl")
              for x in f.read_text().splitlines()]
    assert [(e["user"], e["item"], e["rating"]) for e in logged] == [(2, "item10", 4.5)]
    requests = [json.loads(x) for f in (tmp_path / "logs" / "recs").glob("*.jsonl") for x in f.read_text().splitlines()]
    assert requests[0]["input"] == {"user": 2, "k": 4} and len(requests[0]["output"]["items"]) == 4
    assert not list((tmp_path / "logs" / "recs").glob("interactions*"))  # drift reads this folder: requests only


def test_logged_interactions_are_replayed_after_a_restart(recsys_dir, config_for):
    config = config_for(("recs", recsys_dir))
    with TestClient(create_app(config)) as client:
        client.post("/models/recs/interactions", json={"user": "new-user", "item": "item7"})
        assert _items(client.post("/models/recs/predict", json={"user": "new-user", "k": 2})) == ["item6", "item8"]
    with TestClient(create_app(config)) as client:  # a fresh process: the durable log is replayed
        r = client.post("/models/recs/predict", json={"user": "new-user", "k": 2})
        assert _items(r) == ["item6", "item8"] and r.json()["cold_start"] is False
    config.replay = False
    with TestClient(create_app(config)) as client:
        assert client.post("/models/recs/predict", json={"user": "new-user", "k": 2}).json()["cold_start"] is True


def test_several_workers_for_a_recommender_need_redis(recsys_dir, churn_dir, config_for):
    with pytest.raises(ServeError, match="needs Redis.*REDIS_URL.*--workers 1"):
        load_models(config_for(("recs", recsys_dir), ("churn", churn_dir), workers=2))
    assert set(load_models(config_for(("churn", churn_dir), workers=2))) == {"churn"}


# --------------------------------------------------------------- the real recommender (workbench.recsys)
@pytest.fixture(scope="module")
def movielens_dir(tmp_path_factory):
    from serve_support import build_movielens

    return build_movielens(tmp_path_factory.mktemp("models") / "movies")


def test_a_real_recommender_served_updated_at_once_and_profiled(movielens_dir, config_for):
    with TestClient(create_app(config_for(("movies", movielens_dir)))) as client:
        r = client.post("/models/movies/predict", json={"user": 7, "k": 5})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["user"] == 7 and body["cold_start"] is False and len(body["items"]) == 5
        first = body["items"][0]
        assert set(first) == {"rank", "item", "score", "title"} and isinstance(first["item"], int)
        assert client.post("/models/movies/predict", json={"user": "7", "k": 5}).json() == body  # "7" is user 7
        cold = client.post("/models/movies/predict", json={"user": 10 ** 9}).json()
        assert cold["cold_start"] is True and len(cold["items"]) == 10
        done = client.post("/models/movies/interactions", json={"user": 7, "item": first["item"], "rating": 5.0})
        assert done.status_code == 200, done.text
        after = client.post("/models/movies/predict", json={"user": 7, "k": 5}).json()
        assert first["item"] not in [i["item"] for i in after["items"]]  # seen now: never recommended again
        profile = client.get("/models/movies/users/7").json()
        assert profile["items"][-1] == first["item"] and profile["ratings"][-1] == 5.0
        bad = client.post("/models/movies/interactions", json={"user": 7, "item": 99_999_999})
        assert bad.status_code == 422 and "catalog" in bad.json()["detail"][0]["msg"]
        new = client.post("/models/movies/interactions", json={"user": "brand-new", "item": first["item"]})
        assert new.status_code == 200  # a user the model never saw starts a profile
        recs = client.post("/models/movies/predict", json={"user": "brand-new"}).json()
        assert recs["cold_start"] is True and first["item"] not in [i["item"] for i in recs["items"]]
        assert client.get("/models/movies").json()["kind"] == "recommender"
