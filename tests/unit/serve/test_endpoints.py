"""One endpoint class per input kind: the card's typed input picks it; each brings exactly its own routes."""

from __future__ import annotations

import json

import pytest
from serve_support import FakeRecommender

from workbench.models import KINDS
from workbench.serve import ServeError, load_models
from workbench.serve._images import ImageEndpoint
from workbench.serve._models import ENDPOINTS
from workbench.serve._recommend import RecommenderEndpoint
from workbench.serve._state import ServerState
from workbench.serve._tables import TableEndpoint


def test_the_card_input_kind_picks_the_endpoint_and_its_routes(churn_dir, vision_dir, recsys_dir, config_for):
    assert ENDPOINTS == {"table": TableEndpoint, "image": ImageEndpoint, "users": RecommenderEndpoint}
    config = config_for(("churn", churn_dir), ("parts", vision_dir), ("recs", recsys_dir))
    served = load_models(config)
    assert [type(sm) for sm in served.values()] == [TableEndpoint, ImageEndpoint, RecommenderEndpoint]
    state = ServerState(config, served)
    routes = {name: sorted((r.path, *r.methods) for r in sm.router(state).routes) for name, sm in served.items()}
    assert routes == {"churn": [("/models/churn/predict", "POST")], "parts": [("/models/parts/predict", "POST")],
                      "recs": [("/models/recs/interactions", "POST"), ("/models/recs/predict", "POST"),
                               ("/models/recs/users/{user}", "GET")]}
    table = served["churn"]
    assert table.table.features == table.card.input_schema.features and "customer_id" in table.table.id_columns
    assert table.numeric["tenure"] is True and table.numeric["contract"] is False
    assert served["recs"].default_k == 5 and (served["recs"].user_col, served["recs"].item_col) == ("user", "item")


def test_an_input_kind_no_endpoint_takes_is_refused_at_start(recsys_dir, config_for, monkeypatch):
    card = json.loads((recsys_dir / "model.json").read_text())
    (recsys_dir / "model.json").write_text(json.dumps({**card, "kind": "audio",
                                                       "input_schema": {"type": "audio", "rate": 16000}}))
    KINDS.register("audio", FakeRecommender)
    try:
        with pytest.raises(ServeError, match="a model of kind 'audio' with input schema type 'audio' cannot be served "
                                             r"\(workbench serve takes table, image, users inputs\)"):
            load_models(config_for(("speech", recsys_dir)))
    finally:
        KINDS.unregister("audio")
