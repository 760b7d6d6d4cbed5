"""Tabular models: the registry (one shape, extensible by the ``workbench.tabular_models`` entry points),
shared preprocessing, the CatBoost wrapper, and the exact skops allow-list our pipelines need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from ..core.registry import Registry
from ..errors import ModelError

MISSING = "__missing__"
"""Category that stands for a missing value (CatBoost's native categoricals, the imputer's fill)."""

TIMES = {"fit_time": "fit time (s)", "predict_time": "predict time (s)"}

def make_preprocessor(numeric: Sequence[str], categorical: Sequence[str], scale: bool = True):
    """Impute (+ scale) numerics; impute and one-hot categoricals, tolerating unknown categories."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num_steps: list = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        num_steps.append(("scale", StandardScaler()))
    cat = Pipeline([("impute", SimpleImputer(strategy="constant", fill_value=MISSING)),
                    ("onehot", OneHotEncoder(handle_unknown="ignore", min_frequency=None, sparse_output=False))])
    return ColumnTransformer([("num", Pipeline(num_steps), list(numeric)), ("cat", cat, list(categorical))],
                             remainder="drop", verbose_feature_names_out=False)


class CatBoostFrameClassifier(ClassifierMixin, BaseEstimator):
    """CatBoost on a DataFrame with native categorical features (no one-hot).

    Object/string columns are passed as ``cat_features`` (missing values as a ``"__missing__"``
    category); numeric columns as they are (CatBoost handles NaN). Never writes ``catboost_info/``.
    """

    def __init__(self, iterations: int = 400, learning_rate: float = 0.06, depth: int = 6,
                 random_state: int | None = 0, thread_count: int = 1, cat_features: Sequence[str] | None = None):
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.depth = depth
        self.random_state = random_state
        self.thread_count = thread_count
        self.cat_features = cat_features

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X[self.feature_names_in_]
        out = X.copy()
        for c in self.cat_features_:
            out[c] = X[c].astype(object).where(X[c].notna(), MISSING).astype(str)
        return out

    def fit(self, X: pd.DataFrame, y: Any) -> "CatBoostFrameClassifier":
        from catboost import CatBoostClassifier

        if not isinstance(X, pd.DataFrame):
            raise ModelError(f"CatBoostFrameClassifier needs a DataFrame, got {type(X).__name__}")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.cat_features_ = list(self.cat_features) if self.cat_features is not None else [
            c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.model_ = CatBoostClassifier(
            iterations=self.iterations, learning_rate=self.learning_rate, depth=self.depth,
            random_seed=self.random_state, thread_count=self.thread_count, cat_features=self.cat_features_,
            allow_writing_files=False, verbose=0,
            loss_function="Logloss" if len(self.classes_) == 2 else "MultiClass")
        self.model_.fit(self._frame(X), y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = self.model_.predict_proba(self._frame(X))
        order = [list(self.model_.classes_).index(c) for c in self.classes_]
        return proba[:, order]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @property
    def feature_importances_(self) -> np.ndarray:
        return np.asarray(self.model_.get_feature_importance(), dtype=float)



# ----------------------------------------------------------------------------------- model registry
@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: how to build the estimator and a rough relative cost (for scheduling)."""

    name: str
    description: str
    build: Callable[[list[str], list[str], int, int], Any]
    cost: float = 1.0


def _sk(estimator_factory: Callable[[int, int], Any], scale: bool = True):
    def build(numeric, categorical, seed, threads):
        from sklearn.pipeline import Pipeline

        return Pipeline([("prep", make_preprocessor(numeric, categorical, scale=scale)),
                         ("model", estimator_factory(seed, threads))])
    return build


def _dummy(seed, threads):
    from sklearn.dummy import DummyClassifier
    return DummyClassifier(strategy="prior")


def _logreg(seed, threads):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(C=1.0, max_iter=2000, random_state=seed)


def _rf(seed, threads):
    from sklearn.ensemble import RandomForestClassifier
    return RandomForestClassifier(n_estimators=300, min_samples_leaf=3, max_features="sqrt", random_state=seed,
                                  n_jobs=threads)


def _hgb(seed, threads):
    from sklearn.ensemble import HistGradientBoostingClassifier
    return HistGradientBoostingClassifier(learning_rate=0.05, max_iter=300, max_leaf_nodes=15,
                                          l2_regularization=1.0, early_stopping=False, random_state=seed)


def _catboost(numeric, categorical, seed, threads):
    return CatBoostFrameClassifier(random_state=seed, thread_count=threads, cat_features=list(categorical))


_MODEL_ALIASES = {"rf": "random_forest", "randomforest": "random_forest", "hgb": "hist_gb",
                  "histgradientboosting": "hist_gb", "hist_gradient_boosting": "hist_gb", "lr": "logreg",
                  "logistic_regression": "logreg", "baseline": "dummy", "cb": "catboost"}
REGISTRY: Registry[ModelSpec] = Registry("model", "workbench.tabular_models", ModelError, aliases=_MODEL_ALIASES)
for _spec in [
    ModelSpec("dummy", "baseline: predicts the class prior", _sk(_dummy, scale=False), 0.05),
    ModelSpec("logreg", "logistic regression (one-hot + scaled numerics)", _sk(_logreg), 0.3),
    ModelSpec("random_forest", "random forest, 300 trees", _sk(_rf, scale=False), 2.0),
    ModelSpec("hist_gb", "histogram gradient boosting, 300 iterations", _sk(_hgb, scale=False), 2.0),
    ModelSpec("catboost", "CatBoost, 400 iterations, native categoricals", _catboost, 6.0),
]:
    REGISTRY.register(_spec.name, _spec)
DEFAULT_MODELS = ["dummy", "logreg", "random_forest", "hist_gb", "catboost"]


def model_names() -> list[str]:
    """Names accepted by the ``models`` parameter."""
    return REGISTRY.names()


def validate_models(models: Sequence[str] | str | None) -> list[str]:
    """Registry names, aliases resolved and duplicates removed; unknown names raise :class:`ModelError`."""
    if models is None:
        return list(DEFAULT_MODELS)
    if isinstance(models, str):
        models = [m for m in re.split(r"[,\s]+", models.strip("[] ")) if m]
    if not models:
        raise ModelError(f"models is empty; expected a list of registry names, e.g. [logreg, catboost]; "
                         f"valid: {', '.join(model_names())}")
    out: list[str] = []
    unknown = []
    for m in models:
        if str(m) not in REGISTRY:
            unknown.append(str(m))
        elif REGISTRY.resolve(str(m)) not in out:
            out.append(REGISTRY.resolve(str(m)))
    if unknown:
        raise ModelError(f"unknown model name(s): {', '.join(map(repr, unknown))}; valid models: "
                         f"{', '.join(model_names())} (aliases: {', '.join(sorted(_MODEL_ALIASES))})")
    return out


def build_model(name: str, numeric: Sequence[str], categorical: Sequence[str], seed: int = 0,
                threads: int = 1) -> Any:
    """An unfitted estimator for registry entry ``name`` on these columns."""
    (key,) = validate_models([name])
    return REGISTRY.get(key).build(list(numeric), list(categorical), seed, threads)
