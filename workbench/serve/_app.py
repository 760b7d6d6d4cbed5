"""The FastAPI application: routes, the OpenAPI document with every model's own request type, errors.

Each model gets its own documented routes (``/models/churn/predict`` with churn's columns), so
``/docs`` shows real fields; hidden catch-all routes answer 404 for names that are not served. Every
error is JSON ``{"detail": ...}``: 401 token, 404 unknown model or route, 405 method, 413 too large, 415
media type, 422 invalid input (naming the field), 503 Redis-backed profile store down. An unexpected
exception is logged with its traceback and answered 500 without one (the fuzz test expects none).
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ._config import ServeConfig
from ._http import Guard
from ._images import predict_images
from ._models import ServedModel, load_models
from ._openapi import model_operations, shared_components
from ._recommend import get_profile, post_interaction, predict_user
from ._state import ServerState, json_response
from ._tables import predict_table

log = logging.getLogger("workbench.serve")
PREDICTORS = {"table": predict_table, "image": predict_images, "recommender": predict_user}


def _model_routes(app: FastAPI, state: ServerState, sm: ServedModel) -> None:
    ops = model_operations(sm, state.config)
    handler = PREDICTORS[sm.mode]

    async def predict(request: Request) -> Response:
        return await handler(state, sm, request)

    app.add_api_route(f"/models/{sm.name}/predict", predict, methods=["POST"], tags=[sm.name],
                      summary=ops["predict"]["summary"], description=ops["predict"]["description"],
                      openapi_extra=ops["predict"]["extra"], operation_id=f"predict_{sm.name}")
    if sm.mode != "recommender":
        return

    async def interactions(request: Request) -> Response:
        return await post_interaction(state, sm, request)

    async def profile(user: str) -> Response:
        return await get_profile(state, sm, user)

    app.add_api_route(f"/models/{sm.name}/interactions", interactions, methods=["POST"], tags=[sm.name],
                      summary=ops["interactions"]["summary"], description=ops["interactions"]["description"],
                      openapi_extra=ops["interactions"]["extra"], operation_id=f"interactions_{sm.name}")
    app.add_api_route(f"/models/{sm.name}/users/{{user}}", profile, methods=["GET"], tags=[sm.name],
                      summary=ops["profile"]["summary"], openapi_extra=ops["profile"]["extra"],
                      operation_id=f"profile_{sm.name}")


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
        return json_response({"name": sm.name, "version": sm.version, **sm.card.to_dict()})

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
        raise HTTPException(404, f"model {sm.name!r} is a {sm.mode} model: {request.url.path.split('/')[3]} is for "
                                 "recommenders (GET /models lists every model's routes)")

    for path, method in (("/models/{name}/predict", "POST"), ("/models/{name}/interactions", "POST"),
                         ("/models/{name}/users/{user}", "GET")):
        app.add_api_route(path, unknown, methods=[method], include_in_schema=False)


def _openapi(app: FastAPI, state: ServerState) -> Any:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(shared_components())
            for sm in state.models.values():
                components.update(model_operations(sm, state.config)["components"])
            if state.config.token:
                _secure(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    return build


def _secure(schema: dict[str, Any]) -> None:
    """Bearer authentication on every operation but ``/health``, with its 401 documented."""
    schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    schema["security"] = [{"bearer": []}]
    unauthorized = {"description": "missing or wrong token",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, operations in schema.get("paths", {}).items():
        for op in operations.values():
            if path == "/health":
                op["security"] = []
            else:
                op.setdefault("responses", {})["401"] = unauthorized


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
    app.state.serve = state
    _common_routes(app, state)
    for sm in state.models.values():
        _model_routes(app, state, sm)
    _fallback_routes(app, state)
    app.openapi = _openapi(app, state)  # type: ignore[method-assign]
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(Guard, token=config.token, max_body=config.max_body_bytes, models=set(state.models),
                       observe=state.metrics.observe)
    return app
