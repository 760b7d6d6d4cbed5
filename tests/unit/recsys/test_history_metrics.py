"""Histories, profiles and ranking metrics, against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import ModelError
from workbench.recsys._history import History, ProfileSpec
from workbench.recsys._metrics import Targets, bootstrap_ci, exclude_seen, ndcg_at, top_k, user_metrics


def _history() -> History:
    # user 0 rated item 3 (2 stars, t=1), 7 (5, t=2), 5 (4, t=3); user 1 has one implicit interaction
    return History.from_codes(np.array([0, 0, 0, 1]), np.array([5, 3, 7, 2]), np.array([4, 2, 5, np.nan]),
                              np.array([3, 1, 2, 0]), n_users=3, n_items=8, threshold=4.0)


def test_history_keeps_time_order_and_profiles_weigh_recency_and_dislikes():
    h = _history()
    assert h.counts().tolist() == [3, 1, 0] and h.row(0)[0].tolist() == [3, 7, 5]
    w = h.weights(ProfileSpec(half_life=0.5, negative_weight=0.25))
    expected = [0.25 * 2 ** (-2 / 1.5), 2 ** (-1 / 1.5), 1.0, 1.0]  # ages 2, 1, 0 over a history of 3
    np.testing.assert_allclose(w, expected, rtol=1e-6)
    m = h.matrix(ProfileSpec(0.5, 0.25))
    assert m.shape == (3, 8) and m[0, 7] == pytest.approx(2 ** (-1 / 1.5))
    assert h.row(0)[0].tolist() == [3, 7, 5], "building a matrix must not reorder the history"
    np.testing.assert_allclose(h.weights(ProfileSpec(0.5, 0.25)), expected, rtol=1e-6)
    assert h.last(2).row(0)[0].tolist() == [7, 5] and h.rows([1, 0]).row(1)[0].tolist() == [3, 7, 5]
    both = History.concat([h.rows([1]), h.rows([0])])
    assert both.counts().tolist() == [1, 3] and both.row(1)[1].tolist() == [2, 5, 4]


def test_profile_spec_is_validated_and_round_trips():
    assert ProfileSpec.from_dict(ProfileSpec(0.2, 0.0).to_dict()) == ProfileSpec(0.2, 0.0)
    with pytest.raises(ModelError, match="half_life must be a positive number"):
        ProfileSpec(-1.0)
    with pytest.raises(ModelError, match="negative_weight must be between 0 and 1"):
        ProfileSpec(None, 2.0)


def _targets():
    return Targets(users=np.array([0, 1]), indptr=np.array([0, 2, 3]), items=np.array([1, 4, 0]))


def test_ranking_metrics_by_hand():
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    seen = History(np.array([0, 0, 1]), np.array([5]), np.array([np.nan]), 6)
    masked = exclude_seen(scores, seen)
    assert masked[1, 5] == -np.inf
    pop = np.array([10, 5, 5, 1, 0, 20.0])
    m, top = user_metrics(masked, _targets(), 3, pop, 20, [1, 3])
    assert top.tolist() == [[0, 1, 2], [4, 3, 2]]
    np.testing.assert_allclose(m["precision"][:, 1], [1 / 3, 0])
    np.testing.assert_allclose(m["recall"][:, 1], [1 / 2, 0])
    np.testing.assert_allclose(m["ndcg"][:, 1], [(1 / np.log2(3)) / (1 + 1 / np.log2(3)), 0])
    np.testing.assert_allclose(m["map"][:, 1], [(1 / 2) / 2, 0])
    np.testing.assert_allclose(m["hr"][:, :], [[0, 1], [0, 0]])
    np.testing.assert_allclose(m["mrr"], [1 / 2, 1 / 5])  # user 1's relevant item ranks 5th of the unseen
    info = -np.log2((pop + 1) / 21)
    np.testing.assert_allclose(m["novelty"][:, 1], [info[[0, 1, 2]].mean(), info[[4, 3, 2]].mean()])
    assert ndcg_at(masked, _targets(), 3) == pytest.approx(m["ndcg"][:, 1].mean())
    from workbench.recsys._metrics import coverage

    assert coverage(top, 3, 6) == pytest.approx(5 / 6)


def test_ties_go_to_the_more_popular_item_and_top_k_agrees_on_large_batches():
    scores = np.zeros((1, 4))
    seen = History(np.array([0, 0]), np.array([], dtype=np.int32), np.array([]), 4)
    assert top_k(exclude_seen(scores, seen, np.array([1.0, 9, 3, 5])), 2).tolist() == [[1, 3]]
    rng = np.random.default_rng(0)
    big = rng.random((200, 6000))  # torch.topk path
    small = big[:3, :50]  # numpy path
    assert (top_k(big, 10) == np.argsort(-big, axis=1)[:, :10]).all()
    assert (top_k(small, 5) == np.argsort(-small, axis=1)[:, :5]).all()


def test_bootstrap_intervals_bracket_the_mean_and_shrink_with_more_users():
    rng = np.random.default_rng(1)
    few, many = rng.random(50), rng.random(5000)
    lo, hi = bootstrap_ci(few)[:, 0]
    assert lo < few.mean() < hi
    # exact: the percentile interval of the means of 1,000 resamples of users drawn with the seeded generator
    draws = np.random.default_rng(0).integers(0, 50, size=(1000, 50))
    ref = np.quantile(few[draws].mean(axis=1), [0.025, 0.975])
    assert (lo, hi) == pytest.approx(tuple(ref), rel=1e-12)
    two = np.column_stack([few, 1 - few])  # per column, on the same draws (paired)
    np.testing.assert_allclose(bootstrap_ci(two, level=0.9), np.quantile(two[draws].mean(axis=1), [0.05, 0.95], axis=0),
                               rtol=1e-12)
    lo2, hi2 = bootstrap_ci(many)[:, 0]
    assert (hi2 - lo2) < (hi - lo) / 5
    assert bootstrap_ci(np.full(30, 0.25))[:, 0].tolist() == [0.25, 0.25]
