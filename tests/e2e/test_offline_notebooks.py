"""The real notebooks with the network cut off, through `workbench run` and through plain `papermill`.

"Nothing downloads at run time" is a promise: every process these runs start (the CLI, papermill, the
Jupyter kernels) loads a socket guard (``sitecustomize``) that refuses and logs any connection or name
lookup that is not loopback, and HTTP clients get a dead proxy. A run that reaches for the network
fails, or leaves a line in the guard's log; both fail the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import NOTEBOOKS, run_cli

GUARD = '''
import os, socket
_LOG = os.environ["WORKBENCH_NET_GUARD_LOG"]
_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
_LOCAL = ("localhost", "127.0.0.1", "::1", "", None)

def _log(what):
    with open(_LOG, "a") as f:
        f.write(f"{os.getpid()} {what}\\n")

def _remote(address):
    return not isinstance(address, (str, bytes)) and not (str(address[0]).startswith("127.") or address[0] in _LOCAL)

def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and _remote(address):
        _log(f"connect {address}")
        raise OSError(101, f"network cut by the test: {address}")
    return _connect(self, address)

def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and _remote(address):
        _log(f"connect_ex {address}")
        return 101
    return _connect_ex(self, address)

def getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name not in _LOCAL and not str(name).startswith("127."):
        _log(f"lookup {name}")
        raise socket.gaierror(socket.EAI_NONAME, f"network cut by the test: {name}")
    return _getaddrinfo(host, *args, **kwargs)

socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
'''

# the real notebooks with quick parameters (the defaults run in `make demo`)
QUICK = {
    "explore": {"dataset": "telco_churn", "target": "churn"},
    "compare_models": {"models": ["logreg", "catboost"], "folds": 2},
    "vision_finetune": {"max_images": 120, "image_size": 64, "epochs_frozen": 5, "epochs": 1},
    "drift": {"reference": "telco_churn_reference", "current": "telco_churn_drifted"},
    "recommend": {"models": ["popularity", "ease"]},
}


@pytest.fixture(scope="module")
def cut(tmp_path_factory) -> tuple[dict, Path]:
    guard = tmp_path_factory.mktemp("guard")
    (guard / "sitecustomize.py").write_text(GUARD)
    log = guard / "attempts.log"
    log.write_text("")
    import os

    pythonpath = os.pathsep.join([str(guard), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {"PYTHONPATH": pythonpath, "WORKBENCH_NET_GUARD_LOG": str(log), "HTTP_PROXY": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "NO_PROXY": "127.0.0.1,localhost", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    return env, log


def _guard_works(env: dict, tmp: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", "import urllib.request; urllib.request.urlopen('http://example.org', "
                            "timeout=5)"], env={**__import__("os").environ, **env}, capture_output=True, text=True,
                           cwd=tmp)
    assert probe.returncode != 0, "the guard must refuse a real connection"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(QUICK))
def test_real_notebook_runs_with_the_network_cut_off_in_workbench_and_papermill(name, cut, tmp_path):
    env, log = cut
    _guard_works(env, tmp_path)
    log.write_text("")
    args = [a for k, v in QUICK[name].items() for a in ("-p", k, json.dumps(v))]
    proc = run_cli("run", str(NOTEBOOKS / f"{name}.ipynb"), *args, "--no-progress", cwd=tmp_path, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (run,) = (tmp_path / "reports" / name).glob("2*")
    rec = json.loads((run / "run.json").read_text())
    assert rec["status"] == "succeeded" and rec["metrics"], rec["metrics"]

    papermill = Path(sys.executable).parent / "papermill"
    pm = subprocess.run([str(papermill), str(NOTEBOOKS / f"{name}.ipynb"), "out.ipynb", "--no-progress-bar",
                         "-y", json.dumps(QUICK[name])], cwd=tmp_path, capture_output=True, text=True, timeout=900,
                        env={**__import__("os").environ, **env})
    assert pm.returncode == 0, pm.stderr[-3000:]
    from workbench.core.journal import read_records

    plain = read_records(tmp_path / "out.ipynb")
    assert plain.keys() == rec["metrics"].keys(), "plain papermill records the same metrics"
    for k, v in rec["metrics"].items():
        timing = any(t in k for t in ("seconds", "_ms", "latency", "time"))
        if not timing and isinstance(v, float):
            assert plain[k] == pytest.approx(v, rel=1e-6), k  # same data, same seeds: same numbers
    assert not (tmp_path / "reports" / "index.html").read_text().count("out.ipynb")
    assert log.read_text() == "", f"network reached for: {log.read_text()}"
