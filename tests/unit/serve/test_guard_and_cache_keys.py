"""The token is compared whole, and cached answers are bound to the model version that computed them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from serve_support import fit_churn, telco_records

from workbench.serve import create_app
from workbench.serve._http import Guard

TOKEN = "s3cret-token-for-tests-0123456789"


async def _ok(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("header", ["Bearer ", "Bearer", "Bearer  ", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x",
                                    f"Bearer {TOKEN[:1]}", f"Bearer x{TOKEN}", f"Token {TOKEN}", TOKEN, ""])
def test_only_the_whole_token_passes(header):
    client = TestClient(Guard(_ok, TOKEN, 1 << 20, {"churn"}))  # no lifespan: the bare middleware
    r = client.get("/models", headers={"authorization": header} if header else {})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", header
    assert client.get("/health").status_code == 200  # the one open route
    for ok in (f"Bearer {TOKEN}", f"bearer {TOKEN}", f"  Bearer {TOKEN}  "):
        assert client.get("/models", headers={"authorization": ok}).status_code == 200, ok


@pytest.fixture(scope="module")
def other_churn(tmp_path_factory):
    return fit_churn(tmp_path_factory.mktemp("models") / "other", rows=400, model="dummy")


def _probs(client, name, body):
    r = client.post(f"/models/{name}/predict", json=body)
    assert r.status_code == 200, r.text
    return [row["proba_Yes"] for row in r.json()["predictions"]]


def test_two_models_never_answer_each_others_cached_predictions(churn_dir, other_churn, config_for):
    body = {"records": telco_records(3)}
    with TestClient(create_app(config_for(("a", churn_dir), ("b", other_churn)))) as client:
        a1, b1, a2, b2 = (_probs(client, n, body) for n in ("a", "b", "a", "b"))
    assert a1 == a2 and b1 == b2 and a1 != b1


def test_one_name_two_versions_sharing_a_cache_never_mix(churn_dir, other_churn, config_for, monkeypatch):
    """Two deployments under one name (an old and a new version) behind one shared cache (as with Redis)."""
    from workbench.serve import _state

    shared = {}
    real = _state.MemoryCache
    monkeypatch.setattr(_state, "MemoryCache", lambda *a, **kw: shared.setdefault("cache", real(*a, **kw)))
    body = {"records": telco_records(3)}
    with TestClient(create_app(config_for(("churn", churn_dir)))) as old, \
            TestClient(create_app(config_for(("churn", other_churn)))) as new:
        first, second = _probs(old, "churn", body), _probs(new, "churn", body)
        assert _probs(old, "churn", body) == first and _probs(new, "churn", body) == second
    assert first != second and len(shared) == 1
