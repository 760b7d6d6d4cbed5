"""Every recommender on a real MovieLens slice: fit, score, quality floors, arrays round trip, registry."""

from __future__ import annotations

import numpy as np
import pytest

from workbench import recsys
from workbench.errors import ModelError
from workbench.recsys._base import DEFAULT_MODELS, FitContext, Recommender, build, restore, validate_models
from workbench.recsys._history import History, ProfileSpec
from workbench.recsys._metrics import exclude_seen, ndcg_at

# NDCG@10 on the temporal test split of the first 100 users, default settings, profile (half-life 0.2 of the
# history, disliked weight 0); measured: popularity 0.0706, item_knn 0.0997, svd 0.0694, als 0.0463,
# ease 0.1156, content 0.0181, hybrid 0.1084. Floors leave a margin below them.
FLOORS = {"popularity": 0.065, "item_knn": 0.09, "svd": 0.06, "als": 0.04, "ease": 0.105, "content": 0.012,
          "hybrid": 0.098}


@pytest.fixture(scope="module")
def fitted(small_task, small_data) -> dict[str, Recommender]:
    ctx = FitContext(item_text=small_data.item_text(), seed=0)
    out = {}
    for name in DEFAULT_MODELS:
        m = build(name).fit(small_task.train, ctx)
        if m.tune_profile:
            m.profile = ProfileSpec(0.2, 0.0)
        out[name] = m
    return out


def _ndcg(model, task, sl=None) -> float:
    sl = sl or task.test
    return ndcg_at(exclude_seen(model.score(sl.history), sl.history, task.popularity), sl.targets)


@pytest.mark.parametrize("name", DEFAULT_MODELS)
def test_each_model_reaches_its_floor_on_real_data(fitted, small_task, name):
    m = fitted[name]
    s = m.score(small_task.test.history)
    assert s.shape == (small_task.test.n, small_task.data.n_items) and s.dtype == np.float32
    assert np.isfinite(s).all()
    assert _ndcg(m, small_task) >= FLOORS[name]


def test_collaborative_models_beat_popularity_and_recency_helps(fitted, small_task):
    pop = _ndcg(fitted["popularity"], small_task)
    assert _ndcg(fitted["ease"], small_task) > pop + 0.03 and _ndcg(fitted["item_knn"], small_task) > pop + 0.02
    ease = build("ease").fit(small_task.train)  # default profile: every interaction weighs 1
    assert _ndcg(fitted["ease"], small_task) > _ndcg(ease, small_task) + 0.005


@pytest.mark.parametrize("name", DEFAULT_MODELS)
def test_arrays_restore_the_same_scores(fitted, small_task, name):
    m = fitted[name]
    arrays = {k: np.array(v) for k, v in m.arrays().items()}
    assert all(a.dtype.kind in "fiu" for a in arrays.values())  # plain numbers: saved without pickle
    back = restore(m.state(), arrays, m.n_items)
    np.testing.assert_array_equal(back.score(small_task.test.history), m.score(small_task.test.history))


def test_item_item_scores_are_profile_times_matrix(fitted, small_task):
    """A new interaction changes scores by exactly its row of W: the cheap real-time update."""
    ease = fitted["ease"]
    ease_flat = build("ease").fit(small_task.train)
    h = small_task.test.history.rows([0])
    items = h.row(0)[0]
    expected = np.asarray(ease_flat.W_[items].sum(0)).ravel()
    np.testing.assert_allclose(ease_flat.score(h)[0], expected, rtol=1e-5, atol=1e-7)
    assert ease.W_.shape == (small_task.data.n_items,) * 2
    assert (np.diff(ease.W_.tocsc().indptr) <= ease.params["max_neighbors"]).all()


def test_derived_models_equal_refits_up_to_ties(small_task):
    knn = build("item_knn", k=200, shrink=20.0).fit(small_task.train)
    small = knn.derive({"k": 50, "shrink": 20.0})
    refit = build("item_knn", k=50, shrink=20.0).fit(small_task.train)
    assert small.W_.nnz == refit.W_.nnz
    np.testing.assert_allclose(np.sort(small.W_.data), np.sort(refit.W_.data), rtol=1e-6)
    assert knn.derive({"k": 50, "shrink": 0.0}) is None
    svd = build("svd", factors=128).fit(small_task.train)
    assert svd.params["factors"] == 99  # 100 users: at most 99 factors
    assert svd.derive({"factors": 32}).V_.shape[1] == 32 and svd.derive({"factors": 128}) is None


def test_als_fold_in_matches_the_trained_user_factors(small_task):
    """Scoring folds a user in with one ALS user step; for a training user that is the factor ALS learned."""
    from implicit.cpu.als import AlternatingLeastSquares

    train = small_task.train
    model = AlternatingLeastSquares(factors=16, regularization=0.1, alpha=2.0, iterations=10, random_state=0,
                                    num_threads=1, calculate_training_loss=False)
    model.fit(train.matrix(), show_progress=False)
    als = build("als", factors=16, regularization=0.1, alpha=2.0)
    als.Y_, als.n_items = np.asarray(model.item_factors), train.n_items
    u = als.user_factors(train.rows(np.arange(5)))
    ref = np.asarray(model.user_factors)[:5]
    # one extra user step on converged factors moves them little
    assert np.corrcoef(u.ravel(), ref.ravel())[0, 1] > 0.98


def test_hybrid_uses_cold_weights_for_short_histories_and_popularity_for_none(fitted, small_task):
    hyb = fitted["hybrid"]
    h = small_task.test.history.rows([0, 1])
    z = hyb.component_scores(h.last(np.array([3, 0])))
    s = hyb.blend(z, np.array([3, 0]))
    w = hyb.weights["cold"]
    np.testing.assert_allclose(s[0], sum(w[r] * z[r][0] for r in z), rtol=1e-5)
    np.testing.assert_allclose(s[1], z["popularity"][1])
    with pytest.raises(ModelError, match="collaborative must be a collaborative model"):
        build("hybrid", collaborative="content").fit(small_task.train, FitContext(item_text=["a"]))


def test_registry_names_and_bad_parameters():
    assert recsys.model_names()[:7] == DEFAULT_MODELS
    assert validate_models("knn, EASE, pop") == ["item_knn", "ease", "popularity"]
    with pytest.raises(ModelError, match="ease: unknown parameter"):
        build("ease", lambda_=3)
    with pytest.raises(ModelError, match="content needs item text"):
        build("content").fit(History.from_codes(np.r_[0], np.r_[0], np.r_[1.0], None, 1, 1))
    assert "EASE" in recsys.describe_models().loc["ease", "description"]
