"""Helpers shared by the tests: the real CLI in a subprocess, a real headless Chromium, notebooks.

``pyproject.toml`` puts this folder on ``sys.path`` (``pythonpath = ["tests"]``), so tests import
these as ``from support import run_cli``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


def run_cli(*args: str, cwd: str | Path, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """``workbench ARGS...`` as a user would type it, in ``cwd``; returns the completed process."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": os.environ.get("WANDB_MODE", "offline"),
                "WANDB_SILENT": "true", **(env or {})}
    return subprocess.run([sys.executable, "-m", "workbench.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def only_run(workdir: str | Path, notebook: str) -> Path:
    """The one run folder of ``notebook`` (its stem) under ``workdir/reports`` (fails if there are more)."""
    runs = sorted((Path(workdir) / "reports" / notebook).glob("*/run.json"))
    assert len(runs) == 1, runs
    return runs[0].parent


def run_defaults(notebook: Path, cwd: Path) -> tuple[Path, dict]:
    """``workbench run NOTEBOOK`` on its defaults in ``cwd``: the run folder and its record."""
    import json

    proc = run_cli("run", str(notebook), "--no-progress", cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = only_run(cwd, notebook.stem)
    return run, json.loads((run / "run.json").read_text())


def strict() -> bool:
    """CI mode (``CI=true``, set by ``.ci/run``): a missing component fails the run instead of skipping."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(component: str, fix: str) -> None:
    """A test needs ``component``: skip locally, fail in CI (checks must not vanish silently there)."""
    message = f"{component} is not installed ({fix})"
    if strict():
        pytest.fail(f"CI mode: {message}; a required component may not be skipped", pytrace=False)
    pytest.skip(message)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def render_dom(html_file: str | Path, budget_ms: int = 15000, fragment: str = "") -> str:
    """Open ``html_file`` (``#fragment`` added when given) in headless Chromium with every network request
    refused; return the DOM after scripts ran."""
    exe = chromium_path()
    if exe is None:
        missing("Chromium", "apt-get install -y chromium (make test installs it)")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
               f"--user-data-dir={profile}",
               # no network at all: every host resolves to nothing and any proxy use fails
               "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
               f"--virtual-time-budget={budget_ms}", "--run-all-compositor-stages-before-draw",
               "--dump-dom", Path(html_file).resolve().as_uri() + (f"#{fragment}" if fragment else "")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def remote_references(html: str) -> list[str]:
    """``src``/``href`` attributes of tags (not inside script bodies) that point to another host."""
    import re

    markup = re.sub(r"(<script\b[^>]*>).*?(</script>)", r"\1\2", html, flags=re.S | re.I)
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", markup, flags=re.I)
    return [t for t in tags if re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", t, re.I)]


def make_notebook(path: Path, parameters: str, *cells: str, markdown: str | None = None) -> Path:
    """Write a small notebook: optional markdown, a ``parameters`` cell, then code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    p = nbformat.v4.new_code_cell(parameters)
    p.metadata["tags"] = ["parameters"]
    nb.cells = ([nbformat.v4.new_markdown_cell(markdown)] if markdown else []) + [p] + [
        nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


class CallRecorder:
    """A stand-in experiment tracker: every method call is recorded as ``(name, args, kwargs)`` in ``calls``."""

    def __init__(self):
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name):
        return lambda *a, **k: self.calls.append((name, a, k))


class Silent:
    """A TCP server that accepts connections and never answers (a hung W&B endpoint)."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.conns = []
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self):
        while not self.stop:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def __exit__(self, *exc):
        self.stop = True
        self.sock.close()
        for c in self.conns:
            c.close()


def _img(path: Path, mode: str = "RGB", size=(40, 30), fmt: str | None = None, seed: int = 0) -> Path:
    """A random image file of the given mode and size."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "L":
        im = Image.fromarray(rng.integers(0, 255, size[::-1], dtype=np.uint8), "L")
    elif mode == "I;16":
        im = Image.fromarray(rng.integers(0, 65535, size[::-1], dtype=np.uint16))
    else:
        im = Image.fromarray(rng.integers(0, 255, (*size[::-1], len(mode)), dtype=np.uint8), mode)
    im.save(path, format=fmt)
    return path


def make_folder(root: Path, per_class: int = 4) -> Path:
    """Three classes with mixed formats and modes, plus corrupt and non-image files."""
    modes = ["RGB", "L", "RGBA", "RGB"]
    exts = [".png", ".jpg", ".bmp", ".tiff"]
    for ci, cls in enumerate(["crack", "good", "scratch"]):
        for i in range(per_class):
            mode, ext = modes[i % 4], exts[(i + ci) % 4]
            if ext in (".jpg", ".bmp") and mode == "RGBA":
                mode = "L"
            _img(root / cls / f"{cls}_{i}{ext}", mode, seed=ci * 10 + i)
    (root / "good" / "notes.txt").write_text("not an image")
    (root / "crack" / "fake.png").write_bytes(b"this is not a png at all")
    png = _img(root / "scratch" / "full.png", "RGB", size=(64, 64)).read_bytes()
    (root / "scratch" / "truncated.png").write_bytes(png[: len(png) // 2])
    (root / "scratch" / "empty.jpg").write_bytes(b"")
    return root


class Answering:
    """An HTTP server that answers every request with 200 "ok" (not a W&B server: the probe passes,
    a run cannot start)."""

    def __enter__(self):
        import http.server
        import socketserver

        class Handler(http.server.BaseHTTPRequestHandler):
            def _ok(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = _ok

            def log_message(self, *a):
                pass

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def telco_with_holes(seed: int = 0):
    """Telco churn with holes: 5% missing in monthly_charges, tenure, contract and payment_method, 3% in the
    target; the generator is returned to draw more from (the explore tests add their own columns)."""
    from workbench.data import load_dataset

    df = load_dataset("telco_churn").frame.copy()
    rng = np.random.default_rng(seed)
    for c in ("monthly_charges", "tenure", "contract", "payment_method", "churn"):
        df.loc[rng.random(len(df)) < (0.03 if c == "churn" else 0.05), c] = None
    return df, rng
