"""The run path as an attacker or a careless user drives it: secrets of every type, signals, a full
disk, traversal names, file modes, odd parameter values, options the cache must see."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import make_notebook, run_cli

# secrets of three types; each must stay out of every file a run writes, $HOME and W&B's folders
S_STR = "sk-live-4f9c2e7a1b3d5f60"
S_INT = 73519046
S_LIST = ["tok-alpha-91827", "tok-beta-37465"]
S_WEB = 'wt/9"x<y>&z-55218'  # a secret whose escaped forms differ from it: HTML, JSON, plotly, URL
S_ENV = "env-s3cret-80417"  # a secret in the runner's environment, printed by the notebook
SECRET_PARAMS = ('api_key = ""  # a string secret\ndb_password = 0  # an integer secret\n'
                 'auth_tokens = []  # a list of secrets\nlicense_key = "pandas"  # a secret that is also a word in the code\n'
                 'web_token = ""  # a secret with characters that get escaped\n'
                 'fail = False  # raise an error that quotes the secrets')
SECRET_CELLS = (
    "import pandas as pd\nimport workbench\ntracker = workbench.track()",
    "print(api_key, db_password, auth_tokens)\nprint(repr(auth_tokens), repr(db_password))\n"
    "workbench.record('who', f'key {api_key}')\n"
    "tracker.log({'note': f'{api_key}/{db_password}', 'step_value': 1}, step=0)\n"
    "tracker.log_table('t', pd.DataFrame({'token': auth_tokens}))",
    "import json, os, urllib.parse\nimport plotly.graph_objects as go\nfrom IPython.display import display\n"
    "display(pd.DataFrame({'t': [web_token]}))\nprint(json.dumps({'t': web_token}), urllib.parse.quote(web_token))\n"
    "print(json.dumps(web_token).replace('/', '\\\\/'), os.environ['SERVICE_API_TOKEN'])\n"
    "tracker.log_table('w', pd.DataFrame({'t': [web_token, f'{db_password:,}']}))\n"
    "tracker.log_figure('f', go.Figure(layout_title_text=web_token))\n"
    "environ = open('/proc/self/environ', 'rb').read()\n"
    "workbench.record('environ_leak', float(any(s.encode() in environ for s in (api_key, web_token))))",
    "if fail:\n    raise PermissionError(f'login failed for {api_key} with {db_password} and {auth_tokens[0]}')",
)


def _needles() -> list[bytes]:
    import html
    import urllib.parse

    j = json.dumps(S_WEB)[1:-1]
    texts = {S_STR, str(S_INT), f"{S_INT:,}", repr(S_LIST), *S_LIST, *(repr(t) for t in S_LIST), S_WEB, S_ENV,
             html.escape(S_WEB), j, j.replace("/", "\\/"), j.replace("/", "\\u002f"), urllib.parse.quote(S_WEB),
             j.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")}
    return [t.encode() for t in texts]


def _grep(roots: list[Path]) -> list[str]:
    hits = []
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file() and not p.is_symlink():
                data = p.read_bytes()
                hits += [f"{p}: {n.decode()}" for n in _needles() if n in data]
    return hits


@pytest.mark.slow
def test_secrets_of_every_type_never_reach_any_file(workdir, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    tmp = tmp_path_factory.mktemp("tmp")
    make_notebook(workdir / "secret.ipynb", SECRET_PARAMS, *SECRET_CELLS)
    env = {"HOME": str(home), "TMPDIR": str(tmp), "WANDB_MODE": "offline", "SERVICE_API_TOKEN": S_ENV}
    args = ["-p", "api_key", S_STR, "-p", "db_password", str(S_INT), "-p", "auth_tokens", json.dumps(S_LIST),
            "-p", "license_key", "pandas", "-p", "web_token", S_WEB, "--no-progress", "--log-output"]
    ok = run_cli("run", "secret.ipynb", *args, cwd=workdir, env=env)
    assert ok.returncode == 0, ok.stderr
    bad = run_cli("run", "secret.ipynb", *args, "-p", "fail", "true", cwd=workdir, env=env)
    assert bad.returncode == 1 and "PermissionError" in bad.stderr
    for proc in (ok, bad):
        assert not [n for n in _needles() if n in (proc.stdout + proc.stderr).encode()], "secret in the CLI output"
    assert _grep([workdir, home, tmp]) == []
    assert not list(tmp.glob("workbench-*")), "the private work folder is removed"
    history = home / ".ipython" / "profile_default" / "history.sqlite"
    if history.exists():  # the kernel keeps no history at all (defence in depth: values never reach it)
        import sqlite3

        with sqlite3.connect(history) as db:
            assert db.execute("select count(*) from history").fetchone()[0] == 0

    runs = sorted((workdir / "reports" / "secret").glob("2*"))
    failed = json.loads((runs[-1] / "run.json").read_text())
    assert json.loads((runs[0] / "run.json").read_text())["metrics"]["environ_leak"] == 0.0, \
        "the kernel's /proc/<pid>/environ holds no secret"
    assert failed["status"] == "failed" and "***" in failed["error"]["evalue"]
    sources = [c["source"] for c in json.loads((runs[0] / "notebook.ipynb").read_text())["cells"]]
    sources = ["".join(s) if isinstance(s, list) else s for s in sources]
    assert "import pandas as pd\nimport workbench" in sources[2], "code that merely contains a secret's text stays"
    assert "api_key = _wb_context.secret('api_key')" in sources[1], "secrets are read at run time, never written"
    staging = home / ".local" / "share" / "wandb"
    assert not [p for p in staging.rglob("*") if p.is_file() and p.name.endswith(".html")], \
        "W&B staging copies of reports pile up"


@pytest.mark.slow
def test_sigterm_mid_run_ends_like_ctrl_c_with_a_report(workdir, tmp_path):
    flag = tmp_path / "started"
    make_notebook(workdir / "slow.ipynb", f"flag = {str(flag)!r}  # a file the notebook touches",
                  "import pathlib, time\npathlib.Path(flag).touch()\ntime.sleep(60)", "print('never')")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WORKBENCH_TRACKING": "off"}
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "run", "slow.ipynb", "--no-progress"],
                            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not flag.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert flag.exists(), "the notebook never started"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (run,) = (workdir / "reports" / "slow").glob("2*")
    rec = json.loads((run / "run.json").read_text())
    assert rec["status"] == "interrupted" and rec["pid"] is None
    assert (run / "report.html").exists() and (run / "notebook.ipynb").exists()


@pytest.mark.slow
def test_a_report_that_cannot_be_written_fails_the_run(workdir, monkeypatch):
    import workbench.reports as reports
    from workbench.errors import RunFailedError
    from workbench.runner import run_notebook

    make_notebook(workdir / "ok.ipynb", "n = 1  # a number", "import workbench\nworkbench.record('n', n)")
    monkeypatch.setenv("WORKBENCH_TRACKING", "off")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(reports, "write_report", full)
    with pytest.raises(RunFailedError, match="report could not be written.*No space left"):
        run_notebook(workdir / "ok.ipynb", reports=workdir / "reports", progress=False)
    (run,) = (workdir / "reports" / "ok").glob("2*")
    rec = json.loads((run / "run.json").read_text())
    assert rec["status"] == "failed" and "No space left" in rec["error"]["evalue"]
    assert "ok" not in [p.name for p in (workdir / "reports").glob("*/latest.html")]


def test_disk_full_at_the_start_leaves_no_run_folder(workdir, monkeypatch):
    from workbench.core.runs import RunRecord
    from workbench.runner import run_notebook

    make_notebook(workdir / "ok.ipynb", "n = 1  # a number", "print(n)")

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RunRecord, "save", full)
    with pytest.raises(OSError, match="No space left"):
        run_notebook(workdir / "ok.ipynb", reports=workdir / "reports", progress=False)
    assert not list((workdir / "reports").glob("*/2*")), "no empty run folder is left behind"


@pytest.mark.parametrize("args,message", [
    (["run", "..ipynb"], "not usable as a folder name"),
    (["run", "ok.ipynb", "--sweep-id", "../.."], "sweep id '../..' is not usable"),
    (["compare", "--sweep", "../../etc"], "sweep id '../../etc' is not usable"),
    (["run", "ok.ipynb", "--reports", "ok.ipynb"], "--reports 'ok.ipynb' is a file"),
])
def test_names_that_would_escape_reports_are_refused(workdir, args, message):
    make_notebook(workdir / "ok.ipynb", "n = 1  # a number", "print(n)")
    make_notebook(workdir / "..ipynb", "n = 1  # a number", "print(n)")
    proc = run_cli(*args, cwd=workdir)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not (workdir / "reports").exists() and not (workdir.parent / "reports").exists()


@pytest.mark.slow
def test_files_are_created_with_the_umask(workdir):
    make_notebook(workdir / "ok.ipynb", "n = 1  # a number", "print(n)")
    for umask, mode in ((0o022, 0o644), (0o027, 0o640)):
        proc = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "ok.ipynb", "--no-progress", "--force"],
                              cwd=workdir, capture_output=True, text=True, preexec_fn=lambda u=umask: os.umask(u),
                              env={**os.environ, "WORKBENCH_TRACKING": "off"})
        assert proc.returncode == 0, proc.stderr
        run = max((workdir / "reports" / "ok").glob("2*"))
        for f in (run / "report.html", run / "run.json", run / "notebook.ipynb", workdir / "reports" / "index.html",
                  workdir / "reports" / "ok" / "latest.html"):
            assert f.stat().st_mode & 0o777 == mode, (f, oct(f.stat().st_mode), oct(umask))


@pytest.mark.slow
def test_odd_parameter_values_and_the_cache_sees_hidden_code(workdir):
    make_notebook(workdir / "p.ipynb", 'lr = 0.1  # a rate\noffset = "x"  # a text\nn = 1  # a number',
                  "import workbench\nworkbench.record('lr', lr)\nworkbench.record('offset', offset)\n"
                  "workbench.record('inf', float('inf'))")
    proc = run_cli("run", "p.ipynb", "-p", "lr", "1e-4", "-p", "offset", "-3x", "--no-progress", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    run = max((workdir / "reports" / "p").glob("2*"))
    text = (run / "run.json").read_text()
    rec = json.loads(text)  # strict JSON: no Infinity
    assert "Infinity" not in text and rec["metrics"] == {"lr": 0.0001, "offset": "-3x", "inf": None}
    assert "-p offset -3x" in rec["rerun_command"]
    bomb = "[&a [x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]]"
    runs_before = sorted((workdir / "reports" / "p").iterdir())
    refused = run_cli("run", "p.ipynb", "-p", "offset", bomb, cwd=workdir)
    assert refused.returncode == 2 and "anchor or alias" in refused.stderr
    assert sorted((workdir / "reports" / "p").iterdir()) == runs_before  # refused before any run started
    hidden = run_cli("run", "p.ipynb", "-p", "lr", "1e-4", "-p", "offset", "-3x", "--hide-code", "--no-progress",
                     cwd=workdir)
    assert hidden.returncode == 0 and "reused" not in hidden.stdout, "a hide-code run is not the visible one"
    again = run_cli("run", "p.ipynb", "-p", "lr", "1e-4", "-p", "offset", "-3x", "--hide-code", "--no-progress",
                    cwd=workdir)
    assert "reused" in again.stdout
    report = (max((workdir / "reports" / "p").glob("2*")) / "report.html").read_text()
    assert "workbench.record(&#x27;lr&#x27;" not in report and "record('lr'" not in report


def test_cli_survives_a_closed_pipe_and_a_non_utf8_parameters_file(workdir, project):
    (workdir / "latin.yaml").write_bytes("factor: 2\nname: José\n".encode("latin-1"))
    proc = run_cli("run", "sum.ipynb", "-f", "latin.yaml", cwd=project)
    assert proc.returncode == 2 and "not UTF-8" in proc.stderr
    from workbench.core.io import write_json
    from workbench.core.runs import new_run_id

    for i in range(400):  # enough lines to outlast the pipe's buffer
        rid = new_run_id()
        write_json(workdir / "many" / "nb" / rid / "run.json", {"run_id": rid, "notebook_name": "nb", "status": "failed",
                                                              "params": {"i": i}})
    runs = subprocess.run(f"{sys.executable} -m workbench.cli runs --reports many --limit 1000 | head -1", shell=True,
                          cwd=workdir, capture_output=True, text=True)
    assert runs.stdout.startswith("RUN") and runs.stderr == "", runs.stderr
