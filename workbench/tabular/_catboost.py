"""CatBoost on a DataFrame: native categoricals (one-hot for the low-cardinality ones), early stopping
on an inner split of the training rows, no files written."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from ..errors import ModelError
from ._prep import MISSING


class _CatBoostFrame(BaseEstimator):
    """Object/string columns are passed as ``cat_features`` (missing values as a ``"__missing__"``
    category; columns with at most ``one_hot_max_size`` categories one-hot encoded by CatBoost, the rest
    with its ordered target statistics); numeric columns as they are (CatBoost handles NaN), quantized into
    ``border_count`` bins (None: CatBoost's default, 254).

    With ``early_stopping_rounds``, ``validation_fraction`` of the training rows (stratified for a
    classifier) are held out, training stops when their loss has not improved for that many rounds, and
    the best iteration is kept. Never writes ``catboost_info/``.
    """

    _classifier = True
    border_count: int | None = None  # a model saved before this parameter existed reads it from the class

    def __init__(self, iterations: int = 1000, learning_rate: float = 0.08, depth: int = 6, l2_leaf_reg: float = 3.0,
                 one_hot_max_size: int = 25, early_stopping_rounds: int | None = 50, validation_fraction: float = 0.15,
                 random_state: int | None = 0, thread_count: int = 1, cat_features: Sequence[str] | None = None,
                 class_weight: str | None = None, border_count: int | None = None):
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.one_hot_max_size = one_hot_max_size
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.thread_count = thread_count
        self.cat_features = cat_features
        self.class_weight = class_weight
        self.border_count = border_count

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X[self.feature_names_in_]
        out = X.copy()
        for c in self.cat_features_:
            out[c] = X[c].astype(object).where(X[c].notna(), MISSING).astype(str)
        return out

    def _model(self, n_classes: int):
        from catboost import CatBoostClassifier, CatBoostRegressor

        kw: dict[str, Any] = dict(iterations=self.iterations, learning_rate=self.learning_rate, depth=self.depth,
                                  l2_leaf_reg=self.l2_leaf_reg, one_hot_max_size=self.one_hot_max_size,
                                  random_seed=self.random_state, thread_count=self.thread_count,
                                  cat_features=self.cat_features_, allow_writing_files=False, verbose=0)
        if self.border_count:  # None: CatBoost's default (254 bins per numeric feature)
            kw["border_count"] = self.border_count
        if not self._classifier:
            return CatBoostRegressor(loss_function="RMSE", **kw)
        if self.class_weight == "balanced":
            kw["auto_class_weights"] = "Balanced"
        return CatBoostClassifier(loss_function="Logloss" if n_classes == 2 else "MultiClass", **kw)

    def fit(self, X: pd.DataFrame, y: Any) -> "_CatBoostFrame":
        if not isinstance(X, pd.DataFrame):
            raise ModelError(f"{type(self).__name__} needs a DataFrame, got {type(X).__name__}")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.cat_features_ = list(self.cat_features) if self.cat_features is not None else [
            c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
        y = np.asarray(y)
        if self._classifier:
            self.classes_ = np.unique(y)
        self.model_ = self._model(len(self.classes_) if self._classifier else 0)
        Xf = self._frame(X)
        inner = self._inner_split(y)
        if inner is None:
            self.model_.fit(Xf, y)
        else:
            a, b = inner
            self.model_.set_params(early_stopping_rounds=self.early_stopping_rounds)
            self.model_.fit(Xf.iloc[a], y[a], eval_set=(Xf.iloc[b], y[b]), use_best_model=True)
        self.n_iterations_ = int(self.model_.tree_count_)
        return self

    def _inner_split(self, y: np.ndarray):
        from sklearn.model_selection import train_test_split

        if not self.early_stopping_rounds or not self.validation_fraction or len(y) < 200:
            return None
        strat = y if self._classifier and np.unique(y, return_counts=True)[1].min() >= 2 else None
        return train_test_split(np.arange(len(y)), test_size=self.validation_fraction, random_state=self.random_state,
                                stratify=strat)

    @property
    def feature_importances_(self) -> np.ndarray:
        return np.asarray(self.model_.get_feature_importance(), dtype=float)


class CatBoostFrameClassifier(ClassifierMixin, _CatBoostFrame):
    __doc__ = "CatBoost classifier on a DataFrame. " + (_CatBoostFrame.__doc__ or "")

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = self.model_.predict_proba(self._frame(X))
        order = [list(self.model_.classes_).index(c) for c in self.classes_]
        return proba[:, order]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class CatBoostFrameRegressor(RegressorMixin, _CatBoostFrame):
    __doc__ = "CatBoost regressor (RMSE) on a DataFrame. " + (_CatBoostFrame.__doc__ or "")
    _classifier = False

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model_.predict(self._frame(X)), dtype=float)
