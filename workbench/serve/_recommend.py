"""Recommender routes: top-k per user, interactions that change the next answer at once, the profile.

- ``POST /models/{name}/predict`` ``{"user": ..., "k": 10}``: the user's top-k items with scores; a user
  the model does not know gets its fallback (``cold_start: true``), never an error.
- ``POST /models/{name}/interactions`` ``{"user": ..., "item": ..., "rating": ...}``: applied to the
  user's profile before the answer (the next predict reflects it, on every worker: see ``_profiles``),
  the user's cached recommendations dropped, and the interaction appended to the durable log.
- ``GET /models/{name}/users/{user}``: the user's current profile.

The predictor is called only through the contract's recommender interface: ``predict(users, k=...)``
(rows: user, ``rank``, item, ``score``, ``cold_start``, ``error``), ``update(user, item, rating)`` and
``profile(user)``; item and user column names come from the card (``input_schema.user_col``/``item_col``).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import WorkbenchError
from ..models import frame_records
from ._json import dumps
from ._logs import utc_now
from ._models import ServedModel
from ._profiles import Profiles, StoreUnavailable, user_key
from ._schemas import error_details
from ._state import ServerState, compute, json_response, raw_json
from ._tables import JSON_TYPES, media_type, unsupported

ROW_KEYS = ("rank", "score", "cold_start", "error")


async def _body(sm: ServedModel, request: Request, adapter: Any) -> dict[str, Any]:
    if media_type(request) not in JSON_TYPES:
        raise unsupported(media_type(request), "application/json")
    try:
        return adapter.validate_json(await request.body())
    except ValidationError as e:
        raise HTTPException(422, error_details(e)) from None


def _key(sm: ServedModel, user: Any, where: list) -> Any:
    try:
        key = user_key(sm.predictor, user)
    except (WorkbenchError, ValueError, TypeError) as e:
        raise HTTPException(422, [{"loc": where, "msg": f"not a valid user id: {e}", "type": "value_error"}]) from None
    if key is None or key == "":
        raise HTTPException(422, [{"loc": where, "msg": "the user id is empty", "type": "value_error"}])
    return key


def _columns(sm: ServedModel) -> tuple[str, str]:
    schema = sm.card.input_schema if isinstance(sm.card.input_schema, dict) else {}
    return str(schema.get("user_col") or "user"), str(schema.get("item_col") or "item")


def recommend(sm: ServedModel, key: Any, k: int) -> dict[str, Any]:
    """The answer for one user: items (rank, item, score and any label columns) and ``cold_start``."""
    user_col, item_col = _columns(sm)
    with sm.lock:
        frame = sm.predictor.predict([key], k=k)
    rows = frame_records(frame)
    errors = [r["error"] for r in rows if r.get("error")]
    if errors:
        raise HTTPException(422, [{"loc": ["body", "user"], "msg": str(errors[0]), "type": "value_error"}])
    items = []
    for r in rows:
        item = {"rank": r.get("rank"), "item": r.get(item_col), "score": r.get("score")}
        item.update({c: v for c, v in r.items() if c not in (*ROW_KEYS, user_col, item_col)})
        items.append(item)
    cold = bool(rows[0].get("cold_start")) if rows else True
    return {"model": sm.name, "user": key, "k": k, "cold_start": cold, "items": items}


async def predict_user(state: ServerState, sm: ServedModel, request: Request) -> Response:
    """Top-k items for one user; cached per (user, k) for the user's current profile version."""
    start = time.perf_counter()
    _, ts = utc_now()
    data = await _body(sm, request, sm.request)
    key = _key(sm, data["user"], ["body", "user"])
    k = data.get("k", sm.default_k)
    profiles = state.profiles[sm.name]
    version = await profiles.sync(key)
    group, field, tag = f"{sm.digest}:u:{Profiles.name(key)}", str(k), f"{version}\n".encode()
    cached = await state.cache.get(group, field)
    m = state.metrics
    if cached is not None and cached.startswith(tag):
        m.cache_hits.labels(sm.name).inc()
        body = cached[len(tag):]
        answer = None
    else:
        m.cache_misses.labels(sm.name).inc()
        answer = await compute(recommend, sm, key, k, inline=True)
        body = dumps(answer)
        await state.cache.set(group, tag + body, field)
    m.rows.labels(sm.name).inc()
    answer = answer if answer is not None else from_json(body)
    state.request_log.add(sm.name, ts, 1000 * (time.perf_counter() - start), [{"user": key, "k": k}],
                          [{"items": answer["items"], "cold_start": answer["cold_start"]}], flat=False)
    return raw_json(body)


async def post_interaction(state: ServerState, sm: ServedModel, request: Request) -> Response:
    """Apply one interaction at once, drop the user's cached answers, append it to the durable log."""
    _, ts = utc_now()
    data = await _body(sm, request, sm.interaction)
    key = _key(sm, data["user"], ["body", "user"])
    item, rating = data["item"], data.get("rating")
    try:
        version, refused = await state.profiles[sm.name].record(key, item, rating)
    except StoreUnavailable as e:
        raise HTTPException(503, str(e), headers={"Retry-After": "1"}) from None
    if refused:
        raise HTTPException(422, [{"loc": ["body", "item"], "msg": refused, "type": "value_error"}])
    await state.cache.drop(f"{sm.digest}:u:{Profiles.name(key)}")
    try:
        await compute(state.interaction_logs[sm.name].append, ts, key, item, rating)
    except OSError as e:
        raise HTTPException(503, f"the interaction was applied but could not be written to the interaction log "
                                 f"({e.strerror}); check the disk of --log-dir") from None
    state.metrics.interactions.labels(sm.name).inc()
    return json_response({"model": sm.name, "user": key, "item": item, "rating": rating, "version": version,
                          "recorded": ts})


async def get_profile(state: ServerState, sm: ServedModel, user: str) -> Response:
    """The user's profile as the model holds it now (interactions of every worker applied)."""
    key = _key(sm, user, ["path", "user"])
    await state.profiles[sm.name].sync(key)
    profile = getattr(sm.predictor, "profile", None)
    if not callable(profile):
        raise HTTPException(404, f"model {sm.name!r} does not expose user profiles")
    try:
        data = profile(key)
    except WorkbenchError as e:
        raise HTTPException(422, [{"loc": ["path", "user"], "msg": str(e), "type": "value_error"}]) from None
    return json_response({"model": sm.name, **data} if isinstance(data, dict) else {"model": sm.name, "profile": data})
