"""The HTTP edge, as plain ASGI (no per-request task or copy): authentication, the body size limit,
security headers, and a latency/status observation per request for the metrics.

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

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

JSON = b"application/json"
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
