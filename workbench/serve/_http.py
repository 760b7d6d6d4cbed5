"""The HTTP edge, as plain ASGI (no per-request task or copy): authentication, the body size limit,
security headers, and a latency/status observation per request for the metrics; and the helpers every
endpoint shares: the request's media type, 415 and 422 answers, multipart forms, JSON bodies and responses.

- With a token, every route but ``/health`` needs ``Authorization: Bearer <token>`` (compared in
  constant time); anything else is 401 before the request reaches a route, so neither the route list,
  the OpenAPI document nor a model name is visible without it.
- A body over the limit is 413: at once when ``Content-Length`` says so, else as soon as the streamed
  bytes pass it (nothing more is read).
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any, Callable

from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ._json import dumps

JSON = b"application/json"
JSON_TYPES = ("application/json", "")
MAX_DETAILS = 50
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"),
                    (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer")]
OPEN_PATHS = ("/health",)
MODEL_ROUTES = {"predict", "interactions", "users"}
PLAIN_ROUTES = {"/health", "/models", "/metrics", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"}


def route_labels(path: str, models: set[str]) -> tuple[str, str]:
    """Bounded metric labels for a request path: (model name or "-", route template or "other")."""
    if path in PLAIN_ROUTES:
        return "-", path
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "models" and parts[2] in models:
        if len(parts) == 3:
            return parts[2], "/models/{name}"
        if parts[3] in MODEL_ROUTES:
            return parts[2], "/models/{name}/users/{user}" if parts[3] == "users" else f"/models/{{name}}/{parts[3]}"
    return "-", "other"


async def send_json(send: Callable, status: int, body: dict[str, Any], headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", JSON), (b"content-length", str(len(data)).encode()),
                            *SECURITY_HEADERS, *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


class Guard:
    """ASGI middleware: token, body limit, security headers, metrics (see the module docstring)."""

    def __init__(self, app: Any, token: str | None, max_body: int, models: set[str],
                 observe: Callable[[str, str, int, float], None] | None = None):
        self.app, self.max_body, self.models, self.observe = app, max_body, models, observe
        self.token = token.encode() if token else None

    def _authorized(self, scope: dict) -> bool:
        if self.token is None or scope["path"] in OPEN_PATHS:
            return True
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.strip().partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token)
        return False

    def _declared_length(self, scope: dict) -> int | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            await self._handle(scope, receive, send_wrapper, status)
        finally:
            if self.observe is not None:
                model, route = route_labels(scope["path"], self.models)
                self.observe(model, route, status[0], time.perf_counter() - start)

    async def _handle(self, scope: dict, receive: Callable, send: Callable, status: list) -> None:
        if not self._authorized(scope):
            status[0] = 401
            await send_json(send, 401, {"detail": "missing or wrong token: send the header 'Authorization: Bearer "
                                                  "<token>' (every route but /health needs it)"},
                            [(b"www-authenticate", b"Bearer")])
            return
        declared = self._declared_length(scope)
        if declared is not None and declared > self.max_body:
            status[0] = 413
            await send_json(send, 413, {"detail": too_large(self.max_body)}, [(b"connection", b"close")])
            return
        try:
            await self.app(scope, self._limited(receive), send)
        except ClientDisconnect:  # the client went away mid-request: nothing to answer, nothing went wrong
            status[0] = 499

    def _limited(self, receive: Callable) -> Callable:
        seen = [0]
        limit = self.max_body

        async def limited() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > limit:
                    raise HTTPException(413, too_large(limit))
            return message

        return limited


def too_large(limit: int) -> str:
    return (f"request body over the limit of {limit / (1 << 20):.3g} MiB; send fewer rows or images per request "
            "(or start the server with a larger --max-body-mb)")


# ------------------------------------------------------------------------- what every endpoint shares
def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters ("" when none is given)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def unsupported(ctype: str, accepted: str) -> HTTPException:
    """415 naming what was sent and what the route takes."""
    return HTTPException(415, f"unsupported Content-Type {ctype or 'none'!r}; send {accepted}")


def invalid(msg: str, loc: list | None = None, kind: str = "value_error") -> HTTPException:
    """422 with one FastAPI-style detail (``loc``, ``msg``, ``type``)."""
    return HTTPException(422, [{"loc": loc or ["body"], "msg": msg, "type": kind}])


def error_details(error: ValidationError, where: str = "body") -> list[dict[str, Any]]:
    """FastAPI-style 422 details (``loc``, ``msg``, ``type``), the input values left out, at most 50."""
    out = []
    for e in error.errors(include_url=False, include_input=False, include_context=False)[:MAX_DETAILS]:
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = f"unknown field {e['loc'][-1]!r}"
        elif e["type"] == "missing":
            msg = f"field required: {e['loc'][-1]!r}"
        out.append({"loc": [where, *e["loc"]], "msg": msg, "type": e["type"]})
    return out


def too_many(error: ValidationError) -> bool:
    """Whether validation failed only because a list is over its length limit (answered 413)."""
    return any(e["type"] == "too_long" and len(e["loc"]) == 1 for e in error.errors(include_url=False))


async def read_json(request: Request, adapter: TypeAdapter) -> Any:
    """The JSON body validated by ``adapter`` (415 for another media type, 422 naming each bad field)."""
    if media_type(request) not in JSON_TYPES:
        raise unsupported(media_type(request), "application/json")
    try:
        return adapter.validate_json(await request.body())
    except ValidationError as e:
        raise HTTPException(422, error_details(e)) from None


async def read_form(request: Request, limit: int, what: str) -> Any:
    """The multipart form of ``request``; a malformed body is 422, well over ``limit`` files 413."""
    try:
        return await request.form(max_files=limit + 1, max_fields=limit + 8)
    except HTTPException as e:
        if e.status_code == 413:
            raise
        if "Too many files" in str(e.detail):
            raise HTTPException(413, f"too many {what} in one request (at most {limit}); send them in "
                                     "batches") from None
        raise invalid(f"malformed multipart body: {e.detail}", kind="multipart") from None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialized by :func:`~workbench.serve._json.dumps` (NaN and infinities as null)."""
    return Response(dumps(body), status, headers=headers, media_type="application/json")


def raw_json(data: bytes, status: int = 200) -> Response:
    """A response of JSON bytes already serialized (a cached answer)."""
    return Response(data, status, media_type="application/json")


def explain_query(request: Any, most: int, offered: bool) -> int | None:
    """The ``explain`` query parameter of a predict route: None, or K in 1..``most`` (422 otherwise, for a model
    that does not explain (``offered`` false), and for any other query parameter: the route takes only this one)."""
    params = request.query_params
    if not params:
        return None
    other = [k for k in params if k != "explain"]
    if other or len(params.getlist("explain")) > 1:
        name = other[0] if other else "explain"
        raise invalid(f"unknown or repeated query parameter {name[:40]!r}; this route takes only explain=K",
                      ["query", name[:40]], "extra_forbidden")
    raw = params["explain"]
    if not offered:
        raise invalid("this model does not explain its predictions (explain=K covers tabular binary classification "
                      "and regression models, and item-kNN, EASE, PureSVD and content recommenders)",
                      ["query", "explain"])
    k = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 0
    if not 1 <= k <= most:
        raise invalid(f"explain must be an integer from 1 to {most}, got {raw[:20]!r}; e.g. ?explain=3",
                      ["query", "explain"], "int_parsing")
    return k
