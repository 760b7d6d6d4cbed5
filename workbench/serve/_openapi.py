"""OpenAPI pieces for each model's routes: request bodies from the generated types, answers, errors.

The documented answers are exact (the fuzz test checks every response against them), so a client
generated from ``/openapi.json`` reads every status the server can give.
"""

from __future__ import annotations

from typing import Any

from ._config import ServeConfig
from ._models import ServedModel
from ._schemas import json_schema

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


def _errors(codes: dict[int, str]) -> dict[str, Any]:
    return {str(c): {"description": d, "content": {"application/json": {"schema": ERROR}}} for c, d in codes.items()}


def _answer(name: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "title": f"{name}_predictions", "required": ["model", "version", "predictions"],
            "properties": {"model": {"type": "string"}, "version": {"type": "string"},
                           "predictions": {"type": "array", "items": row}}}


def _row(sm: ServedModel, key: dict[str, Any]) -> dict[str, Any]:
    probs = {f"proba_{c}": NUMBER_OR_NULL for c in sm.card.classes}
    if sm.card.task == "regression":  # the prediction interval's bounds, when the model has one
        columns = (sm.card.output_schema or {}).get("columns") or []
        probs = {c: NUMBER_OR_NULL for c in ("interval_lower", "interval_upper") if c in columns}
    return {"type": "object", "properties": {**key, "prediction": SCALAR, **probs, "error": TEXT_OR_NULL},
            "required": ["prediction", *probs, "error"]}


def _table_predict(sm: ServedModel, config: ServeConfig) -> dict[str, Any]:
    t = sm.table
    content = {
        "application/json": {"schema": t.request},
        "text/csv": {"schema": {"type": "string", "description": "CSV with a header row holding every input column"}},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary", "description": "a CSV file"}}}},
    }
    answer = _answer(sm.name, _row(sm, {c: SCALAR for c in t.id_columns}))
    return {"summary": f"Predict {sm.card.task} {sm.card.name!r}: records (JSON) or a CSV upload",
            "description": (f"Input columns: {', '.join(t.features)}. Up to {config.max_rows:,} rows per request. "
                            "Answers JSON, or CSV with 'Accept: text/csv'."),
            "extra": {"requestBody": {"required": True, "content": content},
                      "responses": {"200": {"description": "one prediction per record, in order", "content": {
                          "application/json": {"schema": answer}, "text/csv": {"schema": {"type": "string"}}}},
                          **_errors({413: "too many rows or too large a body", 415: "unsupported media type",
                                     422: "invalid input, the field named"})}},
            "components": t.components}


def _image_predict(sm: ServedModel, config: ServeConfig) -> dict[str, Any]:
    content = {"multipart/form-data": {"schema": {"type": "object", "required": ["files"], "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                  "description": f"PNG, JPEG, BMP or TIFF images (at most {config.max_images})"}}}}}
    answer = _answer(sm.name, _row(sm, {"filename": {"type": "string"}}))
    return {"summary": f"Classify images with {sm.card.name!r} ({', '.join(map(str, sm.card.classes))})",
            "description": "An image that cannot be read is a row with an error.",
            "extra": {"requestBody": {"required": True, "content": content},
                      "responses": {"200": {"description": "one row per image, in order",
                                            "content": {"application/json": {"schema": answer}}},
                                    **_errors({413: "too many images or too large a body", 415: "unsupported media type",
                                               422: "no images in the field 'files'"})}},
            "components": {}}


def _recommender_ops(sm: ServedModel) -> dict[str, Any]:
    request, req_defs = json_schema(sm.request)
    interaction, int_defs = json_schema(sm.interaction)
    item = {"type": "object", "required": ["rank", "item", "score"], "properties": {
        "rank": {"type": "integer"}, "item": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "score": NUMBER_OR_NULL}}
    answer = {"type": "object", "required": ["model", "user", "k", "cold_start", "items"], "properties": {
        "model": {"type": "string"}, "user": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "k": {"type": "integer"}, "cold_start": {"type": "boolean"}, "items": {"type": "array", "items": item}}}
    recorded = {"type": "object", "required": ["model", "user", "item", "version"], "properties": {
        "model": {"type": "string"}, "version": {"type": "integer"}, "recorded": {"type": "string"}}}
    json_body = {"application/json": {}}
    bad = _errors({413: "too large a body", 415: "unsupported media type", 422: "invalid input, the field named"})
    return {
        "predict": {"summary": f"Top-k recommendations of {sm.card.name!r} for one user",
                    "description": "Unknown users get the fallback (cold_start: true).",
                    "extra": {"requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
                              "responses": {"200": {"description": "the user's top-k items",
                                                    "content": {"application/json": {"schema": answer}}}, **bad}}},
        "interactions": {"summary": "Record an interaction: the user's next recommendations reflect it at once",
                         "description": "Appended to the durable interaction log; the user's cached answers are dropped.",
                         "extra": {"requestBody": {"required": True,
                                                   "content": {"application/json": {"schema": interaction}}},
                                   "responses": {"200": {"description": "recorded",
                                                         "content": {"application/json": {"schema": recorded}}},
                                                 **bad, **_errors({503: "the shared profile store (Redis) is down"})}}},
        "profile": {"summary": "A user's current profile (items and ratings)",
                    "extra": {"responses": {"200": {"description": "the profile", "content": json_body},
                                            **_errors({422: "not a valid user id"})}}},
        "components": {**req_defs, **int_defs},
    }


def model_operations(sm: ServedModel, config: ServeConfig) -> dict[str, Any]:
    """Summary, description, OpenAPI extras per route of ``sm``, and the components they refer to."""
    if sm.mode == "table":
        op = _table_predict(sm, config)
        return {"predict": op, "components": op.pop("components")}
    if sm.mode == "image":
        op = _image_predict(sm, config)
        return {"predict": op, "components": op.pop("components")}
    return _recommender_ops(sm)
