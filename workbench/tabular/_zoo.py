"""The built-in model zoo: 15 classifiers and 16 regressors from scikit-learn and CatBoost, each with
sane defaults for tables of a few thousand to a few hundred thousand rows, a relative cost for
scheduling and an Optuna search space.

Boosting stops early on an inner validation split (CatBoost, histogram and classic gradient boosting,
the MLP); linear and distance-based models get standardized numerics, trees do not.
"""

from __future__ import annotations

from typing import Any, Callable

from ._prep import make_preprocessor
from ._registry import REGISTRY, ModelSpec

Factory = Callable[[int, int], Any]


def _sk(factory: Factory, scale: bool = True):
    """A builder: the shared preprocessor (scaled or not) and the model from ``factory(seed, threads)``."""
    def build(numeric, categorical, seed, threads):
        from sklearn.pipeline import Pipeline

        return Pipeline([("prep", make_preprocessor(numeric, categorical, scale=scale)),
                         ("model", factory(seed, threads))])
    return build


def _cb_classifier(numeric, categorical, seed, threads):
    from ._catboost import CatBoostFrameClassifier  # scikit-learn's base classes: imported when a model is built

    return CatBoostFrameClassifier(random_state=seed, thread_count=threads, cat_features=list(categorical))


def _cb_regressor(numeric, categorical, seed, threads):
    # a regression learns from every row: holding 10% out for early stopping cost more than it saved
    # (ames, 5 folds: CV RMSE 0.0534 with early stopping, 0.0520 with 1000 rounds at 0.06 on all rows).
    # Categoricals up to 255 levels one-hot (no target-statistic combinations to build each round), depth 5,
    # 128 bins: a third of the CPU of depth 6 / 254 bins / CTRs above 25 levels at the same CV RMSE
    # (5 folds, 700 rounds at 0.08: ames 0.0521 vs 0.0520, Sacramento 0.1336 vs 0.1342, concrete 4.07 vs 4.09)
    from ._catboost import CatBoostFrameRegressor

    return CatBoostFrameRegressor(random_state=seed, thread_count=threads, cat_features=list(categorical),
                                  iterations=700, learning_rate=0.08, depth=5, border_count=128, one_hot_max_size=255,
                                  early_stopping_rounds=None)


def _sklearn(path: str, **params) -> Factory:
    """A factory for the scikit-learn class at ``path`` with ``params`` (``random_state`` filled in where the
    class takes it, ``n_jobs`` for forests and neighbours)."""
    def factory(seed: int, threads: int):
        import importlib

        module, name = path.rsplit(".", 1)
        cls = getattr(importlib.import_module(module), name)
        keys = cls().get_params()
        parallel = any(w in name for w in ("Forest", "Trees", "Neighbors"))  # the others' n_jobs does nothing
        extra = {k: v for k, v in (("random_state", seed), ("n_jobs", threads)) if k in keys and (k != "n_jobs" or parallel)}
        return cls(**params, **extra)
    return factory


def _elastic_logreg(seed: int, threads: int):
    from sklearn.linear_model import LogisticRegression

    old = LogisticRegression().get_params()["penalty"] == "l2"  # scikit-learn < 1.8 needs penalty="elasticnet"
    return LogisticRegression(l1_ratio=0.5, solver="saga", max_iter=500, tol=1e-3, random_state=seed,
                              **({"penalty": "elasticnet"} if old else {}))


def _linear_svm_classifier(seed: int, threads: int):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    return CalibratedClassifierCV(LinearSVC(C=0.1, dual="auto", random_state=seed, max_iter=5000), cv=3,
                                  method="sigmoid")


def _scaled_target(factory: Factory) -> Factory:
    """The regressor fitted on the standardized target (MLP and SVM losses depend on its scale)."""
    def build(seed: int, threads: int):
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.preprocessing import StandardScaler

        return TransformedTargetRegressor(regressor=factory(seed, threads), transformer=StandardScaler())
    return build


# --------------------------------------------------------------------------------- search spaces
def _c(trial, task):
    return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True)}


def _alpha(trial, task):
    return {"alpha": trial.suggest_float("alpha", 1e-4, 1e2, log=True)}


def _enet(trial, task):
    if task == "regression":
        return {"alpha": trial.suggest_float("alpha", 1e-5, 1.0, log=True),
                "l1_ratio": trial.suggest_float("l1_ratio", 0.05, 0.95)}
    return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True), "l1_ratio": trial.suggest_float("l1_ratio", 0.05, 0.95)}


def _forest(trial, task):
    return {"n_estimators": trial.suggest_int("n_estimators", 100, 500, step=50),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
            "max_features": trial.suggest_float("max_features", 0.1, 1.0),
            "max_depth": trial.suggest_categorical("max_depth", [None, 8, 16])}


def _hgb(trial, task):
    return {"learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 64, log=True),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 100, log=True),
            "l2_regularization": trial.suggest_float("l2_regularization", 1e-3, 10.0, log=True)}


def _gb(trial, task):
    return {"learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_depth": trial.suggest_int("max_depth", 2, 6),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 50, log=True)}


def _catboost_space(trial, task):
    return {"learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "depth": trial.suggest_int("depth", 3, 8),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.5, 30.0, log=True),
            "one_hot_max_size": trial.suggest_categorical("one_hot_max_size", [2, 10, 32])}


def _knn(trial, task):
    return {"n_neighbors": trial.suggest_int("n_neighbors", 3, 100, log=True),
            "weights": trial.suggest_categorical("weights", ["uniform", "distance"])}


def _tree(trial, task):
    return {"max_depth": trial.suggest_int("max_depth", 2, 16),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 100, log=True)}


def _ada(trial, task):
    return {"n_estimators": trial.suggest_int("n_estimators", 25, 300, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 2.0, log=True)}


def _mlp(trial, task):
    width = trial.suggest_categorical("width", [32, 64, 128])
    params = {"hidden_layer_sizes": (width,) * trial.suggest_int("layers", 1, 2),
              "alpha": trial.suggest_float("alpha", 1e-5, 1e-1, log=True),
              "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-4, 1e-2, log=True)}
    return {f"regressor__{k}": v for k, v in params.items()} if task == "regression" else params


def _svm(trial, task):
    key = "regressor__C" if task == "regression" else "estimator__C"
    return {key: trial.suggest_float("C", 1e-3, 1e2, log=True)}


def _nb(trial, task):
    return {"var_smoothing": trial.suggest_float("var_smoothing", 1e-12, 1e-1, log=True)}


def _lda(trial, task):
    return {"shrinkage": trial.suggest_float("shrinkage", 1e-4, 1.0, log=True)}


_ES = dict(early_stopping=True, validation_fraction=0.15, n_iter_no_change=20)
_GB_ES = dict(n_estimators=500, learning_rate=0.1, n_iter_no_change=20, validation_fraction=0.15, max_depth=3)
_MLP = dict(hidden_layer_sizes=(64,), alpha=1e-3, early_stopping=True, validation_fraction=0.15, max_iter=300,
            n_iter_no_change=15)
_SK = "sklearn."

_ZOO = [
    ModelSpec("dummy", "baseline: the class prior / the training mean", _sk(_sklearn(_SK + "dummy.DummyClassifier",
              strategy="prior"), scale=False), 0.05, _sk(_sklearn(_SK + "dummy.DummyRegressor"), scale=False),
              fast=True),
    ModelSpec("logreg", "logistic regression, L2 (one-hot + scaled numerics)",
              _sk(_sklearn(_SK + "linear_model.LogisticRegression", C=1.0, max_iter=2000)), 0.3, None, True, _c),
    ModelSpec("random_forest", "random forest, 200 trees", _sk(_sklearn(_SK + "ensemble.RandomForestClassifier",
              n_estimators=200, min_samples_leaf=5, max_features="sqrt"), scale=False), 3.0,
              _sk(_sklearn(_SK + "ensemble.RandomForestRegressor", n_estimators=200, min_samples_leaf=2,
                           max_features=0.33), scale=False), space=_forest),
    ModelSpec("hist_gb", "histogram gradient boosting, early stopping on an inner 15% split",
              _sk(_sklearn(_SK + "ensemble.HistGradientBoostingClassifier", learning_rate=0.1, max_iter=500,
                           max_leaf_nodes=15, l2_regularization=1.0, **_ES), scale=False), 1.0,
              _sk(_sklearn(_SK + "ensemble.HistGradientBoostingRegressor", learning_rate=0.1, max_iter=500,
                           max_leaf_nodes=15, l2_regularization=1.0, **_ES), scale=False), True, _hgb),
    ModelSpec("catboost", "CatBoost: categoricals native (one-hot up to 25 levels, regressor 255); "
              "classifier: early stopping on an inner split",
              _cb_classifier, 2.5, _cb_regressor, True, _catboost_space),
    ModelSpec("linear", "ordinary least squares (one-hot + scaled numerics)", None, 0.2,
              _sk(_sklearn(_SK + "linear_model.LinearRegression")), True),
    ModelSpec("ridge", "ridge regression, alpha 1", None, 0.2, _sk(_sklearn(_SK + "linear_model.Ridge", alpha=1.0)),
              True, _alpha),
    ModelSpec("lasso", "lasso, alpha 1e-3", None, 0.5,
              _sk(_sklearn(_SK + "linear_model.Lasso", alpha=1e-3, max_iter=5000)), True, _alpha),
    ModelSpec("elastic_net", "elastic net (logistic with the saga solver for classification)",
              _sk(_elastic_logreg), 1.0,
              _sk(_sklearn(_SK + "linear_model.ElasticNet", alpha=1e-3, l1_ratio=0.5, max_iter=5000)), True, _enet),
    ModelSpec("huber", "Huber regression (robust to outliers)", None, 0.5,
              _sk(_sklearn(_SK + "linear_model.HuberRegressor", max_iter=1000)), True, _alpha),
    ModelSpec("bayesian_ridge", "Bayesian ridge regression", None, 0.3,
              _sk(_sklearn(_SK + "linear_model.BayesianRidge")), True),
    ModelSpec("lda", "linear discriminant analysis (lsqr, Ledoit-Wolf shrinkage)",
              _sk(_sklearn(_SK + "discriminant_analysis.LinearDiscriminantAnalysis", solver="lsqr",
                           shrinkage="auto")), 0.3, None, True, _lda),
    ModelSpec("naive_bayes", "Gaussian naive Bayes", _sk(_sklearn(_SK + "naive_bayes.GaussianNB")), 0.1, None, True,
              _nb),
    ModelSpec("linear_svm", "linear SVM (classification: Platt-calibrated on 3 inner folds)",
              _sk(_linear_svm_classifier), 1.0, _sk(_scaled_target(_sklearn(_SK + "svm.LinearSVR", C=1.0, dual="auto",
                                                                            max_iter=5000))), True, _svm),
    ModelSpec("knn", "k nearest neighbours, k=25, distance-weighted",
              _sk(_sklearn(_SK + "neighbors.KNeighborsClassifier", n_neighbors=25, weights="distance")), 0.8,
              _sk(_sklearn(_SK + "neighbors.KNeighborsRegressor", n_neighbors=10, weights="distance")), False, _knn),
    ModelSpec("decision_tree", "decision tree, depth <= 8", _sk(_sklearn(_SK + "tree.DecisionTreeClassifier",
              max_depth=8, min_samples_leaf=10), scale=False), 0.2,
              _sk(_sklearn(_SK + "tree.DecisionTreeRegressor", max_depth=8, min_samples_leaf=10), scale=False),
              True, _tree),
    ModelSpec("extra_trees", "extremely randomized trees, 200 trees",
              _sk(_sklearn(_SK + "ensemble.ExtraTreesClassifier", n_estimators=200, min_samples_leaf=3,
                           max_features="sqrt"), scale=False), 3.0,
              _sk(_sklearn(_SK + "ensemble.ExtraTreesRegressor", n_estimators=200, min_samples_leaf=2,
                           max_features=0.33), scale=False), space=_forest),
    ModelSpec("gradient_boosting", "gradient boosting (depth 3), early stopping on an inner 15% split",
              _sk(_sklearn(_SK + "ensemble.GradientBoostingClassifier", **_GB_ES), scale=False), 2.0,
              _sk(_sklearn(_SK + "ensemble.GradientBoostingRegressor", **_GB_ES), scale=False), space=_gb),
    ModelSpec("adaboost", "AdaBoost on shallow trees, 100 rounds",
              _sk(_sklearn(_SK + "ensemble.AdaBoostClassifier", n_estimators=100, learning_rate=0.5), scale=False),
              1.5, _sk(_sklearn(_SK + "ensemble.AdaBoostRegressor", n_estimators=100, learning_rate=0.5),
                       scale=False), space=_ada),
    ModelSpec("mlp", "multi-layer perceptron, 64 units, early stopping",
              _sk(_sklearn(_SK + "neural_network.MLPClassifier", **_MLP)), 2.5,
              _sk(_scaled_target(_sklearn(_SK + "neural_network.MLPRegressor", **_MLP))), space=_mlp),
]
for _spec in _ZOO:
    REGISTRY.register(_spec.name, _spec)
