"""The interactive path: a real JupyterLab server runs workbench code in a kernel it started."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from support import make_notebook

TOKEN = "test-token-not-a-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


async def _execute(port: int, kernel_id: str, code: str) -> list[dict]:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?token={TOKEN}")
    msg_id = uuid.uuid4().hex
    ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
                   "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    outputs = []
    deadline = time.time() + 120
    while time.time() < deadline:
        raw = await ws.read_message()
        if raw is None:
            break
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        outputs.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    ws.close()
    return outputs


@pytest.mark.slow
def test_jupyterlab_serves_the_notebooks_and_workbench_runs_interactively(tmp_path: Path):
    import shutil

    from support import NOTEBOOKS

    make_notebook(tmp_path / "notebooks" / "demo.ipynb", "n = 3  # points", "import workbench")
    shutil.copy(NOTEBOOKS / "explore.ipynb", tmp_path / "notebooks" / "explore.ipynb")
    port = _free_port()
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.pop("WORKBENCH_RUN_DIR", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tmp_path}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                _get(f"{base}/api/status?token={TOKEN}")
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start: " + server.stdout.read1(10000).decode(errors="replace"))
        with urllib.request.urlopen(f"{base}/lab?token={TOKEN}", timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
        listing = _get(f"{base}/api/contents/notebooks?token={TOKEN}")
        assert sorted(c["name"] for c in listing["content"]) == ["demo.ipynb", "explore.ipynb"]

        req = urllib.request.Request(f"{base}/api/kernels?token={TOKEN}", data=b'{"name": "python3"}', method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            kernel_id = json.loads(r.read())["id"]
        import asyncio

        code = ("import workbench\nworkbench.record('accuracy', 0.875)\n"
                "print(workbench.in_headless_run(), workbench.artifacts_dir())\n"
                "t = workbench.track({'lr': 0.1, 'api_key': 'hidden'})\nt.log({'loss': 0.5}, step=0)\n"
                "print(t.mode, t.config)\nt.finish()")
        msgs = asyncio.run(_execute(port, kernel_id, code))
        errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
        assert not errors, errors
        shown = [m["content"]["data"] for m in msgs if m["msg_type"] == "display_data"]
        assert any(d.get("text/plain") == "accuracy = 0.875" for d in shown)
        printed = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
        assert "False .workbench/interactive" in printed
        assert "offline {'lr': 0.1, 'api_key': '***'}" in printed
        assert list((tmp_path / "wandb").glob("offline-run-*")), "tracking started an offline W&B run"

        # a real notebook, as JupyterLab serves it, cell by cell in the kernel it started
        nb = _get(f"{base}/api/contents/notebooks/explore.ipynb?token={TOKEN}")["content"]
        widgets = 0
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            msgs = asyncio.run(_execute(port, kernel_id, cell["source"]))
            errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
            assert not errors, (cell["source"], errors)
            widgets += sum("application/vnd.jupyter.widget-view+json" in m["content"].get("data", {})
                           for m in msgs if m["msg_type"] in ("display_data", "execute_result"))
        assert widgets >= 1, "the column explorer is a live widget in JupyterLab"
        assert not (tmp_path / "reports").exists(), "interactive use never writes reports/"
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
