"""W&B tracking, offline-first: the offline run files are read back without a server."""

import json
from pathlib import Path

import pytest
import wandb_reader
from support import Silent, make_notebook, run_cli

SECRET = "wb-secret-0123456789abcdef0123456789abcdef"
PARAMS = f'epochs = 3  # training epochs\napi_token = "{SECRET}"  # a secret that must never leak\nname = "m"  # model name'
CELLS = (
    "import pandas as pd, plotly.express as px, workbench\ntracker = workbench.track()",
    "for epoch in range(epochs):\n    tracker.log({'epoch': epoch, 'val_loss': 1.0 / (epoch + 1)}, step=epoch)",
    "board = pd.DataFrame({'model': ['a', 'b'], 'auc': [0.8, 0.9]})\ntracker.log_table('leaderboard', board)\n"
    "fig = px.bar(board, x='model', y='auc')\ntracker.log_figure('auc_by_model', fig)\nfig.show()",
    "path = workbench.artifacts_dir() / 'model.json'\npath.write_text('{\"w\": [1, 2]}')\n"
    "tracker.log_artifact(path, name=name, type='model')\nworkbench.record('best_auc', 0.9)\n"
    "workbench.record_curve('val_loss', list(range(epochs)), [1.0 / (e + 1) for e in range(epochs)], 'epoch', 'loss')",
)


@pytest.fixture
def tracked(workdir: Path) -> Path:
    return make_notebook(workdir / "tracked.ipynb", PARAMS, *CELLS)


@pytest.mark.slow
def test_offline_run_has_config_summary_history_and_artifacts(workdir, tracked):
    proc = run_cli("run", "tracked.ipynb", "--no-progress", cwd=workdir, env={"WANDB_MODE": "offline"})
    assert proc.returncode == 0, proc.stderr
    (run,) = [p for p in (workdir / "reports/tracked").iterdir() if p.is_dir()]
    rec = json.loads((run / "run.json").read_text())
    assert rec["tracking"]["mode"] == "offline" and "error" not in rec["tracking"], rec["tracking"]
    offline = Path(rec["tracking"]["offline_dir"])
    assert offline.parent == workdir / "wandb" and offline.name.startswith("offline-run-")

    got = wandb_reader.summarize(offline)
    assert got["run"]["id"] == rec["run_id"] and got["run"]["job_type"] == "tracked"
    assert got["config"] == {"epochs": 3, "api_token": "***", "name": "m"}
    assert got["summary"]["best_auc"] == 0.9 and got["summary"]["status"] == "succeeded"
    losses = [h["val_loss"] for h in got["history"] if "val_loss" in h]
    assert losses == [1.0, 0.5, 1.0 / 3]
    logged = {k for h in got["history"] for k in h}
    assert {"leaderboard/_type", "auc_by_model/_type"} <= logged
    assert any(h.get("leaderboard/_type") == "table-file" and h.get("leaderboard/nrows") == 2 for h in got["history"])
    arts = {a["type"]: a for a in got["artifacts"]}
    assert set(arts["report"]["files"]) == {"report.html", "run.json"}
    logged_report = (offline / "report.html").read_text()  # self-contained: the run's links to reports/.assets inlined
    assert "data-wb-asset" not in logged_report and "plotly.js" in logged_report and "data-wb-asset" in \
        (run / "report.html").read_text()
    assert arts["model"]["name"] == "m" and arts["model"]["files"] == ["model.json"]

    # the secret reaches neither the report, the record, the executed notebook nor W&B's files
    for path in [*run.rglob("*"), *offline.rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"secret leaked into {path}"
    assert (run / "curves.json").exists()

    again = run_cli("run", "tracked.ipynb", "--no-progress", cwd=workdir, env={"WANDB_MODE": "offline"})
    assert again.returncode == 0 and "reused run" in again.stdout
    for path in (workdir / "reports").rglob("*.json"):
        assert SECRET not in path.read_text(), f"secret leaked into {path}"
    assert json.loads((run / "curves.json").read_text())["val_loss"]["xlabel"] == "epoch"


@pytest.mark.slow
def test_configured_but_silent_server_falls_back_to_offline_fast(workdir, tracked):
    with Silent() as url:
        proc = run_cli("run", "tracked.ipynb", "--no-progress", "--force", cwd=workdir,
                       env={"WANDB_API_KEY": "f" * 40, "WANDB_BASE_URL": url, "WANDB_MODE": ""})
    assert proc.returncode == 0, proc.stderr
    assert "did not answer" in proc.stderr
    recs = [json.loads(p.read_text()) for p in (workdir / "reports/tracked").glob("*/run.json")]
    rec = max(recs, key=lambda r: r["run_id"])
    assert rec["tracking"]["mode"] == "offline" and "did not answer" in rec["tracking"]["reason"]
    # the promise: the probe waits for its 3 s timeout (it is not skipped), and gives up then: the run did not
    # wait for the silent server (held open for the whole run); only a hang breaks the loose upper bound
    assert rec["tracking"]["probe_s"] >= 2.5, rec["tracking"]
    waited = rec["tracking"]["probe_s"]
    assert waited < 120, rec["tracking"]  # hang guard
    for path in (workdir / "reports").rglob("*"):
        if path.is_file():
            assert b"f" * 40 not in path.read_bytes()


def test_sync_explains_what_is_missing(workdir, monkeypatch):
    (workdir / "wandb" / "offline-run-20260101_000000-abc").mkdir(parents=True)
    proc = run_cli("sync", cwd=workdir, env={"WANDB_API_KEY": "", "WANDB_MODE": "", "NETRC": "/nonexistent"})
    assert proc.returncode == 2 and "cannot sync 1 offline runs" in proc.stderr and "WANDB_API_KEY" in proc.stderr
    empty = run_cli("sync", "--wandb-dir", str(workdir / "none"), cwd=workdir)
    assert empty.returncode == 0 and "nothing to sync" in empty.stdout


@pytest.mark.slow
def test_online_start_failure_falls_back_to_offline(workdir, tracked):
    from support import Answering

    with Answering() as url:
        proc = run_cli("run", "tracked.ipynb", "--no-progress", "--force", cwd=workdir,
                       env={"WANDB_API_KEY": "f" * 40, "WANDB_BASE_URL": url, "WANDB_MODE": "online"})
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(max((workdir / "reports/tracked").glob("*/run.json")).read_text())
    assert rec["tracking"]["mode"] == "offline" and "logged offline instead" in rec["tracking"]["reason"]
    got = wandb_reader.summarize(rec["tracking"]["offline_dir"])
    assert got["summary"]["best_auc"] == rec["metrics"]["best_auc"] == 0.9
