"""End-to-end: notebooks/rollout.ipynb through the real CLI: the offline default (two trained models, a
simulated A/B + shadow log), then the same log with a planted sample ratio mismatch."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from support import REPO, only_run, remote_references, render_dom, run_cli, run_defaults

NOTEBOOK = REPO / "notebooks" / "rollout.ipynb"
PARAMETERS = ("log", "labels", "id_column", "label_column", "model", "champion_version", "challenger_version", "mode",
              "metric", "alpha", "margin", "guardrails", "srm_alpha", "challenger_share", "days", "window_days", "seed")


def test_notebook_is_committed_clean_with_a_parameters_signature():
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    proc = run_cli("params", str(NOTEBOOK), cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for name in PARAMETERS:
        assert f"\n{name} " in proc.stdout, name


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> tuple[Path, dict]:
    return run_defaults(NOTEBOOK, tmp_path_factory.mktemp("rollout"))


@pytest.mark.slow
def test_the_default_run_keeps_collecting(default_run):
    run, rec = default_run
    m = rec["metrics"]
    assert rec["status"] == "succeeded"
    # logistic regression vs CatBoost on 3,522 replayed Telco customers: no significant difference yet
    assert m["verdict"] == "keep collecting"
    replayed = pd.read_csv(run / "artifacts" / "labels.csv")
    assert len(replayed) == 3522  # the test split: half of the 7,043 customers
    assert m["n_champion"] + m["n_challenger"] == len(replayed)
    assert m["srm_p"] > 0.001 and m["p_value"] > 0.05 and abs(m["metric_delta"]) < 0.05
    table = pd.read_csv(run / "artifacts" / "rollout.csv")
    assert table["variant"].tolist() == ["champion", "challenger", "shadow"]
    assert table["version"].tolist() == ["churn:1", "churn:2", "churn:2"]
    assert table["labelled"].tolist() == table["rows"].tolist() and (table["roc_auc"] > 0.8).all()
    days = pd.read_csv(run / "artifacts" / "rollout_days.csv")
    assert len(days) == 14 and days["p_value"].is_monotonic_decreasing
    assert len(list((run / "artifacts" / "requests" / "churn").glob("requests-*.jsonl.gz"))) == 14
    assert (run / "artifacts" / "champion" / "model" / "model.json").is_file()


@pytest.mark.slow
@pytest.mark.browser
def test_the_default_report_renders_offline(default_run):
    run, _ = default_run
    dom = render_dom(run / "report.html")
    assert dom.count('class="main-svg"') >= 1  # the monitoring figure
    for text in ("KEEP COLLECTING", "no sample ratio mismatch", "always-valid", "mSPRT flags", "DeLong p",
                 "agreement of predicted labels", "Rules:", "p99 latency"):
        assert text in dom, text
    assert "wb-note-error" not in dom and "Traceback" not in dom
    assert remote_references((run / "report.html").read_text()) == []


def _drop_challenger_lines(src: Path, dst: Path, share: float, seed: int = 0) -> int:
    """Copy a log, losing ``share`` of the challenger's lines (a logging bug in one arm); return how many."""
    rng, lost = random.Random(seed), 0
    dst.mkdir(parents=True)
    for f in sorted(src.glob("requests-*.jsonl.gz")):
        kept = []
        for line in gzip.decompress(f.read_bytes()).decode().splitlines():
            if json.loads(line)["variant"] == "challenger" and rng.random() < share:
                lost += 1
                continue
            kept.append(line)
        (dst / f.name[:-3]).write_text("\n".join(kept) + "\n")
    return lost


@pytest.mark.slow
def test_a_planted_sample_ratio_mismatch_gets_the_investigate_verdict(default_run, tmp_path):
    run, rec = default_run
    log = tmp_path / "logs" / "churn"
    lost = _drop_challenger_lines(run / "artifacts" / "requests" / "churn", log, share=0.2)
    assert 300 < lost < 420
    proc = run_cli("run", str(NOTEBOOK), "--no-progress", "-p", "log", str(log), "-p", "labels",
                   str(run / "artifacts" / "labels.csv"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    m = json.loads((only_run(tmp_path, "rollout") / "run.json").read_text())["metrics"]
    assert m["verdict"] == "investigate the assignment" and m["srm_p"] < 0.001
    assert m["n_challenger"] == rec["metrics"]["n_challenger"] - lost
    assert m["n_champion"] == rec["metrics"]["n_champion"]
    assert not (only_run(tmp_path, "rollout") / "artifacts" / "champion").exists()  # nothing trained
