"""Serving from the registry and rollout, in process: references, following an alias, refusing a broken
version, the request-log keys, shadow drops, the sticky split (end-to-end: tests/e2e/test_serve_rollout.py)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from serve_support import fit_churn, telco_records
from starlette.testclient import TestClient

from workbench.registry import ModelRegistry
from workbench.serve import ServeError, create_app, serve_config
from workbench.serve._rollout import bucket, split_value


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reg")
    reg = ModelRegistry(root / "registry")
    reg.register("churn", fit_churn(root / "a", rows=300), alias="champion")
    reg.register("churn", fit_churn(root / "b", rows=900), alias="challenger")
    return reg.root


def _config(registry: Path, tmp_path: Path, *models: str, **kw):
    kw.setdefault("follow_interval", 0.0)
    return serve_config(list(models), registry=str(registry), log_dir=str(tmp_path / "logs"), cache_ttl=0, **kw)


def _predict(client: TestClient, records: list[dict]) -> dict:
    r = client.post("/models/churn/predict", json={"records": records})
    assert r.status_code == 200, r.text
    return {**r.json(), "request_id": r.headers.get("x-request-id")}


def _log(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for f in sorted((tmp_path / "logs" / "churn").glob("*.jsonl"))
            for line in f.read_text().splitlines()]


def test_references_and_challengers_parse_and_bad_ones_are_one_line(registry, tmp_path):
    c = _config(registry, tmp_path, "churn@champion", shadow=["churn@challenger"])
    assert (c.models, c.shadow) == ([("churn", "churn@champion")], [("churn", "churn@challenger")])
    c = _config(registry, tmp_path, "live=churn@champion", canary=["live=churn:2=12.5"], split_key="customer_id")
    assert (c.models, c.canary) == ([("live", "churn@champion")], [("live", "churn:2", 12.5)])
    for kw, message in [({"canary": ["churn@challenger"]}, "needs a percent"),
                        ({"canary": ["churn@challenger=0"]}, "must be a number in (0, 100]"),
                        ({"shadow": ["other@x"]}, "is for 'other', which is not served"),
                        ({"shadow": ["churn@challenger"], "canary": ["churn@challenger=5"]}, "two challengers"),
                        ({"split_key": "customer_id"}, "split_key needs a canary")]:
        with pytest.raises(ServeError, match=None) as e:
            _config(registry, tmp_path, "churn@champion", **kw)
        assert message in str(e.value)


def test_follows_the_alias_and_refuses_a_broken_version(registry, tmp_path):
    reg = ModelRegistry(registry)
    records = telco_records(3, start=2000)
    app = create_app(_config(registry, tmp_path, "churn@champion"))
    with TestClient(app) as client:
        state = app.state.serve
        follower = state.rollouts["churn"].champion
        first = _predict(client, records)
        assert first["version"] == "churn:1" and client.get("/models/churn").json()["version"] == "churn:1"
        reg.set_alias("churn", "champion", 2)
        assert client.portal.call(follower.poll, state) is True
        second = _predict(client, records)
        assert second["version"] == "churn:2" and second["predictions"] != first["predictions"]
        assert client.get("/models/churn").json()["rollout"] == {"source": "churn@champion"}
        # a version whose file was changed after registering: refused, the old one keeps serving
        broken = reg.register("churn", reg.resolve("churn:1").folder)
        model = next(p for p in broken.folder.iterdir() if p.name != "model.json")
        os.chmod(model, stat.S_IRUSR | stat.S_IWUSR)
        model.write_bytes(model.read_bytes() + b"\0")
        reg.set_alias("churn", "champion", broken.version)
        assert client.portal.call(follower.poll, state) is False
        assert _predict(client, records)["version"] == "churn:2"
        metrics = client.get("/metrics").text
    assert 'workbench_serve_swaps_total{model="churn",outcome="refused",variant="champion"} 1.0' in metrics
    assert 'workbench_serve_model_version{model="churn",variant="champion",version="churn:2"} 1.0' in metrics
    lines = _log(tmp_path)
    assert [(x["variant"], x["version"]) for x in lines[::3]] == [("champion", "churn:1"), ("champion", "churn:2"),
                                                                 ("champion", "churn:2")]
    assert lines[0]["request_id"] == first["request_id"] and len({x["request_id"] for x in lines}) == 3
    reg.set_alias("churn", "champion", 1)


def test_shadow_scores_a_copy_under_the_same_request_id(registry, tmp_path):
    records = telco_records(2, start=2100)
    app = create_app(_config(registry, tmp_path, "churn@champion", shadow=["churn@challenger"]))
    with TestClient(app) as client:
        answers = [_predict(client, records) for _ in range(3)]
    assert {a["version"] for a in answers} == {"churn:1"}
    lines = _log(tmp_path)
    by_id = {}
    for x in lines:
        by_id.setdefault(x["request_id"], []).append((x["variant"], x["version"]))
    # the shadow child writes its own lines: they may land before or after the champion's
    assert {rid: sorted(v) for rid, v in by_id.items()} == {
        a["request_id"]: [("champion", "churn:1")] * 2 + [("shadow", "churn:2")] * 2 for a in answers}


def test_a_full_shadow_queue_drops_and_counts(registry, tmp_path):
    from workbench.serve._shadow import FRAME

    app = create_app(_config(registry, tmp_path, "churn@champion", shadow=["churn@challenger"], shadow_queue=1))
    link = app.state.serve.rollouts["churn"].shadow

    class Pipe:  # a child that never acknowledges: one copy waiting and one being scored, then drops
        frames: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.frames.append(data)

    link.proc, link.alive = type("Proc", (), {"stdin": Pipe()})(), True
    assert [link.send(rid, "application/json", b'{"records": []}') for rid in "abcd"] == [True, True, False, False]
    assert link.metrics.shadow_dropped.labels("churn")._value.get() == 2
    head_len, body_len = FRAME.unpack(Pipe.frames[1][:FRAME.size])
    assert json.loads(Pipe.frames[1][FRAME.size:FRAME.size + head_len]) == {"rid": "b", "ctype": "application/json"}
    assert Pipe.frames[1][FRAME.size + head_len:] == b'{"records": []}' and body_len == 15


def test_the_sticky_split_is_a_salted_hash_of_the_first_records_key():
    # pinned: sha256("workbench\0churn\0c7")'s first 8 bytes / 2**64 * 100; a change would reshuffle every user
    assert bucket("workbench", "churn", "c7") == pytest.approx(53.07931220851025, abs=1e-12)
    assert bucket("workbench", "churn", "c7") != bucket("other-salt", "churn", "c7")
    shares = [bucket("workbench", "churn", f"c{i}") < 30 for i in range(4000)]
    assert 1000 < sum(shares) < 1400  # ~30 %
    assert split_value(b'{"records": [{"customer_id": "c1"}, {"customer_id": "c2"}]}', "customer_id") == "c1"
    assert split_value(b'{"user": 7, "k": 3}', "customer_id") == 7
    assert split_value(b"tenure,x\n1,2", "customer_id") is None


def test_the_shadow_childs_acknowledgements_come_in_batches_and_are_counted(registry, tmp_path):
    import asyncio
    import io

    from workbench.serve._shadow import _Acks

    out = io.BytesIO()
    acks = _Acks(out)
    for ok, version in [(True, "churn:2")] * 3 + [(False, "churn:2"), (True, "churn:3")]:
        acks.add(ok, version)
    acks.flush()
    acks.flush()  # nothing new: nothing written
    assert out.getvalue() == b"ok churn:2 3\nerror churn:2 1\nok churn:3 1\n"

    app = create_app(_config(registry, tmp_path, "churn@champion", shadow=["churn@challenger"]))
    link = app.state.serve.rollouts["churn"].shadow

    async def read() -> None:
        stdout = asyncio.StreamReader()
        stdout.feed_data(out.getvalue() + b"ok churn:2\n")  # a single acknowledgement counts one
        stdout.feed_data(b"swap churn:3\n")
        stdout.feed_eof()

        class Proc:
            async def wait(self):
                return 0
        link.proc, link.in_flight, link._stopping = Proc(), 6, True
        link.proc.stdout = stdout
        await link._acks()

    asyncio.run(read())
    m = link.metrics
    assert link.in_flight == 0 and link.version == "churn:3"
    assert m.answers.labels("churn", "shadow", "churn:2")._value.get() == 4
    assert m.answers.labels("churn", "shadow", "churn:3")._value.get() == 1
    assert m.shadow_errors.labels("churn")._value.get() == 1
