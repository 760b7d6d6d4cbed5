"""End to end: notebooks/recommend.ipynb through the real CLI on MovieLens, its report in Chromium, then
``workbench predict`` on the saved model; an implicit-feedback CSV; bad input failing before any fitting."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from support import NOTEBOOKS, only_run, remote_references, render_dom, run_cli, run_defaults

import workbench

NB = NOTEBOOKS / "recommend.ipynb"
# NDCG@10 on the default temporal split, measured with this notebook (the anchors in brackets):
# popularity 0.066 (0.066), item_knn 0.119 (0.096), svd 0.128-0.130 (0.099), als 0.105 (0.102), ease 0.137-0.138
# (0.111), content 0.008-0.010 (0.005), hybrid 0.141-0.143; floors leave a margin below them.
FLOORS = {"popularity": 0.06, "item_knn": 0.11, "svd": 0.12, "als": 0.097, "ease": 0.13, "content": 0.005,
          "hybrid": 0.133}


def test_notebook_is_committed_clean():
    nb = nbformat.read(str(NB), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"] and nb.metadata["kernelspec"]["name"] == "python3"
    assert all(not c.outputs and c.execution_count is None for c in code)
    names = [line.split("=")[0].strip() for line in code[0].source.splitlines()]
    assert names == ["dataset", "user_col", "item_col", "rating_col", "time_col", "items", "item_text_cols",
                     "relevance_threshold", "models", "k", "test_fraction", "val_fraction", "cold_start_max",
                     "min_user_interactions", "min_item_interactions", "seed", "example_users", "register_as"]
    assert all("  # " in line for line in code[0].source.splitlines())
    assert all(len(c.source.splitlines()) <= 5 for c in code[1:]), "cells stay thin: logic lives in workbench.recsys"


@pytest.fixture(scope="module")
def defaults_run(tmp_path_factory) -> tuple[Path, dict]:
    """The notebook on its defaults: MovieLens, seven models, temporal split."""
    return run_defaults(NB, tmp_path_factory.mktemp("defaults"))


@pytest.mark.slow
def test_defaults_beat_every_anchor(defaults_run):
    run, rec = defaults_run
    m = rec["metrics"]
    assert rec["status"] == "succeeded" and m["best_model"] in ("ease", "hybrid")
    assert m["ndcg_at_10"] >= 0.133 and m["recall_at_10"] >= 0.1 and 0.05 < m["coverage"] < 0.5
    assert m["latency_ms"] > 0  # measured and recorded; the < 5 ms goal lives in benchmarks/bench_recsys.py
    board = pd.read_csv(run / "artifacts" / "leaderboard.csv", index_col=0)
    assert (board["status"] == "ok").all() and len(board) == 7
    for name, floor in FLOORS.items():
        assert board.loc[name, "ndcg@10"] >= floor, (name, board.loc[name, "ndcg@10"])
    assert board.loc["popularity", "ndcg@10"] == pytest.approx(0.066, abs=0.003)  # the anchor
    assert board["ndcg@10"].max() >= 0.115 and board["ndcg@10"].is_monotonic_decreasing
    assert board.loc[m["best_model"], "val_ndcg@10"] == board["val_ndcg@10"].max()  # chosen on validation
    cold = pd.read_csv(run / "artifacts" / "cold_start.csv", index_col=0)
    sim = [c for c in cold.columns if c.startswith("simulated cold start")][0]
    assert cold.loc["hybrid", sim] >= cold.loc["popularity", sim]
    card = json.loads((run / "artifacts" / "model" / "model.json").read_text())
    assert card["kind"] == "recommender" and card["name"] == m["best_model"]
    assert card["provenance"]["run_id"] == rec["run_id"] and card["provenance"]["notebook"] == "recommend"
    html = (run / "report.html").read_text()
    for text in ("Popularity bias", "Example recommendations", "simulated cold start", "no refit", "MRR"):
        assert text in html, text


@pytest.mark.slow
def test_predict_cli_on_the_saved_model(defaults_run, tmp_path):
    run, _ = defaults_run
    (tmp_path / "users.csv").write_text("userId,note\n1,a\n2,b\n999999,unknown\n,no id\n15,e\n")
    proc = run_cli("predict", str(run / "artifacts" / "model"), "users.csv", "-o", "recs.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "to 4 user(s) (top 10; 1 cold start" in proc.stdout and "1 with errors" in proc.stdout
    recs = pd.read_csv(tmp_path / "recs.csv")
    assert list(recs.columns) == ["userId", "rank", "movieId", "title", "score", "cold_start", "error"]
    ok = recs[recs["error"].isna()]
    assert ok.groupby("userId").size().to_dict() == {1: 10, 2: 10, 15: 10, 999999: 10}
    ratings = workbench.load_dataset("movielens").frame
    for u in (1, 2, 15):
        seen = set(ratings.loc[ratings["userId"] == u, "movieId"])
        assert not seen & set(ok.loc[ok["userId"] == u, "movieId"])
        assert not ok.loc[ok["userId"] == u, "cold_start"].any()
    assert ok.loc[ok["userId"] == 999999, "cold_start"].all()
    assert recs.loc[recs["error"].notna(), "error"].tolist() == ["missing user id"]


@pytest.mark.slow
@pytest.mark.browser
def test_report_renders_offline(defaults_run):
    run, _ = defaults_run
    dom = render_dom(run / "report.html")
    assert dom.count('class="main-svg"') >= 4
    for text in ("NDCG@10", "Popularity bias", "Metrics against the cut-off k", "warm vs cold-start"):
        assert text in dom, text
    assert "Traceback" not in dom and not remote_references(dom)


@pytest.mark.slow
def test_defaults_run_is_tracked_in_wandb_offline(defaults_run):
    import wandb_reader

    run, rec = defaults_run
    assert rec["tracking"]["mode"] == "offline", rec["tracking"]
    got = wandb_reader.summarize(rec["tracking"]["offline_dir"])
    assert got["run"]["job_type"] == "recommend" and got["summary"]["best_model"] == rec["metrics"]["best_model"]
    logged = {k.split("/")[0] for h in got["history"] for k in h}
    assert {"leaderboard", "cold_start", "popularity_bias", "metric_vs_k"} <= logged
    assert {h["model"] for h in got["history"] if "model" in h} >= {"popularity", "ease", "hybrid"}
    assert "model" in {a["type"] for a in got["artifacts"]}
    assert "NDCG@k (best model)" in json.loads((run / "curves.json").read_text())


@pytest.mark.slow
def test_implicit_csv_without_time_string_ids_and_duplicates(tmp_path):
    ratings = workbench.load_dataset("movielens").frame
    df = ratings[ratings["userId"] <= 150][["userId", "movieId"]].rename(columns={"userId": "customer",
                                                                                "movieId": "product"})
    df["customer"] = "c" + df["customer"].astype(str)
    df = pd.concat([df, df.iloc[:40]], ignore_index=True).sample(frac=1.0, random_state=0)
    df.to_csv(tmp_path / "clicks.csv", index=False)
    proc = run_cli("run", str(NB), "-p", "dataset", "clicks.csv", "-p", "user_col", "customer", "-p", "item_col",
                   "product", "-p", "rating_col", "", "-p", "time_col", "", "-p", "item_text_cols", "[]",
                   "-p", "models", "[popularity, item_knn, ease]", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = only_run(tmp_path, "recommend")
    board = pd.read_csv(run / "artifacts" / "leaderboard.csv", index_col=0)
    assert set(board.index) == {"popularity", "item_knn", "ease"} and (board["status"] == "ok").all()
    assert board.loc["ease", "ndcg@10"] > board.loc["popularity", "ndcg@10"]
    html = (run / "report.html").read_text()
    assert "40 duplicate (user, item) row(s) merged (80 rows into 40 pairs)" in html and "implicit" in html
    recs = workbench.load_model(run / "artifacts" / "model").predict(["c1", "c7"])
    assert recs["customer"].tolist() == ["c1"] * 10 + ["c7"] * 10 and np.isfinite(recs["score"]).all()


@pytest.mark.slow
def test_missing_column_fails_before_any_fitting(tmp_path):
    proc = run_cli("run", str(NB), "-p", "user_col", "user_id", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 1
    assert "lacks the user 'user_id' column" in proc.stderr and "columns present: rownames, movieId" in proc.stderr
    rec = json.loads((only_run(tmp_path, "recommend") / "run.json").read_text())
    assert rec["status"] == "failed" and rec["error"]["ename"] == "DatasetError"
    assert not (only_run(tmp_path, "recommend") / "artifacts" / "leaderboard.csv").exists()
