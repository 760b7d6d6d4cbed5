"""Tree models from an untrusted file, checked before they predict.

scikit-learn's tree code (``Tree.predict``, gradient boosting's ``predict_stages``, the histogram
predictor) follows child and feature indices straight into memory without bounds checks, so a skops
file whose node arrays were edited passes the type allow-list and then crashes the process, or reads
memory past the input row, on the first ``predict``. :func:`check_trees` walks a loaded estimator and
refuses, with one line naming the file and the tree, any tree whose

- node count disagrees with its allocated capacity (scikit-learn would read past its arrays);
- children are out of range, or do not form a tree: each node but the root is the child of exactly one
  node with a smaller index (the order both scikit-learn builders use; this excludes cycles);
- internal nodes test a feature outside ``[0, n_features)``, where ``n_features`` is the estimator's
  ``n_features_in_`` and, inside a ``Pipeline``, the width the steps before it produce;
- internal nodes have a NaN threshold (±inf is how scikit-learn splits off missing values);
- values are not finite, or their shape disagrees with the outputs and classes of the estimator;
- (histogram boosting) categorical splits point outside their bitsets, or the bin mapper disagrees.

Decision trees, extra trees, random forests, extra-trees ensembles, AdaBoost, gradient boosting and
histogram gradient boosting are checked where a ``Pipeline``, ``CalibratedClassifierCV`` or
``TransformedTargetRegressor`` holds them; a tree anywhere else is refused.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..errors import ModelError

FIX = "refusing to load it (a crafted or damaged tree can crash the process or misread memory when it predicts); " \
      "fix: re-create the model with a workbench notebook"


class TreeError(ModelError):
    """A tree that fails a check (a :class:`ModelError`, so every caller shows one line)."""


def _fail(where: str, what: str, why: str) -> TreeError:
    return TreeError(f"{where}: {what}: {why}; {FIX}")


def _int(value: Any) -> int | None:
    import numpy as np

    return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else None


def check_structure(left: Any, right: Any, leaf: Any, where: str, what: str) -> Any:
    """The internal-node mask of a node array given its children and leaf flags, after checking the
    nodes form one tree rooted at node 0: every child index in range and larger than its parent's, every
    node but the root the child of exactly one node (so no cycle, no node reached twice)."""
    import numpy as np

    n = len(left)
    inner = ~leaf
    idx = np.flatnonzero(inner)
    kids = np.concatenate([left[inner], right[inner]]).astype(np.int64)
    parents = np.concatenate([idx, idx])
    bad = np.flatnonzero((kids < 1) | (kids >= n) | (kids <= parents))
    if bad.size:
        j = int(bad[0])
        raise _fail(where, what, f"node {int(parents[j])} has child {int(kids[j])}, outside the tree's {n} nodes or "
                                 "not after its parent")
    if kids.size != n - 1 or np.unique(kids).size != kids.size:
        raise _fail(where, what, "its nodes do not form a tree (a node is reached twice, a cycle, or a node is "
                                 "unreachable from the root)")
    return inner


def check_tree(tree: Any, n_features: int, outputs: list[int], where: str, what: str) -> None:
    """One ``sklearn.tree._tree.Tree``: capacity, structure, features, thresholds, values. ``outputs``
    holds the class count per output (a classifier) or a 1 per output (a regressor)."""
    import numpy as np
    from sklearn.tree._tree import Tree

    if type(tree) is not Tree:
        raise _fail(where, what, f"expected a scikit-learn Tree, got {type(tree).__name__}")
    count = _int(tree.node_count)
    if count is None or count < 1 or count != tree.capacity:
        raise _fail(where, what, f"node_count {tree.node_count} disagrees with its {tree.capacity} stored nodes")
    if tree.n_features != n_features:
        raise _fail(where, what, f"it was built for {tree.n_features} features, the estimator takes {n_features}")
    expected = list(outputs)
    if tree.n_outputs != len(expected) or list(np.asarray(tree.n_classes).tolist()) != list(expected):
        raise _fail(where, what, f"its outputs/classes ({tree.n_outputs}, {np.asarray(tree.n_classes).tolist()}) "
                                 f"disagree with the estimator's ({len(expected)}, {list(expected)})")
    state = tree.__getstate__()
    nodes, values = state["nodes"], state["values"]
    left, right = nodes["left_child"], nodes["right_child"]
    leaf = left == -1
    if np.any(leaf != (right == -1)):
        raise _fail(where, what, f"node {int(np.flatnonzero(leaf != (right == -1))[0])} has one child only")
    inner = check_structure(left, right, leaf, where, what)
    _check_features(nodes["feature"][inner], nodes["threshold"][inner], n_features, where, what)
    if values.shape != (count, len(expected), max(expected)) or not np.isfinite(values).all():
        raise _fail(where, what, f"its values must be {count}x{len(expected)}x{max(expected)} finite numbers, got "
                                 f"shape {values.shape}")


def _check_features(feature: Any, threshold: Any, n_features: int, where: str, what: str) -> None:
    import numpy as np

    out = np.flatnonzero((feature < 0) | (feature >= n_features))
    if out.size:
        raise _fail(where, what, f"a split tests feature {int(feature[out[0]])}, outside the {n_features} features "
                                 "the estimator takes")
    if np.isnan(threshold).any():
        raise _fail(where, what, "a split has a NaN threshold")


def check_predictor(pred: Any, n_features: int, categorical: Any, where: str, what: str) -> None:
    """One histogram-boosting ``TreePredictor``: its node records, leaf values and categorical bitsets.
    ``categorical`` is the bin mapper's per-feature mask (None: no categorical feature)."""
    import numpy as np
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    if type(pred) is not TreePredictor:
        raise _fail(where, what, f"expected a TreePredictor, got {type(pred).__name__}")
    nodes = pred.nodes
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1 or not len(nodes):
        raise _fail(where, what, "its nodes are not a non-empty array of scikit-learn's predictor records")
    bitsets = [getattr(pred, k, None) for k in ("raw_left_cat_bitsets", "binned_left_cat_bitsets")]
    if not all(isinstance(b, np.ndarray) and b.dtype == np.uint32 and b.ndim == 2 and b.shape[1] == 8
               and b.shape[0] == bitsets[0].shape[0] for b in bitsets):
        raise _fail(where, what, "its categorical bitsets are not two matching (n, 8) uint32 arrays")
    leaf = nodes["is_leaf"] != 0
    inner = check_structure(nodes["left"], nodes["right"], leaf, where, what)
    cat = (nodes["is_categorical"] != 0) & inner
    _check_features(nodes["feature_idx"][inner], nodes["num_threshold"][inner & ~cat], n_features, where, what)
    if cat.any():
        mask = np.zeros(n_features, dtype=bool) if categorical is None else categorical
        if not mask[nodes["feature_idx"][cat]].all() or (nodes["bitset_idx"][cat] >= bitsets[0].shape[0]).any():
            raise _fail(where, what, "a categorical split names a feature the bin mapper does not treat as "
                                     "categorical, or a bitset it does not have")
    if not np.isfinite(nodes["value"][leaf]).all():
        raise _fail(where, what, "a leaf value is not a finite number")


def _walk(root: Any) -> Iterator[Any]:
    """Every object reachable from ``root`` through attributes, lists, tuples, dicts and object arrays, each
    once (a file can make one list reachable a billion ways through shared references)."""
    import numpy as np

    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, np.ndarray):
            if obj.dtype == object:
                stack.extend(obj.ravel().tolist())
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            stack.extend(vars(obj).values())


def _n_features(est: Any, bound: int | None, where: str, what: str) -> int:
    """The estimator's input width, which must equal ``bound`` (what the pipeline steps before it give)."""
    n = _int(getattr(est, "n_features_in_", None))
    if n is None or n < 1:
        raise _fail(where, what, "it records no valid n_features_in_")
    if bound is not None and n != bound:
        raise _fail(where, what, f"it takes {n} features, the pipeline steps before it give {bound}")
    return n


def _outputs(est: Any, where: str, what: str) -> list[int]:
    """Class count per output (a classifier), or a 1 per output (a regressor)."""
    import numpy as np
    from sklearn.base import is_classifier

    if not is_classifier(est):
        n = _int(getattr(est, "n_outputs_", 1))
        if n is None or n < 1:
            raise _fail(where, what, "it records no valid n_outputs_")
        return [1] * n
    counts = np.atleast_1d(getattr(est, "n_classes_", -1)).tolist()
    classes = getattr(est, "classes_", None)
    if not all(isinstance(c, int) and c >= 1 for c in counts) or (
            len(counts) == 1 and (classes is None or len(classes) != counts[0])):
        raise _fail(where, what, f"its class count {counts} disagrees with its classes")
    return counts


def _decision_tree(est: Any, n_features: int, outputs: list[int] | None, where: str, what: str,
                   checked: set[int]) -> None:
    from sklearn.tree._classes import BaseDecisionTree

    if not isinstance(est, BaseDecisionTree):
        raise _fail(where, what, f"expected a decision tree, got {type(est).__name__}")
    _n_features(est, n_features, where, what)
    own = _outputs(est, where, what)
    if outputs is not None and own != outputs:
        raise _fail(where, what, f"its classes/outputs {own} disagree with its ensemble's {outputs}")
    check_tree(getattr(est, "tree_", None), n_features, own, where, what)
    checked.add(id(est.tree_))


def _per_iteration(est: Any, where: str, what: str) -> int:
    """How many trees each boosting iteration adds: 1, or one per class for a multiclass classifier."""
    from sklearn.base import is_classifier

    k = _int(getattr(est, "n_trees_per_iteration_", None))
    expected = k
    if is_classifier(est):
        n = len(getattr(est, "classes_", []))
        expected = 1 if n <= 2 else n
    if k is None or k != expected:
        raise _fail(where, what, f"n_trees_per_iteration_ {getattr(est, 'n_trees_per_iteration_', None)} disagrees "
                                 f"with its classes (expected {expected})")
    return k


def _gradient_boosting(est: Any, bound: int | None, where: str, checked: set[int]) -> None:
    import numpy as np

    what = type(est).__name__
    n = _n_features(est, bound, where, what)
    k = _per_iteration(est, where, what)
    trees = getattr(est, "estimators_", None)
    if not isinstance(trees, np.ndarray) or trees.dtype != object or trees.ndim != 2 or trees.shape[1] != k:
        raise _fail(where, what, f"estimators_ must be an (n_estimators, {k}) array of regression trees")
    for (i, j), tree in np.ndenumerate(trees):
        _decision_tree(tree, n, [1], where, f"tree ({i}, {j}) of {what}", checked)


def _hist_gradient_boosting(est: Any, bound: int | None, where: str, checked: set[int]) -> None:
    import numpy as np

    what = type(est).__name__
    n = _n_features(est, bound, where, what)
    k = _per_iteration(est, where, what)
    if getattr(est, "_preprocessor", None) is not None:
        raise _fail(where, what, "native categorical features (an internal preprocessor) are not a model workbench "
                                 "builds")
    mask = getattr(getattr(est, "_bin_mapper", None), "is_categorical_", None)
    if mask is not None:
        if not (isinstance(mask, np.ndarray) and mask.dtype == np.uint8 and mask.shape == (n,)):
            raise _fail(where, what, f"its bin mapper's is_categorical_ must be {n} flags")
        mask = mask.astype(bool)
    predictors = getattr(est, "_predictors", None)
    if not isinstance(predictors, list) or not all(isinstance(p, list) and len(p) == k for p in predictors):
        raise _fail(where, what, f"its predictors must be a list of iterations of {k} trees each")
    for i, iteration in enumerate(predictors):
        for j, pred in enumerate(iteration):
            check_predictor(pred, n, mask, where, f"tree ({i}, {j}) of {what}")
            checked.add(id(pred))


def _tree_ensemble(est: Any, bound: int | None, where: str, checked: set[int]) -> None:
    what = type(est).__name__
    n = _n_features(est, bound, where, what)
    outputs = _outputs(est, where, what)
    trees = getattr(est, "estimators_", None)
    if not isinstance(trees, list) or not trees:
        raise _fail(where, what, "estimators_ must be a non-empty list of decision trees")
    for i, tree in enumerate(trees):
        _decision_tree(tree, n, outputs, where, f"tree {i} of {what}", checked)


def _pipeline_width(pipe: Any) -> int | None:
    """How many columns the steps before a pipeline's last one produce (None: they cannot say)."""
    try:
        return len(pipe[:-1].get_feature_names_out())
    except Exception:  # a step without feature names: the final estimator's own n_features_in_ still bounds it
        return None


def check_estimator(est: Any, bound: int | None, where: str, checked: set[int]) -> None:
    """Check the trees of ``est`` (recursing through pipelines, calibration and target transforms),
    adding the id of each checked tree to ``checked``. ``bound``: the input width ``est`` must take."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble._forest import BaseForest
    from sklearn.ensemble._gb import BaseGradientBoosting
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import BaseHistGradientBoosting
    from sklearn.ensemble._weight_boosting import BaseWeightBoosting
    from sklearn.pipeline import Pipeline
    from sklearn.tree._classes import BaseDecisionTree

    if isinstance(est, Pipeline) and est.steps:
        for _, step in est.steps[:-1]:
            check_estimator(step, None, where, checked)
        check_estimator(est.steps[-1][1], _pipeline_width(est) if len(est.steps) > 1 else bound, where, checked)
    elif isinstance(est, CalibratedClassifierCV):
        for cc in getattr(est, "calibrated_classifiers_", []):
            check_estimator(getattr(cc, "estimator", None), bound, where, checked)
    elif isinstance(est, TransformedTargetRegressor):
        check_estimator(getattr(est, "regressor_", None), bound, where, checked)
    elif isinstance(est, BaseDecisionTree):
        _decision_tree(est, _n_features(est, bound, where, type(est).__name__), None, where, type(est).__name__,
                       checked)
    elif isinstance(est, (BaseForest, BaseWeightBoosting)):
        _tree_ensemble(est, bound, where, checked)
    elif isinstance(est, BaseGradientBoosting):
        _gradient_boosting(est, bound, where, checked)
    elif isinstance(est, BaseHistGradientBoosting):
        _hist_gradient_boosting(est, bound, where, checked)


def check_trees(obj: Any, where: str) -> None:
    """Check every tree in the loaded estimator ``obj`` (see the module docs); raise a one-line
    :class:`ModelError` naming ``where`` and the tree on the first problem."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    trees = [o for o in _walk(obj) if isinstance(o, (Tree, TreePredictor))]
    if not trees:
        return
    checked: set[int] = set()
    check_estimator(obj, None, where, checked)
    stray = [t for t in trees if id(t) not in checked]
    if stray:
        raise _fail(where, type(stray[0]).__name__, "a tree where no estimator workbench checks uses one")
