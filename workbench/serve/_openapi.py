"""The OpenAPI document: every model's own request types and answers, the shared error type, the token.

Each endpoint class documents its routes (summary, description, request body, answers) and brings the
components its generated request types refer to; this module holds the pieces they share and puts the
document together. The documented answers are exact (the fuzz test checks every response against
them), so a client generated from ``/openapi.json`` reads every status the server can give.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

if TYPE_CHECKING:
    from ._endpoint import ServedModel
    from ._state import ServerState

ERROR = {"$ref": "#/components/schemas/Error"}
NUMBER_OR_NULL = {"anyOf": [{"type": "number"}, {"type": "null"}]}
TEXT_OR_NULL = {"anyOf": [{"type": "string"}, {"type": "null"}]}
SCALAR = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]}


def shared_components() -> dict[str, Any]:
    """Schemas every model's routes refer to."""
    return {"Error": {"type": "object", "title": "Error", "required": ["detail"], "properties": {"detail": {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object", "properties": {
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"}, "type": {"type": "string"}}}}]}}}}


def errors(codes: dict[int, str]) -> dict[str, Any]:
    """Documented error answers: status -> description, each a JSON ``Error``."""
    return {str(c): {"description": d, "content": {"application/json": {"schema": ERROR}}} for c, d in codes.items()}


def answer(name: str, row: dict[str, Any]) -> dict[str, Any]:
    """The answer of a predict route: the model, its version and one ``row`` per input."""
    return {"type": "object", "title": f"{name}_predictions", "required": ["model", "version", "predictions"],
            "properties": {"model": {"type": "string"}, "version": {"type": "string"},
                           "predictions": {"type": "array", "items": row}}}


def prediction_row(sm: "ServedModel", key: dict[str, Any]) -> dict[str, Any]:
    """One prediction: the ``key`` columns, ``prediction``, ``proba_<class>`` or the interval, ``error``."""
    probs = {f"proba_{c}": NUMBER_OR_NULL for c in sm.card.classes}
    if sm.card.task == "regression":  # the prediction interval's bounds, when the model has one
        probs = {c: NUMBER_OR_NULL for c in ("interval_lower", "interval_upper") if c in sm.card.output_columns}
    return {"type": "object", "properties": {**key, "prediction": SCALAR, **probs, "error": TEXT_OR_NULL},
            "required": ["prediction", *probs, "error"]}


def openapi_builder(app: FastAPI, state: "ServerState") -> Callable[[], dict[str, Any]]:
    """``app.openapi``: the document built once, with every model's components and the token's security."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(shared_components())
            for sm in state.models.values():
                components.update(sm.components)
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
