"""Shared fixtures: run the real CLI in a subprocess, render reports in a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


def run_cli(*args: str, cwd: str | Path, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """``workbench ARGS...`` as a user would type it, in ``cwd``; returns the completed process."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": os.environ.get("WANDB_MODE", "offline"),
                "WANDB_SILENT": "true", **(env or {})}
    return subprocess.run([sys.executable, "-m", "workbench.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def render_dom(html_file: str | Path, budget_ms: int = 15000) -> str:
    """Open ``html_file`` in headless Chromium with every network request refused; return the DOM
    after scripts ran."""
    exe = chromium_path()
    if exe is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
               f"--user-data-dir={profile}",
               # no network at all: every host resolves to nothing and any proxy use fails
               "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
               f"--virtual-time-budget={budget_ms}", "--run-all-compositor-stages-before-draw",
               "--dump-dom", Path(html_file).resolve().as_uri()]
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


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory for a CLI run (reports/ lands here)."""
    return tmp_path
