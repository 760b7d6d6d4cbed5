"""The header-read deadline: a connection that does not complete its headers is closed, others are served."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from serve_support import free_port

from workbench.serve._protocol import protocol


async def _app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(params=[True, False], ids=["httptools", "h11"])
def server(request):
    port = free_port()
    config = uvicorn.Config(_app, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                            http=protocol(0.5, httptools=request.param), limit_concurrency=1024)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield port
    srv.should_exit = True
    thread.join(30)


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(30)  # only a hang breaks this: the deadline is 0.5 s
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return s.recv(1024)


def test_unfinished_headers_are_closed_and_others_served(server):
    silent = socket.create_connection(("127.0.0.1", server))  # opens, sends nothing
    partial = socket.create_connection(("127.0.0.1", server))
    partial.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    assert _get(server).startswith(b"HTTP/1.1 200")
    assert _closed_by_server(silent) and _closed_by_server(partial)
    silent.close()
    partial.close()


def test_the_next_request_on_a_kept_alive_connection_has_the_deadline_too(server):
    with socket.create_connection(("127.0.0.1", server), timeout=30) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(1024).startswith(b"HTTP/1.1 200")
        s.sendall(b"GET / HTTP/1.1\r\nHost")  # the second request's headers stall
        assert _closed_by_server(s)
