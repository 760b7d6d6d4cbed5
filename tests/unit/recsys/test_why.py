"""Why an item is recommended: the history items' contributions add up to the model's score (item-kNN, EASE,
PureSVD, content), the top ones come back from predict, the CLI and serve; other models are refused by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import run_cli

import workbench
from workbench.errors import ModelError
from workbench.recsys._base import FitContext, build
from workbench.recsys._history import ProfileSpec
from workbench.recsys._saved import save_model
from workbench.recsys._why import contributions


@pytest.fixture(scope="module")
def saved(small_task, small_data, tmp_path_factory) -> dict:
    ctx = FitContext(item_text=small_data.item_text())
    out = {}
    for name in ("item_knn", "ease", "svd", "content", "als"):
        m = build(name).fit(small_task.train, ctx)
        if m.tune_profile:
            m.profile = ProfileSpec(0.2, 0.0)
        folder = tmp_path_factory.mktemp(name) / "model"
        save_model(m, small_task, folder, metrics={})
        out[name] = folder
    return out


@pytest.mark.parametrize("name", ["item_knn", "ease", "svd", "content"])
def test_contributions_add_up_to_the_score(saved, name):
    p = workbench.load_model(saved[name])
    for user in (1, 7, 42):
        hist = p._histories([user])
        score = p.model.score(hist)[0]
        items = np.argsort(-score)[:20]
        h, contrib = contributions(p.model, hist, items)
        assert len(h) == len(p.profile(user)["items"])
        np.testing.assert_allclose(contrib.sum(axis=0), score[items], rtol=1e-4, atol=1e-5)


def test_predict_says_which_history_items_and_the_cli_writes_them(saved, tmp_path):
    p = workbench.load_model(saved["ease"])
    out = p.explain([1, 424242], top=2)
    known = out[out["userId"] == 1]
    history = set(p.profile(1)["items"])
    titles = dict(zip(p.item_ids.tolist(), p.labels.tolist()))
    assert known["explain_1_item"].notna().all() and {titles[i] for i in history} >= set(known["explain_1_item"])
    assert (known["explain_1_value"] >= known["explain_2_value"]).all()
    assert out.loc[out["userId"] == 424242, "explain_1_item"].isna().all()  # the popularity fallback: no history
    pd.DataFrame({"userId": [1, 3]}).to_csv(tmp_path / "users.csv", index=False)
    proc = run_cli("predict", str(saved["ease"]), "users.csv", "-o", "recs.csv", "--explain", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    recs = pd.read_csv(tmp_path / "recs.csv")
    assert list(recs.columns)[-4:] == ["explain_1_item", "explain_1_value", "explain_2_item", "explain_2_value"]
    assert recs.loc[recs["userId"] == 1, "explain_1_item"].tolist() == known["explain_1_item"].tolist()


def test_models_without_an_additive_score_are_refused(saved, tmp_path):
    with pytest.raises(ModelError, match=r"ALS recommender's scores are not a sum over the user's history"):
        workbench.load_model(saved["als"]).explain([1])
    pd.DataFrame({"userId": [1]}).to_csv(tmp_path / "users.csv", index=False)
    proc = run_cli("predict", str(saved["als"]), "users.csv", "-o", "recs.csv", "--explain", "2", cwd=tmp_path)
    assert proc.returncode == 2 and "explanations cover item_knn, ease, svd and content" in proc.stderr
    assert not (tmp_path / "recs.csv").exists()
