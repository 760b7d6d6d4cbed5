"""Serving saved models over HTTP (``workbench serve``): FastAPI + uvicorn on the saved-model contract.

``workbench serve MODEL_DIR... [--host 127.0.0.1] [--port 8000] [--workers N] [--token T]`` loads every
folder with :func:`workbench.models.load` (card and hashes verified) and serves, per model,
``POST /models/{name}/predict`` (tabular records or CSV, images, or a recommender's users), plus
``/interactions`` and ``/users/{user}`` for recommenders; ``GET /health``, ``/models``, ``/models/{name}``
(the card) and ``/metrics`` (Prometheus). A response cache (in-process, or Redis with ``REDIS_URL``), a
request log per model for drift monitoring, request validation generated from each card, and a bearer
token complete it.

Modules: ``_config`` (options, checks), ``_endpoint`` (a served model: the base of the endpoint classes),
one endpoint class per input kind of the card, each with its router, request types and docs —
``_tables`` (table), ``_images`` (image), ``_recommend`` (users) —, ``_models`` (loading; input kind ->
endpoint class), ``_schemas``/``_openapi`` (generated request types, the OpenAPI document), ``_http``
(token, size limit, metrics per request; the helpers every endpoint shares), ``_cache``, ``_profiles``
(recommender profiles across workers), ``_logs`` (request and interaction logs), ``_metrics``,
``_follow`` (a registry reference followed: the new version verified and swapped in), ``_rollout``
(shadow, canary and sticky A/B per served name; the request-log keys), ``_state``, ``_app``, ``_server``.
Like :mod:`workbench.runner` it never imports a domain: models are reached only through the contract.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"ServeConfig": "_config", "ServeError": "_config", "parse_models": "_config", "serve_config": "_config",
         "create_app": "_app", "load_models": "_models", "ServedModel": "_endpoint", "run_server": "_server"}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'workbench.serve' has no attribute {name!r}")
