"""The comparison: tuning on validation, test evaluation, leaderboard, cold start, figures, tracking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import CallRecorder

from workbench import recsys
from workbench.recsys._base import MODELS
from workbench.recsys._history import ProfileSpec
from workbench.recsys._neighbors import Popularity

MODELS_ = ["popularity", "ease", "content", "hybrid", "broken"]


class Broken(Popularity):
    key = "broken"

    def _fit(self, train, ctx):
        raise ValueError("this model always fails")


@pytest.fixture(scope="module")
def comparison(small_data, tmp_path_factory):
    MODELS.register("broken", Broken)
    try:
        task = recsys.prepare_task(small_data, MODELS_)
        out = tmp_path_factory.mktemp("artifacts")
        comp = recsys.compare_models(task, out_dir=out, verbose=False)
    finally:
        MODELS.unregister("broken")
    return comp, out


def test_leaderboard_reports_test_means_with_intervals_and_error_rows(comparison):
    comp, out = comparison
    lb = comp.leaderboard
    assert lb.index.tolist()[-1] == "broken" and lb.loc["broken", "status"] == "error"
    assert "ValueError: this model always fails" in lb.loc["broken", "error"]
    ok = lb[lb["status"] == "ok"]
    assert set(ok.index) == {"popularity", "ease", "content", "hybrid"}
    assert ok["ndcg@10"].is_monotonic_decreasing
    for m in ("ndcg@10", "recall@10", "precision@10", "map@10", "hr@10", "mrr", "novelty@10"):
        assert (ok[f"{m}_lo"] <= ok[m]).all() and (ok[m] <= ok[f"{m}_hi"]).all()
    assert ok.loc["popularity", "coverage@10"] < ok.loc["ease", "coverage@10"]
    assert ok.loc["popularity", "novelty@10"] < ok.loc["ease", "novelty@10"]
    assert ok.loc["ease", "ndcg@10"] > ok.loc["popularity", "ndcg@10"] + 0.02
    saved = pd.read_csv(out / "leaderboard.csv", index_col=0)
    assert set(saved.index) == set(lb.index)
    assert (out / "cold_start.csv").exists() and (out / "validation_trials.csv").exists()


def test_best_is_chosen_on_validation_and_recorded(comparison):
    comp, _ = comparison
    vals = {m: r.val_ndcg for m, r in comp.results.items()}
    assert comp.best == max(vals, key=vals.get) and comp.best in ("ease", "hybrid")
    rec = comp.record_values()
    assert rec["best_model"] == comp.best and rec["ndcg_at_10"] == pytest.approx(comp.mean(comp.best))
    # exact, recomputed in plain Python from the best model's top-10 lists and the held-out items
    task, res = comp.task, comp.results[comp.best]
    t = task.test.targets
    relevant = [set(t.items[t.indptr[i]:t.indptr[i + 1]].tolist()) for i in range(t.n)]
    recall = np.mean([len(set(res.top[i, :10].tolist()) & rel) / len(rel) for i, rel in enumerate(relevant)])
    assert rec["recall_at_10"] == pytest.approx(recall, rel=1e-12)
    assert rec["coverage"] == len(set(res.top[:, :10].ravel().tolist())) / task.data.n_items
    assert comp.leaderboard.loc[comp.best, "recall@10"] == pytest.approx(recall, rel=1e-12)
    table = comp.table()
    assert table.loc[comp.best, "chosen"].startswith("✓") and "[" in table.loc["ease", "NDCG@10"]


def test_tuning_trials_cover_the_grid_and_profiles(comparison):
    comp, _ = comparison
    trials = comp.trials()
    ease = trials[trials["model"] == "ease"]
    assert {250.0, 500.0} <= set(ease["lam"]) and ease["half_life"].isna().any() and (ease["half_life"] == 0.2).any()
    hyb = trials[trials["model"] == "hybrid"]
    assert set(hyb["group"]) == {"warm", "cold"}
    assert comp.results["ease"].model.profile in recsys.prepare_task(comp.task.data, ["ease"]).profile_grid()
    assert "half-life" in comp.settings().loc["ease", "settings"]


def test_cold_start_table_and_hybrid_weights(comparison):
    comp, _ = comparison
    cold = comp.cold_start(numeric=True)
    assert list(cold.index) == ["popularity", "ease", "content", "hybrid"]
    warm_col, sim_col = cold.columns
    assert warm_col.startswith("warm (> 5), 98 users") and sim_col.startswith("simulated cold start")
    assert cold.loc["ease", warm_col] == pytest.approx(comp.mean("ease"))
    collab = ["popularity", "ease", "hybrid"]
    assert (cold.loc[collab, sim_col] < cold.loc[collab, warm_col]).all()  # a few interactions tell less
    h = comp.results["hybrid"].model
    assert set(h.weights) == {"warm", "cold"} and h.components["collaborative"].key == "ease"


def test_figures_examples_and_tracking(comparison):
    comp, _ = comparison
    figs = comp.figures()
    assert list(figs) == ["leaderboard", "metric_vs_k", "cold_start", "popularity_bias"]
    assert all(f.layout.template.layout.paper_bgcolor for f in figs.values())
    assert len(figs["metric_vs_k"].data) == 3 * 4  # three panels, four models
    ok = comp.leaderboard[comp.leaderboard["status"] == "ok"]
    assert list(comp.leaderboard_figure().data[0].y) == ok.index.tolist() == ["hybrid", "ease", "popularity", "content"]
    assert comp.cold_start_figure().data[0].y.tolist() == comp.cold_start(numeric=True).iloc[:, 0].tolist()
    ex = comp.example_recommendations(n_users=2)
    assert ex.index.get_level_values("user").nunique() == 2
    assert {"recent history (newest first)", "rating", "liked in held-out data"} <= set(ex.columns)

    t = CallRecorder()
    recsys.log(t, comp, model_dir=None)
    kinds = {c[0] for c in t.calls}
    assert {"log", "log_table", "log_figure", "summary"} <= kinds
    named = [(name, args[0] if args else None) for name, args, _ in t.calls]
    assert ("log_table", "leaderboard") in named and ("log_figure", "popularity_bias") in named


def test_save_and_record_the_chosen_model(comparison, tmp_path, monkeypatch):
    from workbench.models import load
    from workbench.recsys import _outputs

    comp, _ = comparison
    model_dir = recsys.save(comp, tmp_path)
    assert model_dir == tmp_path / "model"
    predictor = load(model_dir)
    assert predictor.card.name == comp.best and predictor.card.metrics == comp.record_values()
    recorded = {}
    monkeypatch.setattr(_outputs, "record_value", lambda name, value: recorded.__setitem__(name, value))
    values = recsys.record(comp, {"median_ms": 1.5, "p95_ms": 2.0, "calls": 3})
    assert values == recorded == {**comp.record_values(), "latency_ms": 1.5}
    assert recorded["best_model"] == comp.best and recorded["ndcg_at_10"] == comp.mean(comp.best, "ndcg")


def test_implicit_feedback_without_time_uses_a_random_split(small):
    from workbench import recsys as rs

    ids = small.assign(userId="u" + small["userId"].astype(str))[["userId", "movieId"]]
    data = rs.prepare_interactions(ids, "userId", "movieId")
    task = rs.prepare_task(data, ["popularity", "item_knn"], seed=1)
    assert not task.temporal and task.profile_grid() == [ProfileSpec(None, 1.0)]
    comp = rs.compare_models(task, verbose=False)
    assert comp.mean("item_knn") > comp.mean("popularity")
    assert np.isfinite(comp.leaderboard["ndcg@10"]).all()


def test_popularity_recommends_the_most_popular_unseen_items_and_its_metrics_are_exact(comparison):
    comp, _ = comparison
    task, res = comp.task, comp.results["popularity"]
    counts = np.bincount(task.train.items, minlength=task.data.n_items)
    h, t = task.test.history, task.test.targets
    recalls, hits_at_1 = [], []
    for i in range(t.n):
        seen = set(h.items[h.indptr[i]:h.indptr[i + 1]].tolist())
        unseen = sorted((c for j, c in enumerate(counts.tolist()) if j not in seen), reverse=True)
        top = res.top[i, :10].tolist()
        assert not seen & set(top) and sorted(counts[top].tolist(), reverse=True) == unseen[:10]  # ties aside
        rel = set(t.items[t.indptr[i]:t.indptr[i + 1]].tolist())
        recalls.append(len(set(top) & rel) / len(rel))
        hits_at_1.append(float(top[0] in rel))
    lb = comp.leaderboard.loc["popularity"]
    assert lb["recall@10"] == pytest.approx(np.mean(recalls), rel=1e-12)
    assert lb["coverage@10"] == len(set(res.top[:, :10].ravel().tolist())) / task.data.n_items
    assert res.metrics["precision"][:, 0].mean() == pytest.approx(np.mean(hits_at_1), rel=1e-12)
