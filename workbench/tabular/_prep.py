"""Shared preprocessing of the scikit-learn pipelines, and fitting with class weights.

Numerics are imputed with the median (and standardized for the models that need it); categoricals
are imputed with a ``__missing__`` category and one-hot encoded, unseen categories tolerated.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

MISSING = "__missing__"
"""Category that stands for a missing value (CatBoost's native categoricals, the imputer's fill)."""


def make_preprocessor(numeric: Sequence[str], categorical: Sequence[str], scale: bool = True):
    """Impute (+ scale) numerics; impute and one-hot categoricals, tolerating unknown categories (scikit-learn's
    rare-category grouping is left out: it counts categories in Python and would cost seconds per fold)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num_steps: list = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        num_steps.append(("scale", StandardScaler()))
    cat = Pipeline([("impute", SimpleImputer(strategy="constant", fill_value=MISSING)),
                    ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False))])
    return ColumnTransformer([("num", Pipeline(num_steps), list(numeric)), ("cat", cat, list(categorical))],
                             remainder="drop", verbose_feature_names_out=False)


def final_step(estimator: Any) -> Any:
    """The model at the end of a pipeline (or the estimator itself)."""
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def set_final_params(estimator: Any, params: dict[str, Any]) -> Any:
    """``set_params`` on the final model of a pipeline (or on the estimator); returns ``estimator``."""
    if not params:
        return estimator
    if hasattr(estimator, "steps"):
        estimator.set_params(**{f"{estimator.steps[-1][0]}__{k}": v for k, v in params.items()})
    else:
        estimator.set_params(**params)
    return estimator


def weighting(estimator: Any, class_weight: str) -> str:
    """How ``class_weight`` reaches this estimator: ``class_weight``, ``sample weights``, ``unweighted
    (not supported)`` or ``none``."""
    from sklearn.utils.validation import has_fit_parameter

    if class_weight in (None, "none"):
        return "none"
    last = final_step(estimator)
    if "class_weight" in last.get_params():
        return "class_weight"
    if has_fit_parameter(last, "sample_weight"):
        return "sample weights"
    return "unweighted (not supported)"


def fit_weighted(estimator: Any, X: Any, y: np.ndarray, class_weight: str = "none") -> Any:
    """``estimator.fit(X, y)`` with classes weighted as asked (``none`` or ``balanced``)."""
    how = weighting(estimator, class_weight)
    if how == "class_weight":
        last = final_step(estimator)
        last.set_params(class_weight=class_weight)
        return estimator.fit(X, y)
    if how == "sample weights":
        from sklearn.utils.class_weight import compute_sample_weight

        w = compute_sample_weight(class_weight, y)
        key = f"{estimator.steps[-1][0]}__sample_weight" if hasattr(estimator, "steps") else "sample_weight"
        return estimator.fit(X, y, **{key: w})
    return estimator.fit(X, y)
