"""The endpoint of recommenders, models with a users input (:class:`RecommenderEndpoint`): top-k per user,
interactions that change the next answer at once, the profile.

- ``POST /models/{name}/predict`` ``{"user": ..., "k": 10}``: the user's top-k items with scores; a user
  the model does not know gets its fallback (``cold_start: true``), never an error.
- ``POST /models/{name}/interactions`` ``{"user": ..., "item": ..., "rating": ...}``: applied to the
  user's profile before the answer (the next predict reflects it, on every worker: see ``_profiles``),
  the user's cached recommendations dropped, and the interaction appended to the durable log.
- ``GET /models/{name}/users/{user}``: the user's current profile.

The predictor is called only through the contract's recommender interface: ``predict(users, k=...)``
(rows: user, ``rank``, item, ``score``, ``cold_start``, ``error``), ``update(user, item, rating)`` and
``profile(user)``; item and user column names come from the card's :class:`~workbench.models.UsersInput`.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic_core import from_json
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import WorkbenchError
from ..models import frame_records
from ._config import ServeConfig
from ._endpoint import ServedModel
from ._http import explain_query, invalid, json_response, raw_json, read_json
from ._json import dumps
from ._logs import InteractionLog, utc_now
from ._openapi import NUMBER_OR_NULL, SCALAR, errors
from ._profiles import Profiles, StoreUnavailable, user_key
from ._schemas import NOT_BLANK, json_schema, recommender_schemas
from ._state import ServerState, compute

log = logging.getLogger("workbench.serve")
ROW_KEYS = ("rank", "score", "cold_start", "error")
MAX_WHY = 10
"""At most this many history items per recommended item with ``?explain=K``."""


class RecommenderEndpoint(ServedModel):
    """A model with a users input: top-k per user, interactions, profiles (see the module docstring)."""

    input_type = "users"
    label = "recommender"
    stateful = True  # the users' profiles: several workers share them only through Redis
    writes_log_dir = True  # the durable interaction log

    def __init__(self, name: str, folder: Any, predictor: Any, config: ServeConfig):
        super().__init__(name, folder, predictor, config)
        users = self.card.input_schema
        self.user_col, self.item_col = users.user_col, users.item_col
        self.default_k = _default_k(self.card.details, config.max_k)
        self.explains = bool(getattr(predictor, "explains", False))
        self.request, self.interaction = recommender_schemas(name, config.max_k, self.default_k)
        self.profiles = Profiles(predictor, name, namespace=self.digest, max_users=config.max_users)
        self.interactions = InteractionLog(config.log_dir, name)
        self._docs = _docs(self)

    def paths(self) -> dict[str, str]:
        return {**super().paths(), "interactions": f"/models/{self.name}/interactions",
                "profile": f"/models/{self.name}/users/{{user}}"}

    def router(self, state: ServerState) -> APIRouter:
        router = APIRouter()

        async def predict(request: Request) -> Response:
            return await self.predict(state, request)

        async def interactions(request: Request) -> Response:
            return await self.post_interaction(state, request)

        async def profile(user: Annotated[str, Path(pattern=NOT_BLANK, max_length=256)]) -> Response:
            return await self.get_profile(user)

        self.add_route(router, "predict", "predict", predict, "POST", self._docs["predict"])
        self.add_route(router, "interactions", "interactions", interactions, "POST", self._docs["interactions"])
        self.add_route(router, "profile", "users/{user}", profile, "GET", self._docs["profile"])
        return router

    async def start(self, state: ServerState) -> None:
        """Profiles through Redis when the server has it; the logged interactions replayed (``replay``)."""
        p, m = self.profiles, state.metrics
        p.on_evict = m.users_evicted.labels(self.name).inc
        if state.redis is not None:
            p.client, p.timeout, p.signer = state.redis, self.config.redis_timeout, state.signer
            p.breaker.on_error = m.redis_errors.labels("profiles").inc
            p.on_invalid = m.cache_invalid.labels("profiles").inc
        if self.config.replay:
            await self._replay(state.redis is not None)

    async def _replay(self, shared: bool) -> None:
        events = self.interactions.replay()
        if not shared:
            applied, skipped = await run_in_threadpool(self.profiles.replay_local, events)
            if applied or skipped:
                log.info("%s: replayed %d logged interaction(s) (%d refused by the model)", self.name, applied, skipped)
            return
        try:
            pushed = await self.profiles.replay_redis(events)
        except Exception as e:  # noqa: BLE001 - Redis down at start-up: profiles start from the model
            log.warning("%s: could not replay interactions into Redis (%s: %s)", self.name, type(e).__name__, e)
            return
        if pushed:
            log.info("%s: pushed %d logged interaction(s) into Redis", self.name, pushed)

    def _key(self, user: Any, where: list) -> Any:
        try:
            key = user_key(self.predictor, user)
        except (WorkbenchError, ValueError, TypeError) as e:
            raise invalid(f"not a valid user id: {e}", where) from None
        if key is None or key == "":
            raise invalid("the user id is empty", where)
        return key

    def recommend(self, key: Any, k: int, why: int | None = None) -> dict[str, Any]:
        """The answer for one user: items (rank, item, score and any label columns; with ``why``, the history items
        behind each) and ``cold_start``."""
        with self.lock:
            try:
                frame = self.predictor.predict([key], k=k) if why is None else self.predictor.explain([key], why, k=k)
            except WorkbenchError as e:
                if why is None:
                    raise
                raise invalid(str(e), ["query", "explain"]) from None
        rows = frame_records(frame)
        failed = [r["error"] for r in rows if r.get("error")]
        if failed:
            raise invalid(str(failed[0]), ["body", "user"])
        items = []
        for r in rows:
            item = {"rank": r.get("rank"), "item": r.get(self.item_col), "score": r.get("score")}
            item.update({c: v for c, v in r.items() if c not in (*ROW_KEYS, self.user_col, self.item_col)})
            items.append(item)
        cold = bool(rows[0].get("cold_start")) if rows else True
        return {"model": self.name, "user": key, "k": k, "cold_start": cold, "items": items}

    async def predict(self, state: ServerState, request: Request) -> Response:
        """Top-k items for one user; cached per (user, k) for the user's current profile version."""
        start = time.perf_counter()
        _, ts = utc_now()
        why = explain_query(request, MAX_WHY, self.explains)
        data = await read_json(request, self.request)
        key = self._key(data["user"], ["body", "user"])
        k = data.get("k", self.default_k)
        await self.profiles.sync(key)
        field = str(k) if why is None else f"{k}:e{why}"
        group, tag = f"{self.digest}:u:{Profiles.name(key)}", self.profiles.tag(key)
        cached = await state.cache.get(group, field)
        m = state.metrics
        if cached is not None and cached.startswith(tag):
            m.cache_hits.labels(self.name).inc()
            body, answer = cached[len(tag):], None
        else:
            m.cache_misses.labels(self.name).inc()
            answer = await compute(self.recommend, key, k, why, inline=why is None)
            body = dumps(answer)
            await state.cache.set(group, tag + body, field)
        m.rows.labels(self.name).inc()
        answer = answer if answer is not None else from_json(body)
        state.request_log.add(self.name, ts, 1000 * (time.perf_counter() - start), [{"user": key, "k": k}],
                              [{"items": answer["items"], "cold_start": answer["cold_start"]}], flat=False)
        return raw_json(body)

    async def post_interaction(self, state: ServerState, request: Request) -> Response:
        """Apply one interaction at once, drop the user's cached answers, append it to the durable log."""
        _, ts = utc_now()
        data = await read_json(request, self.interaction)
        key = self._key(data["user"], ["body", "user"])
        item, rating = data["item"], data.get("rating")
        try:
            version, refused = await self.profiles.record(key, item, rating)
        except StoreUnavailable as e:
            raise HTTPException(503, str(e), headers={"Retry-After": "1"}) from None
        if refused:
            raise invalid(refused, ["body", "item"])
        await state.cache.drop(f"{self.digest}:u:{Profiles.name(key)}")
        try:
            await compute(self.interactions.append, ts, key, item, rating)
        except OSError as e:
            raise HTTPException(503, f"the interaction was applied but could not be written to the interaction log "
                                     f"({e.strerror}); check the disk of --log-dir") from None
        state.metrics.interactions.labels(self.name).inc()
        return json_response({"model": self.name, "user": key, "item": item, "rating": rating, "version": version,
                              "recorded": ts})

    async def get_profile(self, user: str) -> Response:
        """The user's profile as the model holds it now (interactions of every worker applied)."""
        key = self._key(user, ["path", "user"])
        await self.profiles.sync(key)
        profile = getattr(self.predictor, "profile", None)
        if not callable(profile):
            raise HTTPException(404, f"model {self.name!r} does not expose user profiles")
        try:
            data = profile(key)
        except WorkbenchError as e:
            raise invalid(str(e), ["path", "user"]) from None
        return json_response({"model": self.name, **data} if isinstance(data, dict) else
                             {"model": self.name, "profile": data})


def _default_k(details: dict[str, Any], max_k: int) -> int:
    k = details.get("k")
    if isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= max_k:
        return k
    return min(10, max_k)


def _docs(ep: RecommenderEndpoint) -> dict[str, Any]:
    """Summary, description and OpenAPI extras of each route; the request types' components into ``ep``."""
    request, req_defs = json_schema(ep.request)
    interaction, int_defs = json_schema(ep.interaction)
    ep.components = {**req_defs, **int_defs}
    item = {"type": "object", "required": ["rank", "item", "score"], "properties": {
        "rank": {"type": "integer"}, "item": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "score": NUMBER_OR_NULL}}
    params = []
    if ep.explains:
        for i in range(1, MAX_WHY + 1):
            item["properties"].update({f"explain_{i}_item": SCALAR, f"explain_{i}_value": NUMBER_OR_NULL})
        params = [{"name": "explain", "in": "query", "required": False,
                   "schema": {"type": "integer", "minimum": 1, "maximum": MAX_WHY},
                   "description": ("add why each item is recommended: the K history items contributing most to its "
                                   "score, as explain_<i>_item (label or id) and explain_<i>_value")}]
    answer = {"type": "object", "required": ["model", "user", "k", "cold_start", "items"], "properties": {
        "model": {"type": "string"}, "user": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "k": {"type": "integer"}, "cold_start": {"type": "boolean"}, "items": {"type": "array", "items": item}}}
    recorded = {"type": "object", "required": ["model", "user", "item", "version"], "properties": {
        "model": {"type": "string"}, "version": {"type": "integer"}, "recorded": {"type": "string"}}}
    bad = errors({413: "too large a body", 415: "unsupported media type", 422: "invalid input, the field named"})
    return {
        "predict": {"summary": f"Top-k recommendations of {ep.card.name!r} for one user",
                    "description": "Unknown users get the fallback (cold_start: true).",
                    "extra": {"parameters": params,
                              "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
                              "responses": {"200": {"description": "the user's top-k items",
                                                    "content": {"application/json": {"schema": answer}}}, **bad}}},
        "interactions": {"summary": "Record an interaction: the user's next recommendations reflect it at once",
                         "description": "Appended to the durable interaction log; the user's cached answers are dropped.",
                         "extra": {"requestBody": {"required": True,
                                                   "content": {"application/json": {"schema": interaction}}},
                                   "responses": {"200": {"description": "recorded",
                                                         "content": {"application/json": {"schema": recorded}}},
                                                 **bad, **errors({503: "the shared profile store (Redis) is down"})}}},
        "profile": {"summary": "A user's current profile (items and ratings)",
                    "extra": {"responses": {"200": {"description": "the profile", "content": {"application/json": {}}},
                                            **errors({422: "not a valid user id"})}}},
    }
