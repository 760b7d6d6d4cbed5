"""``workbench serve`` as a user runs it: the real CLI in a subprocess on a free port, real HTTP.

A request in flight when SIGTERM arrives is still answered; several workers share a recommender's
interactions and the metrics through a real redis-server; start-up mistakes are one line and exit 2.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serve_support import (
    build_movielens,
    build_recommender,
    fit_churn,
    free_port,
    redis_server,
    run_serve_cli,
    sitecustomize_dir,
    telco_records,
)
from support import run_cli

TOKEN = "e2e-token-0123456789abcdef"


def _call(port: int, method: str, path: str, body: dict | None = None, token: str | None = TOKEN):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if data.startswith((b"{", b"[")) else data


def _send(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    r = conn.getresponse()
    data = r.read()
    return r.status, json.loads(data) if data.startswith(b"{") else data


def _one_connection_per_worker(port: int, workers: int, timeout: float = 240) -> dict:
    """Kept-alive connections, one accepted by each worker process (told apart by /health's pid)."""
    found: dict[int, http.client.HTTPConnection] = {}
    spare = []
    deadline = time.time() + timeout
    while len(found) < workers:
        assert time.time() < deadline, f"only {len(found)} of {workers} workers answered"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        pid = _send(conn, "GET", "/health")[1]["pid"]
        if pid in found:
            spare.append(conn)  # held open, so the next connection may go to another worker
            time.sleep(0.1)
        else:
            found[pid] = conn
    for conn in spare:
        conn.close()
    return found


@pytest.fixture(scope="module")
def churn_dir(tmp_path_factory) -> Path:
    return fit_churn(tmp_path_factory.mktemp("models") / "churn")


@pytest.mark.slow
def test_serves_over_http_and_sigterm_finishes_the_request_in_flight(churn_dir, tmp_path):
    port = free_port()
    proc, err = run_serve_cli([f"churn={churn_dir}", "--port", str(port), "--log-dir", str(tmp_path / "logs")],
                              port, cwd=tmp_path, env={"WORKBENCH_SERVE_TOKEN": TOKEN})
    try:
        assert _call(port, "GET", "/health", token=None)[0] == 200
        assert _call(port, "GET", "/models", token=None)[0] == 401
        status, body = _call(port, "POST", "/models/churn/predict", {"records": telco_records(3)})
        assert status == 200 and len(body["predictions"]) == 3
        # a client that leaves halfway through its body: no error, no traceback, the server goes on
        gone = socket.create_connection(("127.0.0.1", port), timeout=10)
        gone.sendall(f"POST /models/churn/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"records\": [".encode())
        time.sleep(0.3)
        gone.close()
        time.sleep(0.3)
        assert 'status="500"' not in _call(port, "GET", "/metrics")[1].decode()
        # a request whose body is still arriving when SIGTERM comes
        payload = json.dumps({"records": telco_records(5, start=100)}).encode()
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.sendall(f"POST /models/churn/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
                     + payload[:100])
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert proc.poll() is None, "the server quit with a request in flight"
        sock.sendall(payload[100:])
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < 50:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        sock.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        assert b'"predictions"' in answer and answer.count(b'"prediction"') == 5
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "serve stopped" in err.text() and "Traceback" not in err.text()
    lines = [json.loads(x) for f in (tmp_path / "logs" / "churn").glob("requests-*.jsonl")
             for x in f.read_text().splitlines()]
    assert len(lines) == 8  # the in-flight request's rows were flushed before exit
    assert TOKEN not in (tmp_path / "logs").joinpath("churn").glob("*.jsonl").__next__().read_text()


@pytest.mark.slow
def test_workers_share_interactions_cache_and_metrics_through_redis(churn_dir, tmp_path):
    movies = build_movielens(tmp_path / "movies")
    with redis_server() as (url, _):
        port = free_port()
        proc, err = run_serve_cli([f"movies={movies}", f"churn={churn_dir}", "--port", str(port), "--workers", "2",
                                   "--log-dir", str(tmp_path / "logs")], port, cwd=tmp_path,
                                  env={"REDIS_URL": url, "WORKBENCH_SERVE_TOKEN": TOKEN})
        try:
            by_pid = _one_connection_per_worker(port, 2)
            (_, a), (_, b) = by_pid.items()

            def top(conn) -> list:
                status, body = _send(conn, "POST", "/models/movies/predict", {"user": 3, "k": 5})
                assert status == 200, body
                return [i["item"] for i in body["items"]]

            before = top(b)
            assert top(a) == before
            assert _send(a, "POST", "/models/movies/interactions", {"user": 3, "item": before[0], "rating": 5})[0] == 200
            for conn in (b, a):  # the other worker sees it at once (b's cached answer is not used), as does a
                assert before[0] not in top(conn)
                assert _send(conn, "GET", "/models/movies/users/3")[1]["items"][-1] == before[0]
            second = top(b)[0]
            assert _send(b, "POST", "/models/movies/interactions", {"user": 3, "item": second})[0] == 200
            assert second not in top(a)
            records = {"records": telco_records(2)}
            assert _send(a, "POST", "/models/churn/predict", records) == _send(b, "POST", "/models/churn/predict", records)
            text = _send(a, "GET", "/metrics")[1].decode()
            assert 'workbench_serve_interactions_total{model="movies"} 2.0' in text  # both workers' counts
            assert 'workbench_serve_cache_hits_total{model="churn"} 1.0' in text  # one read the other's answer
            for conn in by_pid.values():
                conn.close()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "Traceback" not in err.text(), err.text()[-3000:]


def test_start_up_mistakes_are_one_line_and_exit_2(churn_dir, tmp_path):
    recs = build_recommender(tmp_path / "recs")  # the fake kind (registered in the subprocess): no fit needed
    env = {"PYTHONPATH": os.pathsep.join([str(sitecustomize_dir(tmp_path)), os.environ.get("PYTHONPATH", "")])}
    cases = [
        (["serve", str(tmp_path / "nowhere")], "no model.json"),
        (["serve", f"recs={recs}", "--workers", "2"], "needs Redis"),
        (["serve", f"x={churn_dir}", f"x={churn_dir}"], "two models are named 'x'"),
        (["serve", str(churn_dir), "--token", "short"], "at least 16"),
    ]
    for args, message in cases:
        proc = run_cli(*args, cwd=tmp_path, env=env, timeout=300)
        assert proc.returncode == 2, (args, proc.stderr[-2000:])
        assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    (churn_dir.parent / "tampered").mkdir()
    for f in churn_dir.iterdir():
        (churn_dir.parent / "tampered" / f.name).write_bytes(f.read_bytes())
    with open(churn_dir.parent / "tampered" / "model.skops", "ab") as f:
        f.write(b"\0")
    proc = run_cli("serve", str(churn_dir.parent / "tampered"), cwd=tmp_path, timeout=300)
    assert proc.returncode == 2 and "sha256" in proc.stderr and "'tampered'" in proc.stderr


def test_help_lists_the_endpoints():
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "serve", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for word in ("/models/NAME/predict", "/interactions", "/metrics", "REDIS_URL", "WORKBENCH_SERVE_TOKEN", "--workers"):
        assert word in proc.stdout

