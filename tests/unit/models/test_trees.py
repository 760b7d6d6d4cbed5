"""Crafted tree models: real fitted pipelines saved through the contract, then their node arrays edited
and the card's hashes rewritten, as an attacker would. Each edit is one scikit-learn follows into
memory without a check (a segfault, a hang, or a read past the input row); every one is refused on load
with one line naming the file, and the unedited models load and predict exactly as before."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from support import run_cli

import workbench
from workbench import tabular
from workbench.core.io import file_sha256
from workbench.errors import ModelError
from workbench.models import load
from workbench.tabular._persist import load_model, save_model

MODELS = ["decision_tree", "random_forest", "extra_trees", "gradient_boosting", "hist_gb", "adaboost"]


@pytest.fixture(scope="module")
def data():
    return workbench.load_dataset("telco_churn").frame.iloc[:300].copy()


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory) -> dict[str, tuple[Any, Path]]:
    """Registry name (``-multi`` for a three-class target) -> (the fitted model, its saved folder)."""
    out = {}
    root = tmp_path_factory.mktemp("trees")
    cases = [(n, data) for n in MODELS] + [(f"{n}-multi", data.assign(churn=np.arange(len(data)) % 3))
                                           for n in ("gradient_boosting", "hist_gb")]
    for key, df in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = tabular.prepare_task(df, "churn", folds=2, models=[key.split("-")[0]])
            model = tabular.fit_best(t, tabular.compare_models(t, n_jobs=1, verbose=False, ensemble=False)).model
        out[key] = (model, save_model(model, root / key))
    return out


def _crafted(folder: Path, tmp_path: Path, change: Callable[[Any], None]) -> Path:
    """A copy of ``folder`` whose pipeline ``change`` edited, re-saved with matching hashes."""
    import skops.io as sio

    out = tmp_path / "crafted"
    shutil.copytree(folder, out)
    path = out / "model.skops"
    pipe = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    change(pipe.steps[-1][1])
    sio.dump(pipe, path)
    card = json.loads((out / "model.json").read_text())
    card["files"] = {name: file_sha256(out / name) for name in card["files"]}
    (out / "model.json").write_text(json.dumps(card))
    return out


def _first_tree(est: Any) -> Any:
    if hasattr(est, "tree_"):
        return est.tree_
    trees = est.estimators_
    return (trees[0, 0] if isinstance(trees, np.ndarray) else trees[0]).tree_


def _edit(field: str, value: Callable[[np.ndarray], Any], node: Callable[[np.ndarray], int] = lambda n: 0,
          state: str = "nodes") -> Callable[[Any], None]:
    """An edit of one field of one node of the first tree (``value`` and ``node`` see the node array)."""
    def change(est: Any) -> None:
        tree = _first_tree(est)
        st = tree.__getstate__()
        arr = st[state].copy()
        nodes = st["nodes"]
        if field:
            arr[field][node(nodes)] = value(nodes)
        else:
            arr[...] = value(arr)
        tree.__setstate__({**st, state: arr})
    return change


def _inner(nodes: np.ndarray, k: int = -1) -> int:
    return int(np.flatnonzero(nodes["left_child"] != -1)[k])


def _n_features(est: Any) -> int:
    return int(est.n_features_in_)


TREE_EDITS = {
    "child out of range": (_edit("left_child", lambda n: len(n) + 7), "outside the tree's"),
    "child is its parent (a cycle)": (_edit("right_child", lambda n: _inner(n), node=_inner), "not after its parent"),
    "child is the root (a cycle)": (_edit("left_child", lambda n: 0, node=_inner), "not after its parent"),
    "node reached twice": (_edit("right_child", lambda n: n["left_child"][0]), "reached twice"),
    "one child only": (_edit("right_child", lambda n: -1), "one child only"),
    "NaN threshold": (_edit("threshold", lambda n: np.nan), "NaN threshold"),
    "NaN leaf value": (_edit("", lambda v: np.where(np.arange(v.size).reshape(v.shape) == 3, np.nan, v),
                             state="values"), "finite numbers"),
}


@pytest.mark.parametrize("model", ["decision_tree", "random_forest", "extra_trees", "gradient_boosting", "adaboost"])
@pytest.mark.parametrize("edit", list(TREE_EDITS))
def test_crafted_trees_are_refused_by_name(fitted, tmp_path, model, edit):
    change, message = TREE_EDITS[edit]
    folder = _crafted(fitted[model][1], tmp_path, change)
    with pytest.raises(ModelError, match=rf"model\.skops'.*{message}.*refusing to load it") as e:
        load(folder)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("model", ["decision_tree", "random_forest", "gradient_boosting"])
@pytest.mark.parametrize("extra", [0, 1, 40])
def test_feature_index_at_or_past_the_input_width_is_refused(fitted, tmp_path, model, extra):
    """Feature ``n_features_in_`` does not crash: it silently reads the next row's memory."""
    est = fitted[model][0].estimator.steps[-1][1]
    change = _edit("feature", lambda n: _n_features(est) + extra, node=_inner)
    with pytest.raises(ModelError, match=rf"tests feature {_n_features(est) + extra}, outside the "
                                         rf"{_n_features(est)} features"):
        load(_crafted(fitted[model][1], tmp_path, change))


def test_node_count_past_the_stored_nodes_is_refused(fitted):
    """A node count above the stored nodes makes every array the tree hands out read past its memory.
    scikit-learn clamps it when skops builds a fresh tree, so this is checked on a tree in memory."""
    from workbench.models._trees import check_trees

    est = fitted["decision_tree"][0].estimator.steps[-1][1]
    copy = type(est.tree_)(est.tree_.n_features, est.tree_.n_classes, est.tree_.n_outputs)
    copy.__setstate__(est.tree_.__getstate__())
    copy.__setstate__({**copy.__getstate__(), "node_count": copy.node_count + 50})
    est = type(est)().set_params(**est.get_params())
    est.__dict__.update({**vars(fitted["decision_tree"][0].estimator.steps[-1][1]), "tree_": copy})
    with pytest.raises(ModelError, match=r"'here': DecisionTreeClassifier: node_count \d+ disagrees with its \d+ "):
        check_trees(est, "'here'")


def test_classes_that_disagree_with_the_trees_are_refused(fitted, tmp_path):
    def three_classes(est):
        est.classes_ = np.array(["No", "Yes", "Maybe"], dtype=object)
        est.n_classes_ = 3

    with pytest.raises(ModelError, match=r"outputs/classes \(1, \[2\]\) disagree with the estimator's \(1, \[3\]\)"):
        load(_crafted(fitted["decision_tree"][1], tmp_path / "dt", three_classes))
    with pytest.raises(ModelError, match="tree 0 of RandomForestClassifier: its classes/outputs"):
        load(_crafted(fitted["random_forest"][1], tmp_path / "rf",
                      lambda est: three_classes(est.estimators_[0])))


def test_gradient_boosting_stage_shape_is_checked(fitted, tmp_path):
    """``predict_stages`` writes ``out[i, k]`` for every column of ``estimators_``: one column too many
    writes past the prediction array."""
    def wide(est):
        est.estimators_ = np.concatenate([est.estimators_, est.estimators_], axis=1)

    with pytest.raises(ModelError, match=r"estimators_ must be an \(n_estimators, 1\) array"):
        load(_crafted(fitted["gradient_boosting"][1], tmp_path, wide))


def _hgb_edit(field: str, value: Any, node: Callable[[np.ndarray], int] | None = None) -> Callable[[Any], None]:
    def change(est):
        nodes = est._predictors[0][0].nodes.copy()
        at = node(nodes) if node else int(np.flatnonzero(nodes["is_leaf"] == 0)[1])
        nodes[field][at] = value(nodes) if callable(value) else value
        est._predictors[0][0].nodes = nodes
    return change


def _hgb_inner(nodes: np.ndarray) -> int:
    return int(np.flatnonzero(nodes["is_leaf"] == 0)[1])


HGB_EDITS = {
    "child out of range": (_hgb_edit("left", lambda n: len(n) + 3), "outside the tree's"),
    "cycle": (_hgb_edit("right", lambda n: _hgb_inner(n)), "not after its parent"),
    "node reached twice": (_hgb_edit("right", lambda n: n["left"][0], node=lambda n: 0), "reached twice"),
    "feature past the width": (_hgb_edit("feature_idx", 10_000), "tests feature 10000, outside"),
    "negative feature": (_hgb_edit("feature_idx", -1), "tests feature -1, outside"),
    "NaN threshold": (_hgb_edit("num_threshold", np.nan), "NaN threshold"),
    "categorical split without a bitset": (_hgb_edit("is_categorical", 1), "categorical split"),
    "NaN leaf": (_hgb_edit("value", np.nan, node=lambda n: int(np.flatnonzero(n["is_leaf"])[0])), "leaf value"),
}


@pytest.mark.parametrize("model", ["hist_gb", "hist_gb-multi"])
@pytest.mark.parametrize("edit", list(HGB_EDITS))
def test_crafted_histogram_boosting_is_refused(fitted, tmp_path, model, edit):
    change, message = HGB_EDITS[edit]
    with pytest.raises(ModelError, match=rf"tree \(0, 0\) of HistGradientBoostingClassifier: .*{message}"):
        load(_crafted(fitted[model][1], tmp_path, change))


def test_histogram_boosting_iterations_and_bin_mapper_are_checked(fitted, tmp_path):
    def drop_one(est):
        est._predictors[0] = est._predictors[0][:2]

    with pytest.raises(ModelError, match="a list of iterations of 3 trees each"):
        load(_crafted(fitted["hist_gb-multi"][1], tmp_path / "a", drop_one))

    def short_mask(est):
        est._bin_mapper.is_categorical_ = est._bin_mapper.is_categorical_[:-1]

    with pytest.raises(ModelError, match="is_categorical_ must be"):
        load(_crafted(fitted["hist_gb"][1], tmp_path / "b", short_mask))


def test_estimator_width_must_match_the_pipeline(fitted, tmp_path):
    def wider(est):
        est.n_features_in_ = est.n_features_in_ + 5

    with pytest.raises(ModelError, match="the pipeline steps before it give"):
        load(_crafted(fitted["hist_gb"][1], tmp_path, wider))


@pytest.mark.parametrize("model", [*MODELS, "gradient_boosting-multi", "hist_gb-multi"])
def test_unedited_tree_models_load_and_predict_identically(fitted, data, model):
    original, folder = fitted[model]
    rows = workbench.load_dataset("telco_churn").frame.iloc[300:400]
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict(rows), original.predict(rows))
    # forests sum their trees' probabilities in thread order: equal to the last bits, not bit for bit
    np.testing.assert_allclose(loaded.predict_proba(rows), original.predict_proba(rows), rtol=0, atol=1e-12)


def test_workbench_predict_refuses_a_crafted_tree_in_one_line(fitted, data, tmp_path):
    folder = _crafted(fitted["random_forest"][1], tmp_path, _edit("left_child", lambda n: 10 ** 9))
    data.iloc[:5].to_csv(tmp_path / "rows.csv", index=False)
    proc = run_cli("predict", folder, "rows.csv", "-o", "out.csv", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "tree 0 of RandomForestClassifier: node 0 has child 1000000000" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "out.csv").exists(), proc.stderr
