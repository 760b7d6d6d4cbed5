"""A header-read deadline for uvicorn's HTTP protocols.

uvicorn (0.55) times out idle keep-alive connections only after a response; a connection that opens and
sends a request's headers slowly, or never, holds a slot for good. Past ``limit_concurrency`` (1024)
every other client gets 503, so about 1,100 such connections used to deny the service to everyone.
Here every connection must complete a request's headers within ``header_timeout`` seconds of opening
(or of the first byte of its next request); otherwise it is closed. Slow bodies, many slow clients from
many addresses, and TLS are a reverse proxy's job (see SECURITY.md).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - uvicorn[standard] brings httptools on every supported platform
    HttpToolsProtocol = H11Protocol  # type: ignore[misc, assignment]

DEFAULT_HEADER_TIMEOUT = 10.0


class _Deadline:
    """The timer shared by both protocols: armed when headers are awaited, cancelled once they are complete."""

    header_timeout: float
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _header_timer: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, header_timeout: float = DEFAULT_HEADER_TIMEOUT, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class HttpToolsHeaderDeadline(_Deadline, HttpToolsProtocol):
    """uvicorn's httptools protocol with the header deadline."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()


class H11HeaderDeadline(_Deadline, H11Protocol):
    """uvicorn's h11 protocol with the header deadline (when httptools is not installed)."""

    def data_received(self, data: bytes) -> None:
        import h11

        if self.conn.their_state is h11.IDLE:
            self._arm()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()


def protocol(header_timeout: float, httptools: bool = True) -> Any:
    """The ``http`` option of uvicorn's config: a protocol factory with the deadline (picklable, for workers)."""
    cls = HttpToolsHeaderDeadline if httptools else H11HeaderDeadline
    return functools.partial(cls, header_timeout=header_timeout)
