"""The FastAPI application: the server's routes, every model's router, the OpenAPI document, errors.

Each model's endpoint class brings its own documented routes (``/models/churn/predict`` with churn's
columns), so ``/docs`` shows real fields; hidden catch-all routes answer 404 for names that are not
served, or routes a model's kind lacks. Every
error is JSON ``{"detail": ...}``: 401 token, 404 unknown model or route, 405 method, 413 too large, 415
media type, 422 invalid input (naming the field), 503 Redis-backed profile store down. An unexpected
exception is logged with its traceback and answered 500 without one (the fuzz test expects none).
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ._config import ServeConfig
from ._endpoint import ServedModel
from ._http import Guard, json_response
from ._models import load_models
from ._openapi import openapi_builder
from ._rollout import build_rollouts
from ._state import ServerState

log = logging.getLogger("workbench.serve")


def _common_routes(app: FastAPI, state: ServerState) -> None:
    started = time.time()

    @app.get("/health", tags=["server"], summary="Liveness: 200 when the server answers (no token needed)")
    async def health() -> Response:
        return json_response({"status": "ok", "models": len(state.models), "pid": os.getpid(),
                              "uptime_s": round(time.time() - started, 3)})

    @app.get("/models", tags=["server"], summary="The served models: name, kind, task, classes, routes")
    async def models() -> Response:
        return json_response({"models": [sm.summary() for sm in state.models.values()]})

    @app.get("/models/{name}", tags=["server"], summary="A served model's card (model.json)",
             responses={404: {"description": "no model of that name"}})
    async def card(name: str) -> Response:
        sm = state.model(name)
        rollout = state.rollouts.get(name)
        extra = {"rollout": rollout.describe()} if rollout is not None else {}
        return json_response({"name": sm.name, "version": sm.version, **extra, **sm.card.to_dict()})

    @app.get("/metrics", tags=["server"], summary="Prometheus metrics (text format)",
             response_class=Response, responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def metrics() -> Response:
        body, ctype = state.metrics.exposition()
        return Response(body, media_type=ctype)


def _fallback_routes(app: FastAPI, state: ServerState) -> None:
    """Hidden routes after the models' own: 404 for a name that is not served, or a route its kind lacks."""

    async def unknown(request: Request) -> Response:
        name = request.path_params["name"]
        sm = state.model(name)  # 404 when unknown
        raise HTTPException(404, f"model {sm.name!r} is a {sm.label} model: {request.url.path.split('/')[3]} is for "
                                 "recommenders (GET /models lists every model's routes)")

    for path, method in (("/models/{name}/predict", "POST"), ("/models/{name}/interactions", "POST"),
                         ("/models/{name}/users/{user}", "GET")):
        app.add_api_route(path, unknown, methods=[method], include_in_schema=False)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response({"detail": "internal server error; the server log has the details"}, 500)


def create_app(config: ServeConfig, models: dict[str, ServedModel] | None = None) -> FastAPI:
    """The ASGI application serving ``config``'s models (loaded here unless ``models`` is given)."""
    from .. import __version__

    state = ServerState(config, models if models is not None else load_models(config))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(title="workbench serve", version=__version__, lifespan=lifespan, redoc_url=None,
                  description="Saved workbench models over HTTP: " + ", ".join(
                      f"{n} ({sm.card.kind}, {sm.card.task})" for n, sm in state.models.items()))
    state.rollouts = build_rollouts(config, state)
    app.state.serve = state
    _common_routes(app, state)
    for sm in state.models.values():
        app.include_router(sm.router(state))
    _fallback_routes(app, state)
    app.openapi = openapi_builder(app, state)  # type: ignore[method-assign]
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(Guard, token=config.token, max_body=config.max_body_bytes, models=set(state.models),
                       observe=state.metrics.observe)
    return app
